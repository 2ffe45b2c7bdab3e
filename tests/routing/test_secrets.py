"""A canary route secret and a canary API secret go through the whole flow; neither may surface anywhere."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from accounts.models import User
from audit.models import Alert, Decision, Order
from tests.routing.conftest import CANARY_ROUTE_SECRET, TRADER_KEY, TRADER_SECRET, payload, post
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db

CANARIES = (CANARY_ROUTE_SECRET, TRADER_SECRET)


def test_no_secret_in_logs_bodies_admin_pages_or_output(
    client, make_route, account, fake, exchange_url, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    route = make_route()
    post(client, route, payload(position="0.1"))
    post(client, route, payload("a-wrong-secret", position="0.2"))
    post(client, route, f'{{"secret": "{CANARY_ROUTE_SECRET}", broken'.encode())
    fake.add_fault("sendorder", "reject", count=1, status="insufficientAvailableFunds")
    post(client, route, payload(position="0.3", id="second"))
    run_queued_tasks()
    assert Order.objects.exists()

    stored = json.dumps(
        [
            list(Alert.objects.values("body", "raw_excerpt", "reject_detail")),
            list(Decision.objects.values("message", "snapshot", "route_config", "intent", "verdict", "checks")),
            list(Order.objects.values()),
        ],
        default=str,
    )
    admin = Client()
    admin.force_login(User.objects.create_superuser("support", "support@example.com", "x" * 12))
    pages = [
        "/admin/audit/alert/",
        "/admin/audit/decision/",
        "/admin/audit/order/",
        "/admin/accounts/exchangeaccount/",
        f"/admin/accounts/exchangeaccount/{account.pk}/change/",
        f"/admin/routing/route/{route.pk}/change/",
        *[f"/admin/audit/alert/{pk}/change/" for pk in Alert.objects.values_list("pk", flat=True)],
        *[f"/admin/audit/decision/{pk}/change/" for pk in Decision.objects.values_list("pk", flat=True)],
        *[f"/admin/audit/order/{pk}/change/" for pk in Order.objects.values_list("pk", flat=True)],
    ]
    rendered = []
    for page in pages:
        response = admin.get(page)
        assert response.status_code == 200, page
        rendered.append(response.content.decode())
    out = capsys.readouterr()
    haystacks = {"logs": caplog.text, "stored": stored, "admin": "\n".join(rendered), "output": out.out + out.err}
    for where, text in haystacks.items():
        for canary in CANARIES:
            assert canary not in text, f"a secret leaked into {where}"
    # The public key is not secret, but the admin shows only its fingerprint.
    assert TRADER_KEY not in haystacks["admin"]
    assert account.key_fingerprint in haystacks["admin"]


def test_the_exchange_account_repr_and_str_hold_no_key(account):
    for text in (str(account), repr(account)):
        assert TRADER_KEY not in text and TRADER_SECRET not in text


def test_support_sees_an_orders_history_and_the_routes_current_stop(client, make_route, fake, exchange_url):
    from decimal import Decimal

    fake.set_mark("PF_XBTUSD", Decimal(60000))
    route = make_route(sizing_mode="target", worst_case_stop_pct=Decimal(5))
    post(client, route, payload(position="0.1"))
    run_queued_tasks()
    admin = Client()
    admin.force_login(User.objects.create_superuser("support", "support@example.com", "x" * 12))
    page = admin.get(f"/admin/routing/route/{route.pk}/change/").content.decode()
    stop = Order.objects.get(route=route, purpose=Order.Purpose.WORST_CASE_STOP)
    assert f"{stop.client_order_id} sell 0.1" in page and "57000" in page
    order = Order.objects.get(route=route, purpose=Order.Purpose.STRATEGY)
    history = admin.get(f"/admin/audit/order/{order.pk}/change/").content.decode()
    for state in ("Pending submit", "Filled", "exchange accepted"):
        assert state in history
    assert admin.get("/admin/audit/attention/").status_code == 200
    assert admin.get(f"/admin/audit/order/?q={order.client_order_id}").status_code == 200
