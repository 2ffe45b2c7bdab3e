"""What a user's Stripe subscriptions entitle them to. Pure: no ORM, no settings, no clock.

- `active`/`trialing`: paid through the end of the current period. If it is set to renew, access lasts the grace
  period longer (a renewal that is late or declined does not cut the trader off at once); if it is cancelled at the
  period end (or at a `cancel_at`), access ends exactly then.
- `past_due`: the renewal failed and Stripe is retrying. Paid through the start of the unpaid period; the grace
  period runs from there.
- `unpaid`: Stripe gave up retrying. Paid through the start of the unpaid period, no grace.
- `canceled`: ended at `ended_at` (kept so the trader can be told when).
- anything else (`incomplete`, `incomplete_expired`, `paused`): no access.
Only subscriptions to our price count. With several, the one paid furthest ahead wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

PAID = frozenset({"active", "trialing"})


@dataclass(frozen=True)
class SubscriptionFacts:
    id: str
    status: str
    price_ids: frozenset[str]
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool = False
    cancel_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Entitlement:
    active_until: datetime | None  # paid through
    renews: bool  # the grace period applies past `active_until`
    status: str
    subscription_id: str


NONE = Entitlement(active_until=None, renews=False, status="", subscription_id="")


def entitlement(subscriptions: Iterable[SubscriptionFacts], price_id: str) -> Entitlement:
    best = NONE
    for facts in subscriptions:
        if price_id not in facts.price_ids:
            continue
        candidate = _one(facts)
        if best is NONE or _rank(candidate) > _rank(best):
            best = candidate
    return best


def _one(facts: SubscriptionFacts) -> Entitlement:
    until: datetime | None = None
    renews = False
    if facts.status in PAID:
        until = facts.period_end
        ends = [moment for moment in (facts.cancel_at,) if moment is not None]
        if until is not None and ends:
            until = min(until, *ends)
        renews = not (facts.cancel_at_period_end or facts.cancel_at)
    elif facts.status == "past_due":
        until, renews = facts.period_start, True
    elif facts.status == "unpaid":
        until = facts.period_start
    elif facts.status == "canceled":
        until = facts.ended_at
    return Entitlement(active_until=until, renews=renews, status=facts.status, subscription_id=facts.id)


def _rank(value: Entitlement) -> tuple[bool, datetime | None, bool]:
    # The latest paid-through date wins, a renewing subscription on a tie; no date at all ranks last. (Every renewal
    # arrives as an event and recomputes this, so ranking by what is paid is enough.)
    return (value.active_until is not None, value.active_until, value.renews)
