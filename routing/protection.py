"""The last-resort worst-case stop's upkeep: for every open position of a route, exactly one resting reduce-only
stop on the exchange for the full size at the route's worst-case distance from the entry; none when flat.

It is a safety net, not part of the strategy: the strategy's own exits are never touched, and the stop is marked
`worst_case_stop` so traders and support see it apart from strategy orders. The rules, each for a way a position
was once left bare:
- A confirmed stop is moved in place (`edit_order`: one order, no gap, no double margin). Where it cannot be, the
  replacement is placed first and the old stop cancelled only once the replacement is confirmed resting - an
  ambiguous replacement never costs the confirmed stop.
- Unknown is not flat: when the position is open and an input of the plan is missing (the instrument spec, the
  position itself), the resting stop is left alone and a person is told.
- A level already through the price it triggers on is not placed blindly: see routing/stop_plan.py.
- It triggers on the signal its transport supports (`capabilities.stop_trigger_signal`: mark on REST, index on the
  Unified WebSocket, which has no mark trigger); the trader sees which.
- One route owns an instrument's stop on an account: the enabled one; a disabled route only winds its stops down.
- A stop that keeps failing is one attention item and one e-mail, not one per attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.utils import timezone

from audit.models import Attention, Order, OrderEvent
from audit.order_states import OrderState
from exchanges.base import Exchange, OrderRequest, OrderStatus, OrderType, Position, Ticker, TriggerSignal
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected
from orderrail.statements import insert
from routing import lifecycle, orders, selectors
from routing.attention import raise_attention, resolve_open
from routing.domain import number_text
from routing.lease import Lease
from routing.models import Route
from routing.snapshot import instrument_spec, read_all, value_of
from routing.stop_plan import StopPlan, plan_stop

logger = logging.getLogger(__name__)

RESTING = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)


def ensure_stop(
    route: Route,
    exchange: Exchange,
    *,
    held: Lease,
    clock: Callable[[], datetime] = timezone.now,
    positions: list[Position] | None = None,
) -> str:
    """Make the exchange hold exactly the stop the route's position needs. Returns what it did, for the log.

    `positions`: the account's positions as the caller just read them under this lease (reconciliation reads them
    for its drift check; one read instead of two per account); None reads them here."""
    current = selectors.live_stops(route)
    if not route.worst_case_stop_pct and not current:
        return "no worst-case stop configured"
    if not selectors.owns_position(route):
        for order in current:
            _cancel(order, exchange, held=held, now=clock())
        return "not this route's position: stops wound down" if current else "not this route's position"
    if any(o.state in selectors.IN_FLIGHT_STATES for o in current):
        return "a stop placement is unconfirmed; left as it is until it is resolved"
    ticker: object = None  # not read yet: `_trigger_price` reads it
    try:
        if (
            positions is None
            and route.worst_case_stop_pct
            and getattr(exchange.capabilities, "concurrent_reads", False)
        ):
            # The price the stop triggers on is needed whenever a position is open: read it with the position.
            got = read_all(exchange, {"positions": exchange.positions, "ticker": lambda: exchange.ticker(route.symbol)})
            ticker = got["ticker"]  # a Ticker, or the error its read raised (the stop is then placed as configured)
            positions = cast(list[Position], value_of(got["positions"]))
        listed = positions if positions is not None else exchange.positions()
        position = next((p for p in listed if p.symbol == route.symbol), None)
    except ExchangeError as exc:
        if current or selectors.implied_position(route):
            _unverified(route, f"the position could not be read ({type(exc).__name__})", clock())
        return f"could not read the position ({type(exc).__name__}); stop left as it is"
    if position is None or not position.size:
        for order in current:
            _cancel(order, exchange, held=held, now=clock())
        return "stop removed" if current else "flat, no stop"
    if not route.worst_case_stop_pct:
        return "no worst-case stop configured; existing stop left as it is"
    try:
        spec = instrument_spec(exchange, route.symbol)
    except ExchangeError as exc:
        spec = None
        logger.info("route %s: instrument list unavailable (%s)", route.pk, type(exc).__name__)
    if spec is None:
        _unverified(route, f"the instrument {route.symbol} could not be read", clock())
        return "instrument unknown; stop left as it is"
    plan = plan_stop(
        position.size,
        position.average_price,
        route.worst_case_stop_pct,
        spec.tick_size,
        _trigger_price(exchange, route, ticker),
    )
    if plan is None:
        _unverified(route, f"no stop level could be computed from entry {position.average_price}", clock())
        return "no stop level; stop left as it is"
    return _hold(route, plan, current, position, exchange, held=held, clock=clock)


def _hold(
    route: Route,
    plan: StopPlan,
    current: list[Order],
    position: Position,
    exchange: Exchange,
    *,
    held: Lease,
    clock: Callable[[], datetime],
) -> str:
    matching = [o for o in current if _matches(o, plan)]
    if len(matching) == 1 and len(current) == 1:
        _in_place(route, clock())
        return "stop in place"
    if len(current) == 1 and not matching and current[0].state in RESTING and current[0].side == plan.side.value:
        moved = _move(current[0], plan, exchange, now=clock())
        if moved:
            _placed(route, plan, position, clock())
            return "stop moved in place"
    keep = matching[0] if matching else _place(route, plan, exchange, held=held, clock=clock)
    if keep is None:
        return "stop could not be placed; existing stop left as it is"
    if keep.state not in RESTING:
        return "replacement stop unconfirmed; the old stop stays until it is"
    for order in current:
        if order.pk != keep.pk:
            _cancel(order, exchange, held=held, now=clock())
    _placed(route, plan, position, clock())
    return "stop replaced"


def _trigger_price(exchange: Exchange, route: Route, read: object = None) -> Decimal | None:
    """The price the stop triggers on, on this transport (mark on REST; index or last on the Unified WebSocket).
    `read`: the ticker (or the error) read with the position, if it was."""
    try:
        ticker = read if isinstance(read, Ticker) else exchange.ticker(route.symbol) if read is None else value_of(read)
    except ExchangeError:
        return None  # the plan is placed as configured; a level already through the price would then trigger at once
    signal = exchange.capabilities.stop_trigger_signal
    if signal is TriggerSignal.INDEX:
        return ticker.index_price
    if signal is TriggerSignal.LAST:
        return ticker.last_price
    return ticker.mark_price


def _matches(order: Order, plan: StopPlan) -> bool:
    return order.side == plan.side.value and order.size == plan.size and order.stop_price == plan.stop_price


def _move(order: Order, plan: StopPlan, exchange: Exchange, *, now: datetime) -> bool:
    """Edit the resting stop to the plan. False when it could not be moved (then a replacement is placed)."""
    try:
        ack = exchange.edit_order(
            client_order_id=order.client_order_id,
            size=plan.size,
            stop_price=plan.stop_price,
            process_before=orders.deadline(now),
        )
    except (NotImplementedError, AttributeError):
        return False
    except AmbiguousOutcome:
        return True  # it may have applied: the next upkeep compares again (an edit to the same values is harmless)
    except OrderRejected as exc:
        logger.info("stop %s: edit refused (%s); replacing it", order.client_order_id, exc.status)
        status = _lookup(order, exchange)
        if status is not None:
            lifecycle.apply_status(order, status, now=now, cause=f"edit refused ({exc.status})")
        return False
    except ExchangeError:
        return False
    if ack.order is not None and ack.order.state.value not in ("open",):
        lifecycle.apply_status(order, ack.order, now=now, cause="moved in place")
    Order.objects.filter(pk=order.pk).update(size=plan.size, stop_price=plan.stop_price, updated_at=now)
    insert(
        OrderEvent(
            order=order,
            at=now,
            from_state=order.state,
            to_state=order.state,
            cause=f"moved in place: {plan.side.value} {number_text(plan.size)} at {number_text(plan.stop_price)}",
        )
    )
    return True


def _lookup(order: Order, exchange: Exchange) -> OrderStatus | None:
    try:
        return exchange.find_order(order.client_order_id or "")
    except ExchangeError:
        return None


def _place(
    route: Route, plan: StopPlan, exchange: Exchange, *, held: Lease, clock: Callable[[], datetime]
) -> Order | None:
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
        orders.submit(order, exchange, lease=held, clock=clock)
    except orders.SubmitRaced:
        return None
    except AmbiguousOutcome:
        return order  # resolved by lookup like any order; meanwhile the old stop stays
    except (OrderRejected, ExchangeError) as exc:
        raise_attention(
            kind=Attention.Kind.STOP_FAILED,
            route=route,
            detail=f"The worst-case stop for {route.symbol} ({plan.side.value} {number_text(plan.size)} at "
            f"{number_text(plan.stop_price)}) could not be placed: {exc.venue_code or type(exc).__name__}. "
            "Any earlier stop stays; the position may be unprotected. OrderRail keeps trying on every upkeep.",
            now=clock(),
        )
        return None
    return order


def _cancel(order: Order, exchange: Exchange, *, held: Lease, now: datetime) -> None:
    if order.state == OrderState.PENDING_SUBMIT and order.submit_attempts == 0:
        orders.transition(order, OrderState.REJECTED, cause="superseded before it was sent", now=now)
        return
    try:
        result = exchange.cancel_order(client_order_id=order.client_order_id, process_before=orders.deadline(now))
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


def _unverified(route: Route, why: str, now: datetime) -> None:
    raise_attention(
        kind=Attention.Kind.STOP_UNVERIFIED,
        route=route,
        detail=f"The worst-case stop of {route.name} ({route.symbol}) could not be checked: {why}. The resting stop "
        "is left as it is (an open position is never taken for flat); OrderRail checks again on every upkeep.",
        now=now,
    )


def _in_place(route: Route, now: datetime) -> None:
    resolve_open(
        kind=(Attention.Kind.STOP_FAILED, Attention.Kind.STOP_UNVERIFIED),
        route=route,
        now=now,
        note="the stop is in place",
    )


def _placed(route: Route, plan: StopPlan, position: Position, now: datetime) -> None:
    _in_place(route, now)
    if plan.clamped_from is not None:
        raise_attention(
            kind=Attention.Kind.STOP_FAILED,
            route=route,
            detail=f"The worst-case stop level {number_text(plan.clamped_from)} for {route.symbol} was already "
            f"through the mark price: the position (entry {number_text(position.average_price)}) has lost more than "
            f"the configured {number_text(route.worst_case_stop_pct or 0)}%. The stop was placed one tick from the "
            f"mark, at {number_text(plan.stop_price)}, and will close the position on the next adverse tick.",
            now=now,
        )
