"""The one place a decision's final outcome is written after the decision itself: what became of its orders.

A decision is made with its verdict (sent or skipped). Its reason changes afterwards only here: the exchange
rejected the order, its answer was unclear, the unclear order turned out placed or never placed - and the action
that goes with each reason comes from one table, so "rejected by the exchange" can never be filed as a skip.
"""

from __future__ import annotations

from audit.models import Decision, Order
from audit.order_states import OrderState
from audit.reasons import Reason, explain

ACTION = {
    Reason.ORDER_SENT: Decision.Action.SEND,
    Reason.OUTCOME_UNKNOWN: Decision.Action.SEND,
    Reason.EXCHANGE_REJECTED: Decision.Action.REJECT,
}
ACCEPTED = (OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.FILLED, OrderState.CANCELLED)


def settle(decision_id: int, reason: Reason, *, detail: str = "", venue_status: str = "") -> None:
    Decision.objects.filter(pk=decision_id).update(
        reason=reason,
        action=ACTION.get(reason, Decision.Action.SKIP),
        venue_status=venue_status[:80],
        message=explain(reason, {"detail": detail})[:400],
    )


def follow_order(order: Order) -> None:
    """An order that was `outcome_unknown` is now known: its decision says what became of it."""
    if order.decision_id is None:
        return
    if not Decision.objects.filter(pk=order.decision_id, reason=Reason.OUTCOME_UNKNOWN).exists():
        return
    if order.state in ACCEPTED:
        settle(
            order.decision_id,
            Reason.ORDER_SENT,
            detail=f"{order.client_order_id} confirmed on the exchange after an unclear answer",
        )
    elif order.state == OrderState.REJECTED:
        settle(order.decision_id, Reason.EXCHANGE_REJECTED, detail=order.venue_status, venue_status=order.venue_status)
