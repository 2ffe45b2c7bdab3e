"""What a subscription entitles a trader to, for every Stripe status (pure), and the projection's read at send time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.entitlement import NONE, SubscriptionFacts, entitlement
from billing.sync import facts

PRICE = "price_live"
START = datetime(2026, 12, 1, tzinfo=UTC)
END = START + timedelta(days=30)


def sub(status: str, **changes: object) -> SubscriptionFacts:
    fields: dict[str, object] = {
        "id": "sub_1",
        "status": status,
        "price_ids": frozenset({PRICE}),
        "period_start": START,
        "period_end": END,
        "cancel_at_period_end": False,
        "cancel_at": None,
        "ended_at": None,
    }
    fields.update(changes)
    return SubscriptionFacts(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts_", "until", "renews"),
    [
        (sub("active"), END, True),
        (sub("trialing"), END, True),
        (sub("active", cancel_at_period_end=True), END, False),
        (sub("active", cancel_at=START + timedelta(days=10)), START + timedelta(days=10), False),
        (sub("past_due"), START, True),  # the renewal failed: paid through the period's start, grace from there
        (sub("unpaid"), START, False),
        (sub("canceled", ended_at=START + timedelta(days=3)), START + timedelta(days=3), False),
        (sub("incomplete"), None, False),
        (sub("incomplete_expired"), None, False),
        (sub("paused"), None, False),
    ],
)
def test_each_status(facts_: SubscriptionFacts, until: datetime | None, renews: bool) -> None:
    result = entitlement([facts_], PRICE)
    assert (result.active_until, result.renews, result.status) == (until, renews, facts_.status)


def test_only_our_price_counts() -> None:
    assert entitlement([sub("active", price_ids=frozenset({"price_other"}))], PRICE) == NONE
    assert entitlement([], PRICE) == NONE


def test_the_subscription_paid_furthest_ahead_wins() -> None:
    old = sub("canceled", id="sub_old", ended_at=START - timedelta(days=40))
    new = sub("active", id="sub_new")
    assert entitlement([old, new], PRICE).subscription_id == "sub_new"
    assert entitlement([new, old], PRICE).subscription_id == "sub_new"


def test_facts_read_the_period_from_the_items_as_api_2025_and_later_put_it() -> None:
    start, end = int(START.timestamp()), int(END.timestamp())
    data = {
        "id": "sub_9",
        "status": "active",
        "cancel_at_period_end": False,
        "items": {"data": [{"price": {"id": PRICE}, "current_period_start": start, "current_period_end": end}]},
    }
    got = facts(data)
    assert (got.period_start, got.period_end, got.price_ids) == (START, END, frozenset({PRICE}))
    # Older API versions kept the period on the subscription itself, with the price id as a plain string.
    legacy = {
        "id": "sub_9",
        "status": "active",
        "current_period_start": start,
        "current_period_end": end,
        "items": {"data": [{"price": PRICE}]},
    }
    assert facts(legacy).period_end == END and facts(legacy).price_ids == frozenset({PRICE})


def test_facts_never_trust_odd_values() -> None:
    got = facts(
        {
            "id": "sub_x",
            "status": "active",
            "items": {"data": [{"price": {"id": PRICE}, "current_period_end": "soon"}]},
            "cancel_at": True,
        }
    )
    assert got.period_end is None and got.cancel_at is None
    assert entitlement([got], PRICE).active_until is None
