"""Paper accounts from the trader's pages: create (free, no key), a paper route that trades on it through the very
same pipeline, fund, reset; bad amounts refused with a sentence and nothing changed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import ExchangeAccount
from audit.models import Alert
from audit.reasons import Reason
from routing.models import Route
from tests.routing.conftest import payload, post
from tests.trader.conftest import Trader
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db


def paper_of(t: Trader) -> ExchangeAccount:
    return ExchangeAccount.objects.get(owner=t.user, mode=ExchangeAccount.Mode.PAPER)


def test_a_new_trader_gets_a_paper_route_trading_without_any_key(traders, fake) -> None:
    a, _ = traders
    response = a.client.post(reverse("paper_create"), {"label": "Try-out"}, follow=True)
    html = response.content.decode()
    assert "Paper account “Try-out” created" in html and "Equity" in html
    account = paper_of(a)
    assert not account.key_fingerprint
    sent_before = fake.calls("sendorder")
    a.client.post(reverse("route_disable", args=[a.route.pk]))
    page = a.client.post(
        reverse("route_create"),
        {
            "name": "Paper XBT",
            "exchange_account": str(account.pk),
            "symbol": "PF_XBTUSD",
            "sizing_mode": "target",
            "multiplier": "1",
            "side_policy": "both",
            "max_alert_age_seconds": "60",
            "future_skew_seconds": "5",
            "worst_case_stop_pct": "10",
        },
    )
    assert page.status_code == 200, page.content.decode()[:2000]
    route = Route.objects.get(name="Paper XBT")
    secret = page.context["secret"]
    answer = post(a.client, route, payload(secret, position="0.1", market_position="long"))
    assert answer.status_code == 202
    run_queued_tasks()
    alert = Alert.objects.get(pk=answer.json()["alert"])
    assert alert.decision.reason == Reason.ORDER_SENT, alert.decision.message
    (order,) = alert.decision.orders.all()
    assert order.state == "filled"
    # Nothing reached the exchange's private endpoints: a paper route never trades live.
    assert fake.calls("sendorder") == sent_before


@pytest.mark.parametrize("amount", ["-5", "abc", "0", "1.234", "999999999999"])
def test_bad_amounts_are_refused_and_change_nothing(traders, amount) -> None:
    a, _ = traders
    a.client.post(reverse("paper_create"), {})
    account = paper_of(a)
    before = a.client.get(reverse("exchange_detail", args=[account.pk])).context["paper"]
    response = a.client.post(reverse("paper_fund", args=[account.pk]), {"amount": amount}, follow=True)
    assert "Not funded" in response.content.decode()
    after = a.client.get(reverse("exchange_detail", args=[account.pk])).context["paper"]
    assert after["summary"].equity == before["summary"].equity


def test_fund_and_reset(traders) -> None:
    a, _ = traders
    a.client.post(reverse("paper_create"), {"starting_balance": "5000"})
    account = paper_of(a)
    html = a.client.post(reverse("paper_fund", args=[account.pk]), {"amount": "2500"}, follow=True).content.decode()
    assert "Collateral is now 7,500.00 USD" in html
    html = a.client.post(reverse("paper_reset", args=[account.pk]), follow=True).content.decode()
    assert "collateral back to 5,000.00 USD" in html
    summary = a.client.get(reverse("exchange_detail", args=[account.pk])).context["paper"]["summary"]
    assert summary.equity == Decimal("5000")


def test_a_live_account_cannot_be_funded_or_reset(traders) -> None:
    a, _ = traders
    html = a.client.post(reverse("paper_reset", args=[a.account.pk]), follow=True).content.decode()
    assert "Only paper accounts" in html
