"""Route pages: create with every sizing mode and limit, each bad value refused with its message and nothing
saved, the TradingView message per mode, the secret shown once (only its hash kept), rotation, pause/enable, and
the route's history."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from audit.models import Alert, RouteEvent
from audit.reasons import Reason
from routing.alert_message import alert_message
from routing.models import Route
from tests.trader.conftest import Trader
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Breakout 4h",
    "symbol": "PF_ETHUSD",
    "tv_alias": "ETHUSD.P",
    "sizing_mode": "target",
    "multiplier": "1",
    "side_policy": "both",
    "max_order_size": "2",
    "max_position": "3",
    "max_notional": "20000",
    "max_leverage": "3",
    "orders_per_hour": "10",
    "daily_loss_limit": "500",
    "max_alert_age_seconds": "60",
    "future_skew_seconds": "5",
    "price_deviation_pct": "",
    "worst_case_stop_pct": "10",
    "email_alerts": "on",
}


def form(t: Trader, **changes: str) -> dict[str, str]:
    return {**VALID, "exchange_account": str(t.account.pk), **changes}


def secret_in(html: str) -> str:
    match = re.search(r"&quot;secret&quot;: &quot;([^&]+)&quot;", html)
    assert match, "no secret on the page"
    return match.group(1)


def expand(message: str, **values: str) -> dict[str, Any]:
    """What TradingView does when the alert fires: fill in the placeholders."""
    filled = message
    for placeholder, value in values.items():
        filled = filled.replace("{{" + placeholder + "}}", value)
    assert "{{" not in filled, filled
    return json.loads(filled)


def test_create_shows_the_secret_once_stores_only_its_hash_and_records_the_event(traders) -> None:
    a, _ = traders
    response = a.client.post(reverse("route_create"), form(a))
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    route = Route.objects.get(owner=a.user, name="Breakout 4h")
    secret = secret_in(html)
    assert route.check_secret(secret) and secret not in route.secret_hash
    assert route.symbol == "PF_ETHUSD" and route.tv_alias == "ETHUSD.P"
    assert RouteEvent.objects.filter(route=route, kind=RouteEvent.Kind.CREATED, actor=a.user).exists()
    # Afterwards the route page shows the message without the secret.
    page = a.client.get(reverse("route_detail", args=[route.pk])).content.decode()
    assert secret not in page and "&lt;your route secret&gt;" in page
    assert route.webhook_path in page


def test_the_message_works_when_tradingview_fills_it_in(traders, fake) -> None:
    a, _ = traders
    a.client.post(reverse("route_disable", args=[a.route.pk]))  # one enabled route per account and instrument
    html = a.client.post(
        reverse("route_create"), form(a, symbol="PF_XBTUSD", tv_alias="XBTUSD.P", name="Msg", max_position="1")
    ).content
    route = Route.objects.get(name="Msg")
    # The message on the page, unescaped, is exactly what the trader pastes into TradingView.
    message = re.search(r'<pre id="alert-message">(.*?)</pre>', html.decode(), re.S).group(1)
    import html as htmllib

    body = expand(
        htmllib.unescape(message),
        **{
            "strategy.order.action": "buy",
            "strategy.position_size": "0.02",
            "strategy.market_position": "long",
            "ticker": "XBTUSD.P",
            "timenow": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "strategy.order.id": "Long",
        },
    )
    answer = a.client.post(route.webhook_path, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 202
    run_queued_tasks()
    alert = Alert.objects.get(pk=answer.json()["alert"])
    assert alert.decision.reason == Reason.ORDER_SENT, alert.decision.message
    (order,) = alert.decision.orders.all()
    # Target mode: the account already holds 0.01 XBT (Alice's paused route's fill), so reaching 0.02 takes 0.01.
    assert (order.side, str(order.size.normalize()), order.symbol) == ("buy", "0.01", "PF_XBTUSD")
    checks = {c["name"] for c in alert.decision.checks}
    assert "symbol" in checks  # the message carried {{ticker}} and it was checked against the alias


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("target", ["{{strategy.position_size}}", "{{strategy.market_position}}"], ["contracts"]),
        ("contracts", ["{{strategy.order.contracts}}", "{{strategy.market_position}}"], ["position_size"]),
        ("fixed", ["{{strategy.order.action}}"], ["position_size", "contracts"]),
    ],
)
def test_the_message_matches_the_sizing_mode(mode, present, absent) -> None:
    text = alert_message(sizing_mode=mode, secret="s3cret", tv_alias="", price_guard=False)
    body = json.loads(text)
    assert body["secret"] == "s3cret" and body["time"] == "{{timenow}}"
    for item in present:
        assert item in text
    for item in absent:
        assert item not in text
    assert "symbol" not in body and "price" not in body
    guarded = json.loads(alert_message(sizing_mode=mode, secret=None, tv_alias="XBTUSD.P", price_guard=True))
    assert guarded["symbol"] == "{{ticker}}" and guarded["price"] == "{{close}}"
    assert guarded["secret"] == "<your route secret>"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "   "}, "name", "Give the route a name"),
        ({"symbol": "PF_NOPEUSD"}, "symbol", "is not one of the available choices"),
        ({"multiplier": "0"}, "multiplier", "greater than 0"),
        ({"multiplier": "abc"}, "multiplier", "Enter a number"),
        ({"multiplier": "1e999"}, "multiplier", ""),
        ({"sizing_mode": "fixed", "fixed_size": ""}, "fixed_size", "needs a size"),
        ({"max_position": "-1"}, "max_position", "greater than 0"),
        ({"max_leverage": "0.0000000000001"}, "max_leverage", "decimal places"),
        ({"orders_per_hour": "0"}, "orders_per_hour", "At least 1"),
        ({"max_alert_age_seconds": "0"}, "max_alert_age_seconds", "Between 1 and 86400"),
        ({"future_skew_seconds": "9999"}, "future_skew_seconds", "At most 300"),
        ({"worst_case_stop_pct": "150"}, "worst_case_stop_pct", "below 100"),
        ({"price_deviation_pct": "0"}, "price_deviation_pct", "above 0"),
        ({"tv_alias": "XBT USD"}, "tv_alias", "letters, digits"),
        ({"side_policy": "sideways"}, "side_policy", "Select a valid choice"),
    ],
)
def test_each_bad_value_is_refused_with_its_message_and_nothing_is_saved(traders, changes, field, message) -> None:
    a, _ = traders
    before = Route.objects.count()
    response = a.client.post(reverse("route_create"), form(a, **changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert "Nothing was saved" in response.content.decode()
    assert Route.objects.count() == before


def test_another_users_account_cannot_be_chosen(traders) -> None:
    a, b = traders
    response = a.client.post(reverse("route_create"), form(a, exchange_account=str(b.account.pk)))
    assert response.status_code == 400 and "exchange_account" in response.context["form"].errors
    assert not Route.objects.filter(owner=a.user, name="Breakout 4h").exists()


def test_a_second_enabled_route_on_the_same_instrument_is_refused_clearly(traders) -> None:
    a, _ = traders
    response = a.client.post(reverse("route_create"), form(a, symbol="PF_XBTUSD"))
    assert response.status_code == 400
    assert "Another enabled route already trades this instrument" in response.content.decode()


def test_edit_records_what_changed_and_refuses_moving_an_open_position(traders) -> None:
    a, _ = traders
    data = form(a, name="Alice XBT", symbol="PF_XBTUSD", tv_alias="XBTUSD.P", max_position="0.5")
    response = a.client.post(reverse("route_edit", args=[a.route.pk]), data)
    assert response.status_code == 302
    event = RouteEvent.objects.filter(route=a.route, kind=RouteEvent.Kind.EDITED).latest("pk")
    assert "max_position" in event.detail and event.actor == a.user
    # The route holds 0.01 XBT: moving it to another instrument would orphan that position and its stop.
    response = a.client.post(reverse("route_edit", args=[a.route.pk]), {**data, "symbol": "PF_ETHUSD"})
    assert response.status_code == 400 and "Flatten it first" in response.content.decode()
    a.route.refresh_from_db()
    assert a.route.symbol == "PF_XBTUSD"


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_one_stops_working(traders) -> None:
    from tests.trader.conftest import ROUTE_SECRET_A

    a, _ = traders
    response = a.client.post(reverse("route_rotate", args=[a.route.pk]))
    new_secret = secret_in(response.content.decode())
    a.route.refresh_from_db()
    assert a.route.check_secret(new_secret) and not a.route.check_secret(ROUTE_SECRET_A)
    assert RouteEvent.objects.filter(route=a.route, kind=RouteEvent.Kind.SECRET_ROTATED, actor=a.user).exists()
    old = {"secret": ROUTE_SECRET_A, "action": "buy", "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    answer = a.client.post(a.route.webhook_path, data=json.dumps(old), content_type="application/json")
    assert answer.status_code == 401
    assert a.client.get(reverse("route_rotate", args=[a.route.pk])).status_code == 405


def test_pause_and_enable_are_recorded_and_enabling_a_conflict_is_explained(traders) -> None:
    a, _ = traders
    a.client.post(reverse("route_disable", args=[a.route.pk]))
    a.route.refresh_from_db()
    assert not a.route.enabled
    twin = Route(owner=a.user, name="Twin", exchange_account=a.account, symbol="PF_XBTUSD", sizing_mode="target")
    twin.set_secret("t" * 20)
    twin.save()
    page = a.client.post(reverse("route_enable", args=[a.route.pk]), follow=True).content.decode()
    assert "Another enabled route already trades this instrument" in page
    a.route.refresh_from_db()
    assert not a.route.enabled
    twin.enabled = False
    twin.save()
    a.client.post(reverse("route_enable", args=[a.route.pk]))
    a.route.refresh_from_db()
    assert a.route.enabled
    kinds = list(RouteEvent.objects.filter(route=a.route).values_list("kind", flat=True))
    assert RouteEvent.Kind.DISABLED in kinds and RouteEvent.Kind.ENABLED in kinds


def test_the_instrument_list_comes_from_the_exchange(traders) -> None:
    a, _ = traders
    html = a.client.get(reverse("route_create")).content.decode()
    assert '<option value="PF_XBTUSD"' in html and '<option value="PF_ETHUSD"' in html


def test_a_frozen_route_is_re_based_by_its_trader_and_trades_again(traders, fake) -> None:
    """Drift acknowledged from the route page (issue 7 item 11): the route takes the exchange's position from now
    on, recorded with who and when, and new exposure goes out again."""
    from audit.models import Attention, RouteEvent
    from routing.models import RouteState
    from routing.selectors import implied_position
    from tests.routing.conftest import TRADER_KEY

    a, _ = traders
    # A trade by hand on Kraken: the exchange holds more than the route's orders imply.
    _trade_by_hand(fake, TRADER_KEY)
    from routing import reconcile

    reconcile.run()
    state = RouteState.objects.get(route=a.route)
    assert state.frozen_reason, "the manual trade shows as drift"
    page = a.client.get(reverse("route_detail", args=[a.route.pk])).content.decode()
    assert "Re-base on the exchange position" in page
    answer = a.client.post(reverse("route_rebase", args=[a.route.pk]), {"note": "bought 0.02 by hand"}, follow=True)
    assert "New exposure is allowed again" in answer.content.decode()
    state.refresh_from_db()
    assert not state.frozen_reason and state.baseline_at is not None
    assert implied_position(a.route) == state.baseline_position
    event = RouteEvent.objects.get(route=a.route, kind=RouteEvent.Kind.DRIFT_ACKNOWLEDGED)
    assert event.actor == a.user and "bought 0.02 by hand" in event.detail
    assert not Attention.objects.filter(kind=Attention.Kind.POSITION_DRIFT, resolved_at__isnull=True).exists()
    reconcile.run()  # and it stays unfrozen: the comparison is baseline + later fills now
    state.refresh_from_db()
    assert not state.frozen_reason


def _trade_by_hand(fake, key) -> None:
    from exchanges.base import OrderRequest, OrderType, Side
    from exchanges.kraken.adapter import KrakenFutures
    from tests.routing.conftest import TRADER_SECRET

    with KrakenFutures(fake.url, key, TRADER_SECRET, connect_timeout=2, read_timeout=5) as venue:
        venue.place_order(OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.02"), OrderType.MARKET, "by-hand-1"))
