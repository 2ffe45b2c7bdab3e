"""After the first placement attempt: settling orders whose outcome we do not know.

An order is `unknown` after a timeout, reset, 5xx or garbage reply, or stays `pending_submit` when a worker died
around the call. Either way it is looked up by client order id (order status, open orders, fills, order history -
the adapter's `find_order`). Every attempt carries a deadline (processBefore), so once it has passed with no trace
the order was never placed and never will be: only then, after the lookup window, and only if it is still what the
route wants (no newer alert decided, the alert within its maximum age), is it sent again - once, with the same
client order id. The re-send's safety rests on the deadline, not on the venue refusing a reused client order id.
Never a blind retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from audit.models import Alert, Attention, Decision, Order
from audit.order_states import TERMINAL, OrderState
from audit.reasons import Reason
from exchanges import base
from exchanges.base import Exchange, OrderStatus
from exchanges.errors import ExchangeError
from routing import orders, outcome
from routing.attention import raise_attention
from routing.lease import Lease

logger = logging.getLogger(__name__)


def lookup_window() -> timedelta:
    """How long an order may be in flight before "no trace" means "never arrived": longer than the adapter's
    connect + read timeout, so an attempt still waiting for its answer is never taken for a lost one."""
    return timedelta(seconds=settings.ORDER_LOOKUP_WINDOW_SECONDS)


MAX_SUBMIT_ATTEMPTS = 2  # the first attempt and the one re-send

_STATE_FROM_EXCHANGE: dict[base.OrderState, OrderState] = {
    base.OrderState.OPEN: OrderState.OPEN,
    base.OrderState.PARTIALLY_FILLED: OrderState.PARTIALLY_FILLED,
    base.OrderState.FILLED: OrderState.FILLED,
    base.OrderState.CANCELLED: OrderState.CANCELLED,
    base.OrderState.REJECTED: OrderState.REJECTED,
}


@dataclass(frozen=True)
class Resolution:
    order_id: int
    outcome: str  # "adopted", "resent", "waiting", "expired", "attention", "unchanged"


def can_still_land(order: Order, now: datetime) -> bool:
    """Whether an attempt of this order may still be acted on by the exchange: its deadline (processBefore) has not
    passed yet, with a margin for the difference between our clock and the venue's."""
    if order.submit_attempts == 0 or order.last_attempt_at is None:
        return False  # never sent: nothing of it is travelling
    margin = timedelta(seconds=settings.ORDER_DEADLINE_SECONDS + settings.CLOCK_SKEW_SECONDS)
    return now < order.last_attempt_at + margin


def resolve(
    order: Order,
    exchange: Exchange,
    *,
    held: Lease,
    clock: Callable[[], datetime] = timezone.now,
    newer_decision_coming: bool = False,
) -> Resolution:
    """Settle one `unknown` or `pending_submit` order as far as the exchange allows right now.

    Found on the exchange: adopted. No trace while an attempt may still land: wait. No trace and nothing can land
    any more: it was never placed - sent once more (same client order id) only if it is still what the route wants,
    i.e. no newer alert of the route was decided (or is being decided: `newer_decision_coming`) and the alert is
    within its maximum age; otherwise closed as never placed, its decision saying why. Stops are never re-sent:
    the stop upkeep places a fresh one for the position as it is.
    """
    if order.state not in (OrderState.UNKNOWN, OrderState.PENDING_SUBMIT):
        return Resolution(order.pk, "unchanged")
    now = clock()
    try:
        status = exchange.find_order(order.client_order_id or "")
    except ExchangeError as exc:
        # Could not look: nothing is decided on a failed read. The next sweep tries again.
        logger.info("order %s: lookup failed (%s), will retry", order.client_order_id, type(exc).__name__)
        return Resolution(order.pk, "waiting")
    if status is not None:
        apply_status(order, status, now=now, cause="found by client order id")
        outcome.follow_order(order)
        return Resolution(order.pk, "adopted")
    if can_still_land(order, now):
        return Resolution(order.pk, "waiting")

    # From here the exchange can no longer act on any attempt: the order was never placed.
    last = order.last_attempt_at or order.created_at
    if order.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
        if now - last < lookup_window():
            return Resolution(order.pk, "waiting")
        orders.transition(
            order,
            OrderState.NEEDS_ATTENTION,
            cause=f"no trace on the exchange after {order.submit_attempts} attempts; not sending again",
            now=now,
        )
        raise_attention(
            kind=Attention.Kind.ORDER_UNRESOLVED,
            route=order.route,
            order=order,
            detail=f"Order {order.client_order_id} ({order.side} {order.size} {order.symbol}) could not be confirmed "
            "on the exchange after two attempts. Check it on Kraken; OrderRail will not send it again.",
            now=now,
        )
        return Resolution(order.pk, "attention")
    refusal = _resend_refused(order, now, newer_decision_coming=newer_decision_coming)
    if refusal is not None:
        reason, why = refusal
        if (
            orders.transition(
                order,
                OrderState.REJECTED,
                cause=f"never placed; not sent again: {why}",
                now=now,
                venue_status="not_placed",
            )
            and order.decision_id is not None
            and reason is not None
        ):
            outcome.settle(order.decision_id, reason, detail=why)
        return Resolution(order.pk, "expired")
    if now - last < lookup_window():
        return Resolution(order.pk, "waiting")
    return _resend(order, exchange, held=held, clock=clock, now=now)


def _resend_refused(order: Order, now: datetime, *, newer_decision_coming: bool) -> tuple[Reason | None, str] | None:
    """Why a never-placed order must not be sent again (its decision's new reason, and the words), or None."""
    if order.purpose == Order.Purpose.WORST_CASE_STOP:
        return None, "the stop upkeep places a fresh stop for the position as it is"
    if order.decision_id is None:
        return None
    if newer_decision_coming or (
        Decision.objects.filter(route_id=order.route_id, pk__gt=order.decision_id, alert__status=Alert.Status.DECIDED)
        .exclude(reason=Reason.SUPERSEDED)
        .exists()
    ):
        return Reason.SUPERSEDED, "a newer alert of the route was decided after it"
    fired_at = order.decision.alert.fired_at if order.decision and order.decision.alert else None
    max_age = timedelta(seconds=order.route.max_alert_age_seconds)
    if fired_at is not None and now - fired_at > max_age:
        return (
            Reason.STALE_ALERT,
            f"its alert is older than the route's maximum age ({order.route.max_alert_age_seconds} s)",
        )
    return None


def _resend(
    order: Order, exchange: Exchange, *, held: Lease, clock: Callable[[], datetime], now: datetime
) -> Resolution:
    if order.state == OrderState.UNKNOWN and not orders.transition(
        order,
        OrderState.PENDING_SUBMIT,
        cause=f"no trace after {lookup_window().seconds} s: sending once more with the same client order id",
        now=now,
    ):
        return Resolution(order.pk, "unchanged")  # someone else moved it first
    try:
        orders.submit(order, exchange, lease=held, clock=clock)
    except orders.SubmitRaced:
        return Resolution(order.pk, "unchanged")
    except ExchangeError:
        # Unclear again (or clientOrderIdAlreadyExist: the first attempt landed after all) - look it up later; a
        # definitive refusal is on the order now.
        outcome.follow_order(order)
        return Resolution(order.pk, "resent")
    outcome.follow_order(order)
    return Resolution(order.pk, "resent")


def apply_status(order: Order, status: OrderStatus, *, now: datetime, cause: str) -> None:
    """Bring our order to what the exchange says it is."""
    target = _STATE_FROM_EXCHANGE[status.state]
    fields = {
        "exchange_order_id": status.exchange_order_id or order.exchange_order_id,
        "filled_size": max(status.filled_size, order.filled_size),
        "venue_status": (status.venue_status or status.state.value)[:80],
    }
    if target == order.state and fields["filled_size"] == order.filled_size:
        return
    if order.state in TERMINAL and target == order.state:
        return
    orders.transition(
        order, target, cause=f"{cause}: {status.state.value}, filled {status.filled_size}", now=now, **fields
    )
