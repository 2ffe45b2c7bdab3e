"""The last-resort worst-case stop: for every open position of a route, exactly one resting reduce-only stop on the
exchange for the full size at the route's worst-case distance from the entry; none when flat.

It is a safety net, not part of the strategy: the strategy's own exits are never touched, and the stop is marked
`worst_case_stop` so traders and support see it apart from strategy orders. When the position changes (fill,
partial fill, add, reduce, reversal) the new stop is placed *before* the old one is cancelled, so the position is
never unprotected; two reduce-only stops can never flip the position even if both trigger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils import timezone

from audit.models import Attention, Order
from audit.order_states import OrderState
from exchanges.base import Exchange, OrderRequest, OrderType, Side
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected
from routing import orders
from routing.attention import raise_attention
from routing.models import Route
from routing.snapshot import instrument_spec

logger = logging.getLogger(__name__)

LIVE_STOP_STATES = (OrderState.PENDING_SUBMIT, OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.UNKNOWN)


@dataclass(frozen=True)
class StopPlan:
    side: Side
    size: Decimal
    stop_price: Decimal


def plan_stop(position: Decimal, entry: Decimal, distance_pct: Decimal, tick: Decimal) -> StopPlan | None:
    """Pure: the stop a position needs. Rounded to the tick *toward* the entry, so the loss it allows never exceeds
    the configured distance."""
    if not position or entry <= 0 or distance_pct <= 0:
        return None
    fraction = distance_pct / Decimal(100)
    if position > 0:
        raw, rounding, side = entry * (1 - fraction), ROUND_CEILING, Side.SELL
    else:
        raw, rounding, side = entry * (1 + fraction), ROUND_FLOOR, Side.BUY
    price = (raw / tick).to_integral_value(rounding=rounding) * tick
    if price <= 0:
        return None
    return StopPlan(side=side, size=abs(position), stop_price=price)


def live_stops(route: Route) -> list[Order]:
    return list(
        Order.objects.filter(route=route, purpose=Order.Purpose.WORST_CASE_STOP, state__in=LIVE_STOP_STATES).order_by(
            "pk"
        )
    )


def ensure_stop(route: Route, exchange: Exchange, *, clock: Callable[[], datetime] = timezone.now) -> str:
    """Make the exchange hold exactly the stop the route's position needs. Returns what it did, for the log."""
    current = live_stops(route)
    if not route.worst_case_stop_pct and not current:
        return "no worst-case stop configured"
    try:
        position = next((p for p in exchange.positions() if p.symbol == route.symbol), None)
        spec = instrument_spec(exchange, route.exchange_account, route.symbol) if route.exchange_account else None
    except ExchangeError as exc:
        return f"could not read the position ({type(exc).__name__}); stop left as it is"
    tick = spec.tick_size if spec else None
    size = position.size if position else Decimal(0)
    plan = (
        plan_stop(size, position.average_price, route.worst_case_stop_pct, tick)
        if position and route.worst_case_stop_pct and tick
        else None
    )
    matching = [o for o in current if plan and _matches(o, plan)]
    if plan is not None and len(matching) == 1 and len(current) == 1:
        return "stop in place"
    if plan is not None and not matching:
        placed = _place(route, plan, exchange, clock=clock)
        if placed is None:
            return "stop could not be placed"
        matching = [placed]
    keep = matching[0] if matching else None
    for order in current:
        if order is not keep:
            _cancel(order, exchange, now=clock())
    return "stop replaced" if plan else ("stop removed" if current else "flat, no stop")


def _matches(order: Order, plan: StopPlan) -> bool:
    return order.side == plan.side.value and order.size == plan.size and order.stop_price == plan.stop_price


def _place(route: Route, plan: StopPlan, exchange: Exchange, *, clock: Callable[[], datetime]) -> Order | None:
    now = clock()
    order = orders.create_order(
        route=route,
        decision=None,
        leg=0,
        purpose=Order.Purpose.WORST_CASE_STOP,
        request=OrderRequest(
            symbol=route.symbol,
            side=plan.side,
            size=plan.size,
            order_type=OrderType.STOP,
            client_order_id="",
            stop_price=plan.stop_price,
            # Mark on REST; the Unified WebSocket offers only index and last: each transport says which it uses,
            # and the order row records it for the trader.
            trigger_signal=exchange.capabilities.stop_trigger_signal,
            reduce_only=True,
        ),
        now=now,
    )
    try:
        orders.submit(order, exchange, clock=clock)
    except AmbiguousOutcome:
        return order  # resolved by lookup like any order; meanwhile the old stop stays
    except (OrderRejected, ExchangeError) as exc:
        raise_attention(
            kind=Attention.Kind.STOP_FAILED,
            route=route,
            order=order,
            detail=f"The worst-case stop for {route.symbol} ({plan.side.value} {plan.size} at {plan.stop_price}) "
            f"could not be placed: {exc.venue_code or type(exc).__name__}. The position may be unprotected.",
            now=clock(),
        )
        return None
    return order


def _cancel(order: Order, exchange: Exchange, *, now: datetime) -> None:
    if order.state == OrderState.PENDING_SUBMIT and order.submit_attempts == 0:
        orders.transition(order, OrderState.REJECTED, cause="superseded before it was sent", now=now)
        return
    try:
        result = exchange.cancel_order(client_order_id=order.client_order_id)
    except ExchangeError as exc:
        logger.info("stop %s: cancel failed (%s); next upkeep retries", order.client_order_id, type(exc).__name__)
        return
    if result.status == "filled":
        return  # it triggered; reconciliation records the fills and the attention item
    if order.state == OrderState.UNKNOWN:
        orders.transition(
            order, OrderState.NEEDS_ATTENTION, cause=f"cancel of an unresolved stop: {result.status}", now=now
        )
        return
    orders.transition(order, OrderState.CANCELLED, cause=f"superseded worst-case stop ({result.status})", now=now)
