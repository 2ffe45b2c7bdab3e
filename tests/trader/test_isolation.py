"""Isolation: signed in as A, every page and action of the trader side is tried with B's ids - each answers 404
and changes nothing - and A's lists and exports never contain B's accounts, routes, alerts, orders or fills.

The URL list is taken from trader/urls.py itself, so a page added later without an entry here fails this test."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, reverse

from accounts.models import ExchangeAccount
from audit.models import Order, RouteEvent
from routing.models import Route
from tests.trader.conftest import Trader
from trader import urls as trader_urls

pytestmark = pytest.mark.django_db

# What each URL's <pk> names.
OBJECT_OF = {
    "exchange_detail": "account",
    "exchange_replace": "account",
    "exchange_ws_key": "account",
    "exchange_remove": "account",
    "paper_fund": "account",
    "paper_reset": "account",
    "route_detail": "route",
    "route_edit": "route",
    "route_rotate": "route",
    "route_enable": "route",
    "route_disable": "route",
    "route_test": "route",
    "route_flatten": "route",
    "route_rebase": "route",
    "alert_detail": "alert",
}
# Actions without an id (POST only): they act on the signed-in user alone.
ACTIONS = {"paper_create"}
# URLs without an id: each must show only the signed-in user's own data.
LISTS = {
    "home",
    "dashboard",
    "account_settings",
    "exchange_list",
    "exchange_connect",
    "route_list",
    "route_create",
    "alert_list",
    "performance",
    "export_alerts",
    "export_orders",
    "export_fills",
}


def patterns() -> list[URLPattern]:
    return [p for p in trader_urls.urlpatterns if isinstance(p, URLPattern)]


def test_every_trader_url_is_covered_here() -> None:
    names = {p.name for p in patterns()}
    covered = set(OBJECT_OF) | LISTS | ACTIONS
    assert names == covered, names ^ covered


def snapshot(b: Trader) -> tuple[object, ...]:
    b.route.refresh_from_db()
    b.account.refresh_from_db()
    return (
        b.route.enabled,
        b.route.secret_hash,
        b.route.name,
        b.route.max_position,
        b.account.key_fingerprint,
        b.account.credentials_version,
        ExchangeAccount.objects.filter(owner=b.user).count(),
        Route.objects.filter(owner=b.user).count(),
        Order.objects.filter(route__owner=b.user).count(),
        RouteEvent.objects.filter(route__owner=b.user).count(),
    )


def test_a_can_neither_see_nor_change_anything_of_b(traders, fake) -> None:
    a, b = traders
    before, sent = snapshot(b), fake.calls("sendorder")
    objects = {"account": b.account, "route": b.route, "alert": b.alert}
    for name, kind in OBJECT_OF.items():
        url = reverse(name, args=[objects[kind].pk])
        assert a.client.get(url).status_code in (404, 405), f"GET {url}"
        data = {"name": "stolen", "api_key": "k", "api_secret": "s", "action": "buy", "position": "1"}
        assert a.client.post(url, data).status_code == 404, f"POST {url}"
    assert snapshot(b) == before
    assert fake.calls("sendorder") == sent  # no order placed for B (no flatten, no close)


def test_lists_and_exports_show_only_the_signed_in_users_data(traders) -> None:
    a, b = traders
    b_marks = ["Bob XBT", "Bob main", "bob@example.com", f'href="/alerts/{b.alert.pk}/"', f"/routes/{b.route.pk}/"]
    for name in sorted(LISTS):
        response = a.client.get(reverse(name), follow=True)
        assert response.status_code == 200, name
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode()
        for mark in b_marks:
            assert mark not in text, f"{name} shows {mark}"
    orders = b"".join(a.client.get(reverse("export_orders")).streaming_content).decode()
    b_order = Order.objects.filter(route=b.route).first()
    assert b_order is not None and b_order.client_order_id not in orders
    a_order = Order.objects.filter(route=a.route).first()
    assert a_order is not None and a_order.client_order_id in orders


def test_creating_a_paper_account_gives_it_to_the_signed_in_user_only(traders) -> None:
    a, b = traders
    a.client.post(reverse("paper_create"), {"label": "Mine"})
    assert ExchangeAccount.objects.filter(owner=a.user, mode="paper").count() == 1
    assert ExchangeAccount.objects.filter(owner=b.user, mode="paper").count() == 0


def test_filtering_by_someone_elses_route_is_refused_not_leaked(traders) -> None:
    a, b = traders
    response = a.client.get(reverse("alert_list") + f"?route={b.route.pk}")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert "Bob XBT" not in response.content.decode()
    csv_text = b"".join(a.client.get(reverse("export_alerts") + f"?route={b.route.pk}").streaming_content).decode()
    assert "Bob XBT" not in csv_text


def test_a_route_form_cannot_take_bs_account(traders) -> None:
    a, b = traders
    response = a.client.post(
        reverse("route_edit", args=[a.route.pk]),
        {"name": "x", "exchange_account": str(b.account.pk), "symbol": "PF_XBTUSD", "sizing_mode": "target"},
    )
    assert response.status_code == 400
    a.route.refresh_from_db()
    assert a.route.exchange_account_id == a.account.pk
