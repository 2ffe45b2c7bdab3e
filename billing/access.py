from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from billing.entitlement import PAID
from billing.models import AccessNotice, LiveAccess

# An access that ended longer ago than this is history, not news: no banner, no "ended" e-mail (e.g. on first deploy).
ENDED_NEWS_FOR = timedelta(days=7)


@dataclass(frozen=True)
class Lapse:
    kind: AccessNotice.Kind  # ENDING (within the notice window, and it will not renew by itself) or ENDED
    ends_at: datetime


def grace_period() -> timedelta:
    return timedelta(days=settings.BILLING_GRACE_DAYS)


def notice_window() -> timedelta:
    return timedelta(days=settings.BILLING_NOTICE_DAYS)


def has_live_access(user_id: int, now: datetime) -> bool:
    """Live trading needs an active subscription - unless a self-hoster turned billing off.

    Checked at send time for the part of an order that adds exposure only (routing.risk): a lapsed subscription never
    blocks an exit, a reduction or the worst-case stop."""
    if not settings.BILLING_ENABLED:
        return True
    row = LiveAccess.objects.filter(user_id=user_id).values_list("active_until", "renews").first()
    if row is None or row[0] is None:
        return False
    until, renews = row
    return (until + grace_period() if renews else until) > now


def lapse(access: LiveAccess | None, now: datetime) -> Lapse | None:
    """Whether live access is about to end or has just ended: what the trader must be told (banner and e-mail).
    A subscription that renews normally is not ending; a failed renewal running on its grace period is."""
    if access is None:
        return None
    ends_at = access.ends_at(grace_period())
    if ends_at is None:
        return None
    renews_normally = access.renews and access.status in PAID
    if now < ends_at <= now + notice_window() and not renews_normally:
        return Lapse(AccessNotice.Kind.ENDING, ends_at)
    if now - ENDED_NEWS_FOR < ends_at <= now:
        return Lapse(AccessNotice.Kind.ENDED, ends_at)
    return None
