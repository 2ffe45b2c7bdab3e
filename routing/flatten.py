""" "Flatten and pause": the panic button. Under the route's lease, so no alert of the route runs meanwhile:

1. pause the route (new alerts are skipped as `route_disabled` from now on, whatever happens next);
2. cancel the route's resting strategy orders;
3. close the route's position with one reduce-only market order, recorded before it is sent (client order id
   minted before the call), sized from the exchange's own position;
4. bring the worst-case stop in line (removed once flat; kept for whatever is left if the close did not fill).

Every step is a `RouteEvent` with who and when. A close whose outcome is unknown (timeout, 5xx) is `unknown`,
never a failure: it is looked up and settled by reconciliation like any other order, and is never re-sent blindly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.models import CredentialsUnreadable, User
from audit.models import Order, RouteEvent
from audit.order_states import OrderState
from exchanges.base import Exchange, OrderRequest, OrderType, Side
from exchanges.connect import exchange_for
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected
from routing import lease, orders, protection
from routing.domain import number_text
from routing.models import Route
from routing.route_changes import record, set_enabled

RESTING = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)


@dataclass
class FlattenResult:
    outcome: str  # "flat", "closing" (sent, fill pending or unknown), "failed", "busy"
    steps: list[str] = field(default_factory=list)
    close_order: Order | None = None

    def step(self, route: Route, kind: str, text: str, *, actor: User | None, now: datetime) -> None:
        self.steps.append(text)
        record(route, kind, actor=actor, now=now, detail=text)


def flatten_and_pause(
    route: Route, *, actor: User | None, clock: Callable[[], datetime] = timezone.now
) -> FlattenResult:
    result = FlattenResult(outcome="failed")
    record(route, RouteEvent.Kind.FLATTEN_REQUESTED, actor=actor, now=clock())
    with lease.held(route.pk, clock()) as held:
        if held is None:
            result.outcome = "busy"
            result.step(
                route,
                RouteEvent.Kind.NOTE,
                "The route is processing an alert right now; nothing was changed. Try again in a few seconds.",
                actor=actor,
                now=clock(),
            )
            return result
        _run(route, result, held, actor=actor, clock=clock)
    return result


def _run(
    route: Route, result: FlattenResult, held: lease.Lease, *, actor: User | None, clock: Callable[[], datetime]
) -> None:
    set_enabled(route=route, enabled=False, actor=actor, now=clock(), detail="flatten and pause")
    result.steps.append("Route paused: new alerts are skipped.")
    account = route.exchange_account
    if account is None:
        result.outcome = "flat"
        result.step(
            route, RouteEvent.Kind.NOTE, "No exchange account: nothing to cancel or close.", actor=actor, now=clock()
        )
        return
    try:
        exchange = exchange_for(account)
    except CredentialsUnreadable:
        result.step(
            route,
            RouteEvent.Kind.NOTE,
            "The exchange key cannot be read, so orders could not be cancelled nor the position closed. Close it on "
            "Kraken directly.",
            actor=actor,
            now=clock(),
        )
        return
    _cancel_resting(route, exchange, result, actor=actor, clock=clock)
    _close_position(route, exchange, result, held, actor=actor, clock=clock)
    protection.ensure_stop(route, exchange, held=held, clock=clock)


def _cancel_resting(
    route: Route, exchange: Exchange, result: FlattenResult, *, actor: User | None, clock: Callable[[], datetime]
) -> None:
    resting = list(Order.objects.filter(route=route, purpose=Order.Purpose.STRATEGY, state__in=RESTING))
    cancelled, left = 0, []
    for order in resting:
        try:
            answer = exchange.cancel_order(
                exchange_order_id=order.exchange_order_id or None, client_order_id=order.client_order_id
            )
        except ExchangeError as exc:
            left.append(f"{order.client_order_id} ({type(exc).__name__})")
            continue
        if answer.cancelled:
            orders.transition(order, OrderState.CANCELLED, cause="flatten and pause", now=clock())
            cancelled += 1
        else:
            left.append(f"{order.client_order_id} ({answer.status})")  # filled meanwhile: reconciliation records it
    text = f"{cancelled} resting order(s) cancelled." if resting else "No resting orders to cancel."
    if left:
        text += " Not cancelled: " + ", ".join(left) + "."
    result.step(route, RouteEvent.Kind.ORDERS_CANCELLED, text, actor=actor, now=clock())


def _close_position(
    route: Route,
    exchange: Exchange,
    result: FlattenResult,
    held: lease.Lease,
    *,
    actor: User | None,
    clock: Callable[[], datetime],
) -> None:
    if (
        Route.objects.filter(exchange_account_id=route.exchange_account_id, symbol=route.symbol, enabled=True)
        .exclude(pk=route.pk)
        .exists()
    ):
        # One net position per instrument per account: it belongs to the enabled route now, not to this one.
        result.step(
            route,
            RouteEvent.Kind.NOTE,
            f"Another enabled route trades {route.symbol} on this account now; its position was left alone.",
            actor=actor,
            now=clock(),
        )
        return
    try:
        size = next((p.size for p in exchange.positions() if p.symbol == route.symbol), Decimal(0))
    except ExchangeError as exc:
        result.step(
            route,
            RouteEvent.Kind.NOTE,
            f"The position could not be read ({type(exc).__name__}), so it was not closed. Try again, or close it on "
            "Kraken directly.",
            actor=actor,
            now=clock(),
        )
        return
    if not size:
        result.outcome = "flat"
        result.step(route, RouteEvent.Kind.POSITION_CLOSED, f"{route.symbol}: already flat.", actor=actor, now=clock())
        return
    side = Side.SELL if size > 0 else Side.BUY
    order = orders.create_order(
        route=route,
        decision=None,
        leg=0,
        purpose=Order.Purpose.FLATTEN,
        request=OrderRequest(
            symbol=route.symbol,
            side=side,
            size=abs(size),
            order_type=OrderType.MARKET,
            client_order_id="",  # minted inside create_order, before anything is sent
            reduce_only=True,
        ),
        now=clock(),
    )
    result.close_order = order
    what = f"{side.value} {_plain(abs(size))} {route.symbol} reduce-only ({order.client_order_id})"
    try:
        ack = orders.submit(order, exchange, lease=held, clock=clock)
    except orders.SubmitRaced:
        result.outcome = "closing"
        result.step(
            route, RouteEvent.Kind.NOTE, f"Close {what} is being sent by another process.", actor=actor, now=clock()
        )
        return
    except OrderRejected as exc:
        result.step(
            route,
            RouteEvent.Kind.NOTE,
            f"The exchange rejected the close {what}: {exc.status}. The position is still open.",
            actor=actor,
            now=clock(),
        )
        return
    except AmbiguousOutcome:
        result.outcome = "closing"
        result.step(
            route,
            RouteEvent.Kind.NOTE,
            f"Close {what} sent; the exchange did not answer clearly, so its outcome is unknown. It is being looked "
            "up by its client order id and will never be sent twice.",
            actor=actor,
            now=clock(),
        )
        return
    except ExchangeError as exc:
        result.step(
            route,
            RouteEvent.Kind.NOTE,
            f"The close {what} was not sent ({type(exc).__name__}). The position is still open.",
            actor=actor,
            now=clock(),
        )
        return
    filled = ack.filled_size
    result.outcome = "flat" if filled >= abs(size) else "closing"
    result.step(
        route,
        RouteEvent.Kind.POSITION_CLOSED,
        f"Close {what}: filled {_plain(filled)} of {_plain(abs(size))}.",
        actor=actor,
        now=clock(),
    )


_plain = number_text
