"""The "needs attention" queue: what a person must look at, oldest first, each with what to do.

Two sources: open attention items the engine raised (drift, stops that failed or could not be checked, orders whose
outcome stayed unknown, broken keys, alerts that failed internally, rejections, triggered stops), and orders with no
definitive answer for longer than STUCK_AFTER that no attention item covers yet (stuck `pending_submit` or `unknown`
orders, or `needs_attention`). Acknowledging records who, when and a note; for a stuck order it records a resolved
attention item, so the order leaves the queue with the same trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from accounts.models import User
from audit.models import Attention, Order
from audit.order_states import OrderState

STUCK_AFTER = timedelta(minutes=5)
STUCK_STATES = (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN, OrderState.NEEDS_ATTENTION)

WHAT_TO_DO: dict[str, str] = {
    Attention.Kind.POSITION_DRIFT: (
        "The exchange's position differs from what our orders imply; the route takes no new exposure (exits still "
        "go). Compare the position on Kraken with the route's fills. If the exchange is right (a manual trade, a "
        "liquidation), acknowledge the drift on the route's page: it re-bases the route and lifts the freeze. Never "
        "trade to fix it."
    ),
    Attention.Kind.STOP_FAILED: (
        "The position has no worst-case stop. Read the exchange's answer on the stop order, tell the trader; "
        "reconciliation retries every period. If it keeps failing, ask the trader to place a stop on Kraken or to "
        "flatten."
    ),
    Attention.Kind.STOP_UNVERIFIED: (
        "The worst-case stop could not be checked (the position or the instrument could not be read), so the "
        "resting stop was left alone. Check the route's stop on Kraken; it clears itself once the exchange answers."
    ),
    Attention.Kind.STOP_TRIGGERED: (
        "The worst-case stop closed the position. Tell the trader if they ask; nothing to repair. Acknowledge."
    ),
    Attention.Kind.ORDER_UNRESOLVED: (
        "No definitive answer for this order after the lookups and the one re-send. Find it on Kraken by its client "
        "order id: if it exists, reconciliation adopts it; if not, it never happened. Never send it again by hand."
    ),
    Attention.Kind.ORDER_REJECTED: (
        "The exchange refused the order; its own status is on the decision. Usually the trader's to fix "
        "(funds, size, a paused instrument). Explain with the decision's sentence and acknowledge."
    ),
    Attention.Kind.CREDENTIALS_BROKEN: (
        "The exchange refuses the key (revoked, wrong) or no FERNET_KEYS opens it. Only the trader can fix it: they "
        "replace the key on the Exchange page. With open positions, contact them at once."
    ),
    Attention.Kind.INTERNAL_ERROR: (
        "OrderRail failed while handling this; nothing was sent for it. Open the alert or account, pass the error "
        "class in the detail to engineering, and acknowledge once it is understood."
    ),
}
STUCK_ORDER = (
    "No definitive answer from the exchange for {age}. Reconciliation keeps looking it up by its client order id; "
    "check it on Kraken. Never send it again by hand. Acknowledge once you know what happened."
)


@dataclass(frozen=True)
class Row:
    since: datetime
    title: str
    detail: str
    what_to_do: str
    attention: Attention | None = None
    order: Order | None = None
    route_id: int | None = None
    occurrences: int = 1


def open_items(now: datetime) -> list[Row]:
    rows = [
        Row(
            since=item.created_at,
            title=item.get_kind_display(),
            detail=item.detail,
            what_to_do=WHAT_TO_DO.get(item.kind, "Look at the subject and acknowledge."),
            attention=item,
            order=item.order,
            route_id=item.route_id,
            occurrences=item.occurrences,
        )
        for item in Attention.objects.filter(resolved_at__isnull=True).select_related(
            "route", "route__owner", "order", "exchange_account", "alert"
        )
    ]
    rows += [
        Row(
            since=order.updated_at,
            title=f"Order {order.get_state_display().lower()}",
            detail=f"{order.client_order_id}: {order.side} {order.symbol} ({order.get_purpose_display()})",
            what_to_do=STUCK_ORDER.format(age=_age(now - order.updated_at)),
            order=order,
            route_id=order.route_id,
        )
        for order in stuck_orders(now)
    ]
    return sorted(rows, key=lambda row: row.since)


def stuck_orders(now: datetime) -> list[Order]:
    return list(
        Order.objects.filter(state__in=STUCK_STATES, updated_at__lt=now - STUCK_AFTER)
        .exclude(attention__isnull=False)
        .select_related("route", "route__owner")
    )


def acknowledge(item: Attention, *, actor: User, note: str, now: datetime) -> bool:
    """Close an open attention item with who, when and why. False when it was closed already."""
    return bool(
        Attention.objects.filter(pk=item.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolved_by=actor, resolution_note=note[:300]
        )
    )


def acknowledge_order(order: Order, *, actor: User, note: str, now: datetime) -> Attention:
    """A stuck order no item covers: recorded as an attention item closed at once by this person."""
    with transaction.atomic():
        return Attention.objects.create(
            kind=Attention.Kind.ORDER_UNRESOLVED,
            route_id=order.route_id,
            order=order,
            detail=f"{order.client_order_id} had no definitive answer since {order.updated_at:%Y-%m-%d %H:%M:%S} UTC",
            created_at=now,
            last_seen_at=now,
            resolved_at=now,
            resolved_by=actor,
            resolution_note=note[:300],
        )


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
