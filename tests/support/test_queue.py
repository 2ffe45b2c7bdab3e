"""The "needs attention" queue: drift, stuck or unknown orders, failed stops, broken keys and alerts that failed
internally, oldest first, each with what to do, and acknowledged with who, when and a note."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.html import escape

from audit.models import Attention, Order
from audit.order_states import OrderState
from exchanges.base import OrderRequest, OrderType, Side
from exchanges.kraken.adapter import KrakenFutures
from routing import orders, reconcile
from routing.attention import raise_attention
from support.queue import WHAT_TO_DO
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, settle
from tests.support.conftest import alert

pytestmark = pytest.mark.django_db
QUEUE = "/admin/support/needsattention/"


@pytest.fixture
def incidents(client, make_route, account, fake, exchange_url):
    """Real incidents, each from the engine's own path: drift (a trade made by hand on the account), a stop the
    exchange refused, an alert whose processing failed, a broken key, and an order stuck without an answer."""
    route = make_route(name="BTC trend")
    alert(client, route, position="0.1")
    with KrakenFutures(fake.url, TRADER_KEY, TRADER_SECRET, connect_timeout=1, read_timeout=2) as venue:
        venue.place_order(
            OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.05"), OrderType.MARKET, client_order_id="hand-1")
        )
    settle(fake)
    reconcile.run()
    drift = Attention.objects.get(kind=Attention.Kind.POSITION_DRIFT)
    now = timezone.now()
    Attention.objects.filter(pk=drift.pk).update(created_at=now - timedelta(hours=3))
    stop = raise_attention(kind=Attention.Kind.STOP_FAILED, route=route, detail="stop refused: invalidPrice", now=now)
    Attention.objects.filter(pk=stop.pk).update(created_at=now - timedelta(hours=2))
    broken = raise_attention(
        kind=Attention.Kind.CREDENTIALS_BROKEN, route=None, exchange_account=account, detail="key revoked", now=now
    )
    stuck = orders.create_order(
        route=route,
        decision=None,
        leg=0,
        request=OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.01"), OrderType.MARKET, client_order_id=""),
        now=now - timedelta(minutes=30),
    )
    Order.objects.filter(pk=stuck.pk).update(state=OrderState.UNKNOWN, updated_at=now - timedelta(minutes=30))
    return {"route": route, "drift": drift, "stop": stop, "broken": broken, "stuck": stuck}


def test_the_queue_lists_each_kind_oldest_first_with_what_to_do(incidents, support):
    page = support.get(QUEUE)
    assert page.status_code == 200
    html = page.content.decode()
    drift, stop, broken, stuck = (incidents[k] for k in ("drift", "stop", "broken", "stuck"))
    order = [html.index(escape(text)) for text in (drift.detail, stop.detail, stuck.client_order_id, broken.detail)]
    assert order == sorted(order)  # oldest first: drift 3 h, stop 2 h, stuck order 30 min, the key just now
    for kind in (Attention.Kind.POSITION_DRIFT, Attention.Kind.STOP_FAILED, Attention.Kind.CREDENTIALS_BROKEN):
        assert escape(WHAT_TO_DO[kind]) in html
    assert "No definitive answer from the exchange for 30 min" in html
    assert "acknowledge the drift on the route" in html


def test_an_alert_that_failed_internally_is_queued_with_its_story(client, make_route, account, support, monkeypatch):
    """A bug in our own code while deciding (here: the risk evaluation raises) - through the webhook and the engine's
    own path: the alert ends as internal_error, nothing is sent, and the queue names the alert and what to do."""
    route = make_route(name="BTC trend")

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("routing.pipeline.evaluate", broken)
    failed = alert(client, route, position="0.1")
    assert failed.decision.reason == "internal_error" and not Order.objects.filter(decision=failed.decision).exists()
    html = support.get(QUEUE).content.decode()
    assert f"Alert {failed.pk} failed before it was decided; no order was sent (ZeroDivisionError)" in html
    assert escape(WHAT_TO_DO[Attention.Kind.INTERNAL_ERROR]) in html
    assert f'href="/admin/audit/alert/{failed.pk}/change/"' in html
    story = support.get(f"/admin/audit/alert/{failed.pk}/change/").content.decode()
    assert escape(failed.decision.message) in story and "ZeroDivisionError" in story


def test_acknowledging_records_who_when_and_why_and_takes_it_off_the_queue(incidents, support):
    stop = incidents["stop"]
    response = support.post(f"{QUEUE}item/{stop.pk}/acknowledge/", {"note": "told the trader; invalid price fixed"})
    assert response.status_code == 302
    stop.refresh_from_db()
    assert stop.resolved_by.email == "helpdesk@example.com"
    assert stop.resolved_at is not None and stop.resolution_note == "told the trader; invalid price fixed"
    assert escape(stop.detail) not in support.get(QUEUE).content.decode()
    # The history of items keeps it, with the same trail.
    history = support.get("/admin/audit/attention/").content.decode()
    assert "told the trader; invalid price fixed" in history and "helpdesk" in history


def test_a_stuck_order_is_acknowledged_into_an_attention_item(incidents, support):
    stuck = incidents["stuck"]
    support.post(f"{QUEUE}order/{stuck.pk}/acknowledge/", {"note": "not on Kraken: never placed"})
    item = Attention.objects.get(order=stuck)
    assert (item.kind, item.resolution_note, item.resolved_by.email) == (
        Attention.Kind.ORDER_UNRESOLVED,
        "not on Kraken: never placed",
        "helpdesk@example.com",
    )
    assert stuck.client_order_id not in support.get(QUEUE).content.decode()


def test_acknowledging_needs_a_note_and_the_permission(incidents, support, trader, client):
    stop = incidents["stop"]
    support.post(f"{QUEUE}item/{stop.pk}/acknowledge/", {"note": "  "})
    stop.refresh_from_db()
    assert stop.resolved_at is None
    client.force_login(trader)  # not staff
    assert client.post(f"{QUEUE}item/{stop.pk}/acknowledge/", {"note": "x"}).status_code == 302  # to the login
    stop.refresh_from_db()
    assert stop.resolved_at is None


def test_bulk_acknowledge_from_the_history_list(incidents, support):
    ids = [incidents["stop"].pk, incidents["broken"].pk]
    ask = support.post("/admin/audit/attention/", {"action": "acknowledge", "_selected_action": ids})
    assert ask.status_code == 200 and "A note is required" not in ask.content.decode()
    support.post(
        "/admin/audit/attention/", {"action": "acknowledge", "_selected_action": ids, "apply": "1", "note": "checked"}
    )
    assert (
        Attention.objects.filter(
            pk__in=ids, resolved_by__email="helpdesk@example.com", resolution_note="checked"
        ).count()
        == 2
    )
