"""Staff actions that change a route's state - pause, acknowledge drift, flatten - each ask why, and are recorded as
RouteEvents with who and when, shown on the route's page. Support may pause and acknowledge drift; flattening
places an order, so it takes a permission the Support group does not have."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from audit.models import Attention, RouteEvent
from audit.reasons import Reason
from exchanges.base import OrderRequest, OrderType, Side
from exchanges.kraken.adapter import KrakenFutures
from routing import reconcile
from routing.models import Route
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, settle
from tests.support.conftest import alert

pytestmark = pytest.mark.django_db


def route_page(client, route) -> str:
    return client.get(f"/admin/routing/route/{route.pk}/change/").content.decode()


def test_support_pauses_a_route_saying_why(story, support):
    route = story["route"]
    assert f'href="/admin/routing/route/{route.pk}/pause/"' in route_page(support, route)
    assert "flatten" not in route_page(support, route).split("object-tools")[1][:600]  # no flatten button for support
    ask = support.get(f"/admin/routing/route/{route.pk}/pause/")
    assert ask.status_code == 200 and "New alerts of this route will be skipped" in ask.content.decode()
    assert support.post(f"/admin/routing/route/{route.pk}/pause/", {"why": ""}).status_code == 200  # asks again
    assert Route.objects.get(pk=route.pk).enabled
    support.post(f"/admin/routing/route/{route.pk}/pause/", {"why": "trader asked by phone, ticket 812"})
    assert not Route.objects.get(pk=route.pk).enabled
    event = RouteEvent.objects.get(route=route, kind=RouteEvent.Kind.DISABLED)
    assert event.actor.email == "helpdesk@example.com" and "ticket 812" in event.detail
    page = route_page(support, route)
    assert "ticket 812" in page and "helpdesk" in page and event.at.strftime("%Y-%m-%d %H:%M:%S UTC") in page


def test_support_acknowledges_drift_and_the_route_trades_again(client, make_route, fake, exchange_url, support):
    route = make_route(name="BTC trend")
    alert(client, route, position="0.1")
    with KrakenFutures(fake.url, TRADER_KEY, TRADER_SECRET, connect_timeout=1, read_timeout=2) as venue:
        venue.place_order(OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.05"), OrderType.MARKET, client_order_id="h-1"))
    settle(fake)
    reconcile.run()
    route.refresh_from_db()
    assert route.frozen_reason
    assert alert(client, route, position="0.3").decision.reason == Reason.ROUTE_FROZEN

    support.post(f"/admin/routing/route/{route.pk}/acknowledge-drift/", {"why": "trader bought 0.05 by hand"})
    route.refresh_from_db()
    assert not route.frozen_reason
    event = RouteEvent.objects.get(route=route, kind=RouteEvent.Kind.DRIFT_ACKNOWLEDGED)
    assert event.actor.email == "helpdesk@example.com" and "trader bought 0.05 by hand" in event.detail
    assert "exchange position 0.15" in event.detail
    drift = Attention.objects.get(kind=Attention.Kind.POSITION_DRIFT)
    assert drift.resolved_by == event.actor
    assert "trader bought 0.05 by hand" in route_page(support, route)
    # Re-based on 0.15: the strategy's target of 0.3 buys the difference.
    assert alert(client, route, position="0.3").decision.reason == Reason.ORDER_SENT
    assert fake.position(TRADER_KEY, "PF_XBTUSD") == Decimal("0.3")


def test_flatten_needs_its_own_permission_and_closes_the_position(story, support, fake):
    route = story["route"]
    assert support.post(f"/admin/routing/route/{route.pk}/flatten/", {"why": "x"}).status_code == 403
    assert fake.position(TRADER_KEY, "PF_XBTUSD") == Decimal("0.1")
    senior = User.objects.get(email="helpdesk@example.com")
    senior.user_permissions.add(Permission.objects.get(codename="flatten_route"))
    assert 'flatten/"' in route_page(support, route)
    support.post(f"/admin/routing/route/{route.pk}/flatten/", {"why": "account holder deceased; estate asked"})
    assert fake.position(TRADER_KEY, "PF_XBTUSD") == Decimal(0)
    kinds = list(RouteEvent.objects.filter(route=route).values_list("kind", "actor__email"))
    assert (RouteEvent.Kind.NOTE, "helpdesk@example.com") in kinds
    assert (RouteEvent.Kind.FLATTEN_REQUESTED, "helpdesk@example.com") in kinds
    assert any(kind == RouteEvent.Kind.POSITION_CLOSED for kind, _ in kinds)
    assert not Route.objects.get(pk=route.pk).enabled
    assert "account holder deceased" in route_page(support, route)


def test_a_superuser_edit_is_history_too(story, superuser):
    route = story["route"]
    page = superuser.get(f"/admin/routing/route/{route.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data["max_position"] = "0.7"
    data.update({"history-TOTAL_FORMS": "0", "history-INITIAL_FORMS": "0"})
    response = superuser.post(f"/admin/routing/route/{route.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Route.objects.get(pk=route.pk).max_position == Decimal("0.7")
    edit = RouteEvent.objects.get(route=route, kind=RouteEvent.Kind.EDITED)
    assert edit.actor.email == "root@example.com" and "max_position" in edit.detail
