""" "Test this route" evaluates without sending or storing; "flatten and pause" cancels, closes reduce-only with a
recorded order, pauses, and records every step - through the fake Kraken over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Alert, Decision, Order, RouteEvent
from audit.order_states import OrderState
from routing import lease
from routing.domain import Action, AlertIntent
from routing.flatten import flatten_and_pause
from routing.preview import preview
from tests.stack import fake_positions

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return Alert.objects.count(), Decision.objects.count(), Order.objects.count(), RouteEvent.objects.count()


def test_preview_shows_the_decision_and_every_check_and_sends_and_stores_nothing(traders, fake) -> None:
    a, _ = traders
    before, sent_before = counts(), fake.calls("sendorder")
    now = timezone.now()
    result = preview(
        a.route, AlertIntent(action=Action.BUY, fired_at=now, position=Decimal("0.05"), market_position="long"), now
    )
    assert result.would_send and "buy 0.04" in result.sentence
    names = [c.name for c in result.checks]
    assert names[:3] == ["route_enabled", "exchange_account", "credentials"] and "position_change" in names
    assert counts() == before and fake.calls("sendorder") == sent_before


def test_preview_page_shows_a_skip_with_its_failing_check(traders, fake) -> None:
    a, _ = traders
    a.route.max_position = Decimal("0.02")
    a.route.save()
    before, sent_before = counts(), fake.calls("sendorder")
    response = a.client.post(
        reverse("route_test", args=[a.route.pk]), {"action": "buy", "position": "1", "market_position": "long"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Would skip" in html and "your limit is 0.02" in html and "Max position" in html
    assert counts() == before and fake.calls("sendorder") == sent_before


def test_preview_page_refuses_bad_input_clearly(traders) -> None:
    a, _ = traders
    response = a.client.post(reverse("route_test", args=[a.route.pk]), {"action": "sideways", "position": "x"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode() and "Enter a number" in response.content.decode()


def test_flatten_closes_reduce_only_pauses_and_records_every_step(traders, fake) -> None:
    from tests.routing.conftest import TRADER_KEY

    a, _ = traders
    assert fake_positions(fake.url, TRADER_KEY) == {"PF_XBTUSD": "0.01"}
    assert Order.objects.filter(route=a.route, purpose=Order.Purpose.WORST_CASE_STOP, state=OrderState.OPEN).exists()
    response = a.client.post(reverse("route_flatten", args=[a.route.pk]), follow=True)
    assert response.status_code == 200
    a.route.refresh_from_db()
    assert not a.route.enabled
    close = Order.objects.filter(route=a.route, decision=None, purpose=Order.Purpose.FLATTEN).get()
    assert (close.side, close.size, close.reduce_only, close.state) == (
        "sell",
        Decimal("0.01"),
        True,
        OrderState.FILLED,
    )
    assert close.client_order_id.startswith("or-")  # minted before the call, installation prefix first
    assert fake_positions(fake.url, TRADER_KEY) == {}
    # The worst-case stop went with the position.
    assert not Order.objects.filter(
        route=a.route, purpose=Order.Purpose.WORST_CASE_STOP, state__in=[OrderState.OPEN, OrderState.PENDING_SUBMIT]
    ).exists()
    kinds = list(RouteEvent.objects.filter(route=a.route).order_by("pk").values_list("kind", "actor_id"))
    assert [k for k, _ in kinds][-4:] == [
        RouteEvent.Kind.FLATTEN_REQUESTED,
        RouteEvent.Kind.DISABLED,
        RouteEvent.Kind.ORDERS_CANCELLED,
        RouteEvent.Kind.POSITION_CLOSED,
    ]
    assert all(actor == a.user.pk for _, actor in kinds[-4:])
    assert "filled 0.01 of 0.01" in response.content.decode()


def test_a_close_that_times_out_is_unknown_never_a_failure_and_is_not_resent(traders, fake, settings) -> None:
    a, _ = traders
    sent = fake.calls("sendorder")
    fake.add_fault("sendorder", "accept_then_drop", seconds=2.0)
    result = flatten_and_pause(a.route, actor=a.user)
    assert result.outcome == "closing"
    close = result.close_order
    assert close is not None
    close.refresh_from_db()
    assert close.state == OrderState.UNKNOWN and close.submit_attempts == 1
    assert "outcome is unknown" in RouteEvent.objects.filter(route=a.route).latest("pk").detail
    assert fake.calls("sendorder") == sent + 1  # the close, once


def test_a_rejected_close_says_the_position_is_still_open(traders, fake) -> None:
    a, _ = traders
    fake.add_fault("sendorder", "reject", status="wouldNotReducePosition")
    result = flatten_and_pause(a.route, actor=a.user)
    assert result.outcome == "failed"
    assert "still open" in result.steps[-1] and "wouldNotReducePosition" in result.steps[-1]
    a.route.refresh_from_db()
    assert not a.route.enabled  # paused whatever happened next


def test_flatten_while_an_alert_holds_the_route_changes_nothing(traders, fake) -> None:
    a, _ = traders
    sent = fake.calls("sendorder")
    held = lease.acquire(a.route.pk, timezone.now())
    assert held is not None
    result = flatten_and_pause(a.route, actor=a.user)
    assert result.outcome == "busy"
    a.route.refresh_from_db()
    assert a.route.enabled and fake.calls("sendorder") == sent
    lease.release(held, hand_on=False)


def test_flatten_of_a_flat_route_just_pauses(traders, fake) -> None:
    a, _ = traders
    flatten_and_pause(a.route, actor=a.user)
    sent = fake.calls("sendorder")
    result = flatten_and_pause(a.route, actor=a.user)
    assert result.outcome == "flat" and "already flat" in result.steps[-1]
    assert fake.calls("sendorder") == sent


def test_flatten_leaves_a_position_that_another_enabled_route_now_owns(traders, fake) -> None:
    from routing.models import Route

    a, _ = traders
    a.client.post(reverse("route_disable", args=[a.route.pk]))
    other = Route(owner=a.user, name="New", exchange_account=a.account, symbol="PF_XBTUSD", sizing_mode="target")
    other.set_secret("o" * 20)
    other.save()
    sent = fake.calls("sendorder")
    result = flatten_and_pause(a.route, actor=a.user, clock=lambda: timezone.now() + timedelta(seconds=1))
    assert "Another enabled route trades PF_XBTUSD" in " ".join(result.steps)
    assert fake.calls("sendorder") == sent
