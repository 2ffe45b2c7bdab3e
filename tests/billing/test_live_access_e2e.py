"""Live access at send time, moved only by Stripe's signed events: from the trader's Subscribe click to orders on the
fake Kraken, through the real TradingView webhook, the queued worker task and real HTTP to the exchange. A lapsed
subscription stops new live exposure; exits, reductions and the worst-case stop keep going."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from audit.models import Alert, Decision
from audit.reasons import Reason
from billing.models import LiveAccess
from routing.selectors import live_stops
from tests.billing.stripe_fake import deliver
from tests.routing.conftest import TRADER_KEY, payload, post
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db

_ids = iter(range(1_000_000))


def alert(client: Client, route, **fields) -> Decision:
    fields.setdefault("id", f"order-{next(_ids)}")
    response = post(client, route, payload(**fields))
    assert response.status_code == 202, response.content
    run_queued_tasks()
    return Alert.objects.get(pk=response.json()["alert"]).decision


def position(fake) -> Decimal:
    return fake.position(TRADER_KEY, "PF_XBTUSD")


def test_live_access_required_through_the_real_webhook_while_exits_and_the_stop_still_go(
    stripe_api, hook, trader, make_route, fake, exchange_url, client
):
    LiveAccess.objects.filter(user=trader).delete()  # no hand-set access: only Stripe's events decide
    fake.set_mark("PF_XBTUSD", Decimal(60000))
    route = make_route(worst_case_stop_pct=Decimal(5))
    browser = Client()
    browser.force_login(trader)

    # Not subscribed yet: a live entry is refused at send time.
    refused = alert(client, route, position="0.2")
    assert (refused.action, refused.reason) == (Decision.Action.SKIP, Reason.LIVE_ACCESS_REQUIRED)
    assert refused.message == "Skipped: live trading needs an active subscription."
    assert fake.calls("sendorder") == 0

    # Subscribe: Checkout, then Stripe's signed event turns live access on.
    assert browser.post("/billing/subscribe/").status_code == 303
    (customer,) = stripe_api.customers
    subscription = stripe_api.subscribe(customer)
    assert deliver(browser, hook, stripe_api.event("customer.subscription.created", subscription)).status_code == 200
    entry = alert(client, route, position="0.2")
    assert entry.reason == Reason.ORDER_SENT and position(fake) == Decimal("0.2")
    assert [stop.size for stop in live_stops(route)] == [Decimal("0.2")]

    # Cancelled: Stripe's signed deletion ends live access at once.
    stripe_api.end(subscription)
    assert deliver(browser, hook, stripe_api.event("customer.subscription.deleted", subscription)).status_code == 200
    grow = alert(client, route, position="0.3")
    assert (grow.action, grow.reason) == (Decision.Action.SKIP, Reason.LIVE_ACCESS_REQUIRED)
    assert position(fake) == Decimal("0.2")

    # The strategy's exit still goes out, reduce-only, and the worst-case stop follows the position down.
    reduce = alert(client, route, action="sell", position="0.1", market_position="long")
    assert reduce.reason == Reason.ORDER_SENT
    assert [(o.side, o.size, o.reduce_only) for o in reduce.orders.all()] == [("sell", Decimal("0.1"), True)]
    assert [stop.size for stop in live_stops(route)] == [Decimal("0.1")]
    close = alert(client, route, action="close")
    assert close.reason == Reason.ORDER_SENT and position(fake) == Decimal(0)
    assert live_stops(route) == []
