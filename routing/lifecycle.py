"""After the first placement attempt: settling orders whose outcome we do not know.

An order is `unknown` after a timeout, reset, 5xx or garbage reply, or stays `pending_submit` when a worker died
around the call. Either way it is looked up by client order id (order status, open orders, fills, order history -
the adapter's `find_order`). Only when the exchange has no trace of it after the lookup window is it sent again -
once, with the same client order id, so a late landing of the first attempt makes the exchange refuse the second
(`clientOrderIdAlreadyExist`) instead of doubling the order. Never a blind retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from audit.models import Attention, Decision, Order
from audit.order_states import TERMINAL, OrderState
from audit.reasons import Reason, explain
from exchanges import base
from exchanges.base import Exchange, OrderStatus
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected
from routing import orders
from routing.attention import raise_attention

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
    outcome: str  # "adopted", "resent", "waiting", "attention", "unchanged"


def resolve(order: Order, exchange: Exchange, *, clock: Callable[[], datetime] = timezone.now) -> Resolution:
    """Settle one `unknown` or `pending_submit` order as far as the exchange allows right now."""
    if order.state not in (OrderState.UNKNOWN, OrderState.PENDING_SUBMIT):
        return Resolution(order.pk, "unchanged")
    now = clock()
    try:
        status = exchange.find_order(order.client_order_id or orders.client_order_id(order.pk))
    except ExchangeError as exc:
        # Could not look: nothing is decided on a failed read. The next sweep tries again.
        logger.info("order %s: lookup failed (%s), will retry", order.client_order_id, type(exc).__name__)
        return Resolution(order.pk, "waiting")
    if status is not None:
        apply_status(order, status, now=now, cause="found by client order id")
        _settle_decision(order)
        return Resolution(order.pk, "adopted")

    last = order.last_attempt_at or order.created_at
    if now - last < lookup_window():
        return Resolution(order.pk, "waiting")
    if order.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
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
            "on the exchange after the lookup window. Check it on Kraken; OrderRail will not send it again.",
            now=now,
        )
        return Resolution(order.pk, "attention")
    return _resend(order, exchange, clock=clock, now=now)


def _resend(order: Order, exchange: Exchange, *, clock: Callable[[], datetime], now: datetime) -> Resolution:
    if order.state == OrderState.UNKNOWN and not orders.transition(
        order,
        OrderState.PENDING_SUBMIT,
        cause=f"no trace after {lookup_window().seconds} s: sending once more with the same client order id",
        now=now,
    ):
        return Resolution(order.pk, "unchanged")  # someone else moved it first
    try:
        orders.submit(order, exchange, clock=clock)
    except orders.SubmitRaced:
        return Resolution(order.pk, "unchanged")
    except AmbiguousOutcome:
        # Still unclear (or clientOrderIdAlreadyExist: the first attempt landed after all) - look it up later.
        return Resolution(order.pk, "resent")
    except OrderRejected:
        _settle_decision(order)
        return Resolution(order.pk, "resent")
    except ExchangeError:
        return Resolution(order.pk, "resent")
    _settle_decision(order)
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


def _settle_decision(order: Order) -> None:
    """The decision of an order that was `outcome_unknown` says what became of it once we know."""
    if order.decision_id is None:
        return
    decision = Decision.objects.filter(pk=order.decision_id, reason=Reason.OUTCOME_UNKNOWN).first()
    if decision is None:
        return
    if order.state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.FILLED, OrderState.CANCELLED):
        text = explain(
            Reason.ORDER_SENT, {"detail": f"{order.client_order_id} confirmed on the exchange after an unclear answer"}
        )
        Decision.objects.filter(pk=decision.pk).update(reason=Reason.ORDER_SENT, message=text[:400])
    elif order.state == OrderState.REJECTED:
        text = explain(Reason.EXCHANGE_REJECTED, {"detail": order.venue_status})
        Decision.objects.filter(pk=decision.pk).update(
            reason=Reason.EXCHANGE_REJECTED,
            action=Decision.Action.REJECT,
            venue_status=order.venue_status,
            message=text[:400],
        )


def unsettled_orders(now: datetime):  # type: ignore[no-untyped-def]
    """Orders the sweeper must look at: unknown ones, and pending ones whose worker may have died."""
    stale_pending = now - lookup_window()
    return (
        Order.objects.select_related("route", "route__exchange_account")
        .filter(state__in=[OrderState.UNKNOWN, OrderState.PENDING_SUBMIT])
        .exclude(state=OrderState.PENDING_SUBMIT, created_at__gt=stale_pending)
    )
