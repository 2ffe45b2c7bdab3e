"""Keeps `LiveAccess` in step with the user's Stripe subscriptions as dj-stripe stores them.

Called from the dj-stripe webhook receivers (`billing.receivers`), inside the transaction of the signed event, after
dj-stripe has re-read the subscription from Stripe. The projection is recomputed from every subscription of the user,
never patched from an event's payload, so the order events arrive in cannot matter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from djstripe.models import Customer, Subscription

from billing.entitlement import SubscriptionFacts, entitlement
from billing.models import LiveAccess

logger = logging.getLogger(__name__)


def refresh_live_access(user_id: int) -> LiveAccess:
    subscriptions = Subscription.objects.filter(customer__subscriber_id=user_id)
    result = entitlement((facts(sub.stripe_data) for sub in subscriptions), settings.STRIPE_PRICE_ID)
    access, _ = LiveAccess.objects.update_or_create(
        user_id=user_id,
        defaults={
            "active_until": result.active_until,
            "renews": result.renews,
            "status": result.status,
            "subscription_id": result.subscription_id,
            "source": "stripe",
        },
    )
    logger.info(
        "live access of user %s: %s until %s%s",
        user_id,
        result.status or "none",
        result.active_until,
        " (renews)" if result.renews else "",
    )
    return access


def lock_user_of_customer(customer_id: str) -> None:
    """Serialise webhook processing per user: the LiveAccess row is locked before dj-stripe re-reads the subscription,
    so of two concurrent deliveries the one that reads Stripe later also writes later."""
    user_id = Customer.objects.filter(id=customer_id).values_list("subscriber_id", flat=True).first()
    if user_id is None:
        return
    LiveAccess.objects.get_or_create(user_id=user_id)
    list(LiveAccess.objects.select_for_update().filter(user_id=user_id).values_list("pk", flat=True))


def facts(data: Mapping[str, Any]) -> SubscriptionFacts:
    """A Stripe subscription object (as stored by dj-stripe) reduced to what entitlement needs. Since API version
    2025-03-31 the current period lives on the subscription items; older versions kept it on the subscription."""
    items = _items(data)
    return SubscriptionFacts(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        price_ids=frozenset(_price_id(item) for item in items) - {""},
        period_start=_moment(data.get("current_period_start"))
        or _earliest(item.get("current_period_start") for item in items),
        period_end=_moment(data.get("current_period_end")) or _latest(item.get("current_period_end") for item in items),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        cancel_at=_moment(data.get("cancel_at")),
        ended_at=_moment(data.get("ended_at")) or _moment(data.get("canceled_at")),
    )


def _items(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = data.get("items") or {}
    rows = items.get("data") if isinstance(items, Mapping) else items
    return [row for row in rows or [] if isinstance(row, Mapping)]


def _price_id(item: Mapping[str, Any]) -> str:
    price = item.get("price") or item.get("plan") or ""
    return str(price.get("id") or "") if isinstance(price, Mapping) else str(price)


def _moment(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _earliest(values: Iterable[object]) -> datetime | None:
    moments = [m for m in map(_moment, values) if m is not None]
    return min(moments) if moments else None


def _latest(values: Iterable[object]) -> datetime | None:
    moments = [m for m in map(_moment, values) if m is not None]
    return max(moments) if moments else None
