"""Issue 7's scenarios, each through the real path: the webhook (Django's test client) → the engine deciding the
alert inline (`tests.worker.run_queued_tasks`) → the fake Kraken over real HTTP (REST, or the Unified WebSocket:
tests/routing/conftest.py runs every test here on both unless it says why not) → reconciliation.

One test (or a small group) per numbered item, named for the behaviour, its docstring quoting what the issue says
must hold. Items already proven elsewhere are not repeated here:
- 5 (paper is never live): tests/routing/test_paper_route.py
  `test_an_exchange_account_switched_to_paper_never_reaches_the_live_account`;
- 13 (the breaker): tests/routing/test_lifecycle.py
  `test_the_breaker_counts_failed_order_calls_only_and_never_blocks_an_exit` and
  `test_our_own_rate_budget_refusals_never_count_towards_the_breaker`;
- 14 (an exit needs only what it uses): tests/routing/test_alert_to_order.py `test_an_exit_needs_only_the_data_it_uses`;
- 6's move in place (`editorder`, no second order): tests/routing/test_lifecycle.py
  `test_the_worst_case_stop_follows_the_position_and_goes_when_flat`;
- 18's adapter side (processBefore on the wire, the venue refusing a late attempt, both client-id reuse rules):
  tests/exchanges/kraken/test_kraken_deadline_and_edit.py and test_kraken_client_id_reuse.py.
Items about processes (16: SECRET_KEY rotation; 19: a holder that lost its lease cannot send) are in
test_engine_scenarios_stack.py; item 20 is the benchmark in bench/.

Behaviour is asserted before vocabulary (the fake's position and order count before a reason code), so a run
against code without the fix fails on what the trader would see.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.models import ExchangeAccount
from audit.models import Alert, Attention, Decision, Order
from audit.order_states import OrderState
from audit.reasons import Reason
from routing import reconcile
from routing.models import Route
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, payload, post, settle
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db

SYMBOL = "PF_XBTUSD"
# Another secret of the same shape (base64 of 64 bytes): the one a trader gets when regenerating the key's secret.
REGENERATED_SECRET = (
    "bmV3IHNlY3JldCBvZiB0aGUgc2FtZSBrZXksIHJlZ2VuZXJhdGVkIGJ5IHRoZSB0cmFkZXIgb24gS3Jha2VuIDAxMjM0NTY3OA=="
)

_ids = iter(range(1_000_000))


def send(client: Any, route: Route, **fields: Any) -> Decision:
    """One alert through the webhook and the engine; its decision."""
    fields.setdefault("id", f"s-{next(_ids)}")
    response = post(client, route, payload(**fields))
    assert response.status_code == 202, response.content
    run_queued_tasks()
    alert = Alert.objects.get(pk=response.json()["alert"])
    assert alert.status == Alert.Status.DECIDED
    return alert.decision


def later(seconds: float):
    """A clock `seconds` ahead: past deadlines and lookup windows without sleeping."""
    return lambda: timezone.now() + timedelta(seconds=seconds)


def position(fake: Any, key: str = TRADER_KEY) -> Decimal:
    return fake.position(key, SYMBOL)


def resting_stops(fake: Any, key: str = TRADER_KEY) -> list[Any]:
    """The reduce-only stops resting on the exchange (the fake's engine, whatever our books say)."""
    return [o for o in fake.engine.open_orders(fake.account_id(key)) if o.reduce_only and o.stop_price is not None]


def only_rest(fake: Any, why: str) -> None:
    if fake.uws is not None:
        pytest.skip(why)


def open_attention(kind: str) -> list[Attention]:
    return list(Attention.objects.filter(kind=kind, resolved_at__isnull=True))


# --- 1. In-flight orders count ------------------------------------------------------------------------------------


def test_an_order_in_flight_keeps_the_next_alert_from_buying_again_and_is_never_resent_after_it(
    client, make_route, fake, exchange_url
):
    """Item 1: "An order whose outcome is unknown (or pending submit) is part of the route's state: the next alert
    of that route must not size as if it did not exist, and the sweeper must not re-send an old order after a later
    decision of the same route was made." Today: the first send times out, a second alert with the same target buys
    again, then the sweeper re-sends the first - double the strategy's position."""
    route = make_route()
    fake.add_fault("sendorder", "timeout_before", count=1, seconds=2)
    first = send(client, route, position="0.1")
    second = send(client, route, position="0.1")
    assert fake.calls("sendorder") == 1 and position(fake) == 0  # the second alert sent nothing
    reconcile.run(clock=later(40))  # past the first attempt's deadline and the lookup window
    reconcile.run(clock=later(600))
    assert fake.calls("sendorder") == 1 and position(fake) == 0  # the first was never re-sent
    assert second.reason == Reason.ORDER_IN_FLIGHT
    (unconfirmed,) = first.orders.all()
    assert (unconfirmed.state, unconfirmed.venue_status) == (OrderState.REJECTED, "not_placed")
    first.refresh_from_db()
    assert first.reason == Reason.SUPERSEDED
    # Target mode heals on the next alert: exactly the strategy's position, once.
    assert send(client, route, position="0.1").reason == Reason.ORDER_SENT
    assert position(fake) == Decimal("0.1") and fake.calls("sendorder") == 2


def test_an_order_that_landed_unseen_is_adopted_before_the_next_alert_sizes(client, make_route, fake, exchange_url):
    """Item 1: the next alert "must not size as if it did not exist": the order landed but its answer was lost and
    the immediate lookup failed too; the next alert looks it up first and sizes from the position it made."""
    only_rest(fake, "its lever is a failing REST lookup endpoint (orders/status)")
    route = make_route()
    fake.add_fault("sendorder", "accept_then_drop", count=1, seconds=2)
    fake.add_fault("orders/status", "unavailable", count=1)  # the lookup right after the lost answer fails
    first = send(client, route, position="0.1")
    assert position(fake) == Decimal("0.1")
    second = send(client, route, position="0.1")
    assert position(fake) == Decimal("0.1") and fake.calls("sendorder") == 1
    assert second.reason == Reason.ALREADY_AT_TARGET
    (adopted,) = first.orders.all()
    assert adopted.state == OrderState.FILLED


def test_a_never_placed_order_is_not_resent_once_its_alert_is_older_than_the_maximum_age(
    client, make_route, fake, exchange_url
):
    """Item 1: "the sweeper must not re-send an old order ... after the alert's maximum age"."""
    route = make_route(max_alert_age_seconds=120)
    fake.add_fault("sendorder", "timeout_before", count=1, seconds=2)
    decision = send(client, route, position="0.1")
    reconcile.run(clock=later(200))  # the first look after the alert went stale
    assert fake.calls("sendorder") == 1 and position(fake) == 0
    (order,) = decision.orders.all()
    assert (order.state, order.venue_status) == (OrderState.REJECTED, "not_placed")
    decision.refresh_from_db()
    assert decision.reason == Reason.STALE_ALERT


# --- 2. Exits stay exits ------------------------------------------------------------------------------------------


def test_after_the_stop_closed_a_long_a_flat_exit_opens_no_short(client, make_route, fake, exchange_url):
    """Item 2: "an alert whose market_position is flat ... must never open or grow a position. Today, after the
    worst-case stop closed a long, the strategy's 'sell 0.1, flat' opens a 0.1 short"."""
    fake.set_mark(SYMBOL, Decimal(60000))
    route = make_route(sizing_mode="contracts", worst_case_stop_pct=Decimal(5))
    assert send(client, route, action="buy", contracts="0.1", market_position="long").reason == Reason.ORDER_SENT
    fake.set_mark(SYMBOL, Decimal(56000))  # through the stop at 57,000
    assert position(fake) == 0
    settle(fake)
    reconcile.run()
    sent = fake.calls("sendorder")
    exit_decision = send(client, route, action="sell", contracts="0.1", market_position="flat")
    assert position(fake) == 0 and fake.calls("sendorder") == sent
    assert exit_decision.reason == Reason.ALREADY_AT_TARGET


@pytest.mark.parametrize("mode", ["contracts", "fixed"])
def test_after_a_partial_entry_a_flat_exit_closes_only_what_is_held(client, make_route, fake, exchange_url, mode):
    """Item 2: "after a partial entry (0.1 of 0.3 filled) 'sell 0.3, flat' leaves a 0.2 short" - it must close the
    0.1 held, reduce-only, and nothing more."""
    route = make_route(sizing_mode=mode, fixed_size=Decimal("0.3") if mode == "fixed" else None)
    size = {"contracts": "0.3"} if mode == "contracts" else {}
    fake.set_liquidity(SYMBOL, Decimal("0.1"))
    send(client, route, action="buy", market_position="long", **size)
    held = position(fake)
    assert Decimal(0) < held < Decimal("0.3")
    fake.set_liquidity(SYMBOL, None)
    exit_decision = send(client, route, action="sell", market_position="flat", **size)
    assert position(fake) == 0
    (order,) = exit_decision.orders.all()
    assert (order.side, order.size, order.reduce_only) == ("sell", held, True)


def test_a_sell_that_leaves_the_strategy_long_never_crosses_into_a_short(client, make_route, fake, exchange_url):
    """Item 2: an alert "whose direction disagrees with the increasing leg must never open or grow a position": the
    strategy says it is still long after selling 0.3; we hold 0.1, so we sell 0.1 and stop at flat."""
    route = make_route(sizing_mode="contracts")
    send(client, route, action="buy", contracts="0.1", market_position="long")
    decision = send(client, route, action="sell", contracts="0.3", market_position="long")
    assert position(fake) == 0
    assert [(o.side, o.size, o.reduce_only) for o in decision.orders.all()] == [("sell", Decimal("0.1"), True)]


# --- 3. Older never overrides newer -------------------------------------------------------------------------------


def test_an_alert_fired_before_the_newest_decided_one_is_superseded(client, make_route, fake, exchange_url):
    """Item 3: "An alert fired earlier than the last decided alert of its route (by TradingView's time) is skipped
    with its own reason (superseded), not executed after the newer target." Alerts of one second are not older than
    each other: they go in arrival order."""
    route = make_route()
    fired = datetime.now(UTC).replace(microsecond=0)
    assert send(client, route, position="0.2", fired=fired).reason == Reason.ORDER_SENT
    older = send(client, route, position="0.1", fired=fired - timedelta(seconds=5))
    assert position(fake) == Decimal("0.2") and fake.calls("sendorder") == 1
    assert older.reason == Reason.SUPERSEDED and not older.orders.exists()
    same_second = send(client, route, position="0.3", fired=fired)
    assert same_second.reason == Reason.ORDER_SENT and position(fake) == Decimal("0.3")


# --- 4. One symbol identity ---------------------------------------------------------------------------------------


def test_a_lower_case_route_symbol_sees_its_own_position_and_gets_its_stop(client, make_route, fake, exchange_url):
    """Item 4: "Today a lower-case route symbol never sees its own position (every target alert buys again and no
    stop is placed)"."""
    fake.set_mark(SYMBOL, Decimal(60000))
    route = make_route(symbol="pf_xbtusd", worst_case_stop_pct=Decimal(5))
    send(client, route, position="0.1")
    again = send(client, route, position="0.1")
    assert position(fake) == Decimal("0.1") and fake.calls("sendorder") == 2  # the entry and its stop
    assert again.reason == Reason.ALREADY_AT_TARGET
    (stop,) = resting_stops(fake)
    assert (stop.size, stop.stop_price) == (Decimal("0.1"), Decimal(57000))


def test_a_look_alike_symbol_never_matches(client, make_route, fake, exchange_url):
    """Item 4: "`XBTUſD` (long s) matches `XBTUSD` through casefold" - it must be refused, by name."""
    route = make_route(sizing_mode="contracts", tv_alias="XBTUSD")
    response = post(client, route, payload(action="buy", contracts="0.1", symbol="XBTUſD", id="long-s"))
    run_queued_tasks()
    assert position(fake) == 0 and fake.calls("sendorder") == 0
    assert response.status_code == 400 and "symbol" in response.json()["detail"]


def test_symbols_differing_only_in_case_are_one_alert(client, make_route, fake, exchange_url):
    """Item 4: "an alert's symbol is matched and deduplicated under the same normalisation ... `XBTUSD`/`xbtusd`
    dedupe as two alerts" today."""
    route = make_route(sizing_mode="contracts", tv_alias="XBTUSD")
    body = payload(action="buy", contracts="0.1", id="one-signal")
    first = post(client, route, {**body, "symbol": "XBTUSD"})
    copy = post(client, route, {**body, "symbol": "xbtusd"})
    run_queued_tasks()
    assert position(fake) == Decimal("0.1") and fake.calls("sendorder") == 1
    assert (first.status_code, copy.status_code) == (202, 200)
    assert copy.json()["alert"] == first.json()["alert"]


# --- 6. The confirmed stop goes only after its replacement is confirmed -----------------------------------------


def test_an_ambiguous_replacement_never_costs_the_confirmed_stop(client, make_route, fake, exchange_url):
    """Item 6: "The confirmed stop is cancelled only after its replacement is confirmed open ... Today an ambiguous
    replacement gets the confirmed stop cancelled." The position grows, the venue refuses to move the stop in place,
    and the replacement's answer is lost: the confirmed stop must stay until the replacement is confirmed."""
    fake.set_mark(SYMBOL, Decimal(60000))
    route = make_route(worst_case_stop_pct=Decimal(5))
    send(client, route, position="0.1")
    (confirmed,) = resting_stops(fake)
    fake.add_fault("editorder", "reject", count=1, status="invalidSize")
    fake.add_fault("sendorder", "latency", count=1, seconds=0)  # the strategy's order goes through
    fake.add_fault("sendorder", "timeout_before", count=1, seconds=2)  # the replacement stop's answer is lost
    send(client, route, position="0.3")
    assert position(fake) == Decimal("0.3")
    assert [o.order_id for o in resting_stops(fake)] == [confirmed.order_id]  # still protected
    old = Order.objects.get(client_order_id=confirmed.client_order_id)
    assert old.state == OrderState.OPEN
    # The replacement never arrived; once that is certain, the upkeep brings the one stop to the new size (moved in
    # place now that the venue lets it).
    reconcile.run(clock=later(40))
    (stop,) = resting_stops(fake)
    assert (stop.order_id, stop.size, stop.stop_price) == (confirmed.order_id, Decimal("0.3"), Decimal(57000))
    old.refresh_from_db()
    assert (old.state, old.size) == (OrderState.OPEN, Decimal("0.3"))


# --- 7. Unknown is not flat ---------------------------------------------------------------------------------------


def test_an_unreadable_position_leaves_the_resting_stop_and_says_so(client, make_route, fake, exchange_url):
    """Item 7: "Unknown is not flat: when the position is non-zero and any input of the stop plan is missing
    (instrument spec, position read), leave the resting stop alone and raise an attention item." (The position read
    fails for the decision and for the upkeep after it.)"""
    fake.set_mark(SYMBOL, Decimal(60000))
    route = make_route(worst_case_stop_pct=Decimal(5))
    send(client, route, position="0.1")
    (stop,) = resting_stops(fake)
    if fake.uws is None:
        fake.add_fault("openpositions", "unavailable", count=2)
    else:
        fake.uws.spot.unavailable = True
        fake.uws.drop_connections()
    skipped = send(client, route, position="0.2")
    assert [o.order_id for o in resting_stops(fake)] == [stop.order_id] and position(fake) == Decimal("0.1")
    assert Order.objects.get(client_order_id=stop.client_order_id).state == OrderState.OPEN
    assert skipped.reason == Reason.EXCHANGE_UNAVAILABLE
    (item,) = open_attention("stop_unverified")
    assert "could not be read" in item.detail


def test_a_missing_instrument_spec_leaves_the_resting_stop_and_says_so(client, make_route, fake, exchange_url):
    """Item 7, the other input of the plan: the instrument list cannot be read while the position is open."""
    only_rest(fake, "its lever is a failing REST instruments endpoint; the Unified WebSocket streams them")
    from routing.snapshot import forget_instruments

    fake.set_mark(SYMBOL, Decimal(60000))
    route = make_route(worst_case_stop_pct=Decimal(5))
    send(client, route, position="0.1")
    (stop,) = resting_stops(fake)
    forget_instruments()
    fake.add_fault("instruments", "unavailable", count=5)
    reconcile.run()
    assert [o.order_id for o in resting_stops(fake)] == [stop.order_id] and position(fake) == Decimal("0.1")
    (item,) = open_attention("stop_unverified")
    assert "PF_XBTUSD could not be read" in item.detail
    # Once the stop is verified again, the item resolves itself.
    fake.clear_faults()
    reconcile.run()
    assert open_attention("stop_unverified") == []


# --- 8. A stop already through the price is not placed blindly ---------------------------------------------------


def test_a_stop_level_already_through_the_mark_is_placed_one_tick_on_the_safe_side(
    client, make_route, fake, exchange_url
):
    """Item 8: "A stop whose trigger is already through the mark is not placed blindly: decide (place at the nearest
    safe price, or raise attention)". Entry 60,000, 5 % = 57,000, but the mark is already 56,000: a sell stop at
    57,000 would fire the moment it lands and close the position."""
    fake.set_mark(SYMBOL, Decimal(60000))
    route = make_route()
    send(client, route, position="0.1")
    fake.set_mark(SYMBOL, Decimal(56000))
    settle(fake)
    Route.objects.filter(pk=route.pk).update(worst_case_stop_pct=Decimal(5))
    reconcile.run()
    assert position(fake) == Decimal("0.1")  # not closed by its own stop
    (stop,) = resting_stops(fake)
    assert stop.stop_price == Decimal(55999)  # one tick (1) below the trigger price
    (item,) = open_attention("stop_failed")
    assert "already through" in item.detail and "55999" in item.detail and "57000" in item.detail


# --- 9. One stop per position ------------------------------------------------------------------------------------


def test_a_disabled_route_only_winds_its_stop_down_beside_the_enabled_one(client, make_route, fake, exchange_url):
    """Item 9: "A disabled route only winds its stop down; it never keeps a full-size stop beside the enabled
    route's." While it is the only route of the instrument, its open position stays protected."""
    fake.set_mark(SYMBOL, Decimal(60000))
    first = make_route(name="first", worst_case_stop_pct=Decimal(5))
    send(client, first, position="0.1")
    Route.objects.filter(pk=first.pk).update(enabled=False)
    reconcile.run()
    assert len(resting_stops(fake)) == 1  # alone, the disabled route still protects the position
    second = make_route(name="second", worst_case_stop_pct=Decimal(5))
    send(client, second, position="0.1")
    reconcile.run()
    (stop,) = resting_stops(fake)
    assert stop.size == Decimal("0.1")
    assert Order.objects.get(client_order_id=stop.client_order_id).route_id == second.pk


# --- 10. One incident, one attention item, one e-mail -------------------------------------------------------------


def test_a_stop_that_keeps_failing_raises_one_item_and_one_email(client, make_route, fake, exchange_url):
    """Item 10: "A stop that keeps failing raises one attention item and one e-mail, not one per attempt.\""""
    route = make_route()
    send(client, route, position="0.1")
    Route.objects.filter(pk=route.pk).update(worst_case_stop_pct=Decimal(5))
    fake.add_fault("sendorder", "reject", count=3, status="invalidPrice")
    for _ in range(3):
        reconcile.run()
    assert resting_stops(fake) == []
    assert Attention.objects.filter(kind="stop_failed").count() == 1
    assert len(mail.outbox) == 1
    assert Attention.objects.get(kind="stop_failed").occurrences == 3


# --- 11. Drift can be acknowledged --------------------------------------------------------------------------------


def test_acknowledged_drift_re_bases_the_route_and_it_stays_unfrozen(client, make_route, trader, fake, exchange_url):
    """Item 11: "Drift can be acknowledged: a support person (admin action) or the trader re-bases the route on the
    exchange's position, recorded with who and when; after that the comparison uses the baseline plus later fills.
    Foreign fills (a manual trade, a liquidation) are named as such. Today clearing the frozen reason re-freezes a
    minute later, forever."

    Through the trader's re-base form on the route page (the support admin action calls the same
    `routing.drift.acknowledge`; its own test lives with the admin)."""
    from django.urls import reverse

    from audit.models import RouteEvent
    from exchanges.base import OrderRequest, OrderType, Side
    from exchanges.kraken.adapter import KrakenFutures
    from routing.models import RouteState

    route = make_route()
    send(client, route, position="0.1")
    by_hand = KrakenFutures(fake.url, TRADER_KEY, TRADER_SECRET, connect_timeout=1, read_timeout=2)
    by_hand.place_order(OrderRequest(SYMBOL, Side.BUY, Decimal("0.05"), OrderType.MARKET, "by-hand-1"))
    by_hand.close()
    settle(fake)
    reconcile.run()
    assert route.frozen_reason
    (drift,) = open_attention("position_drift")
    assert "a trade not placed by OrderRail (buy 0.05 at" in drift.detail
    assert send(client, route, position="0.2").reason != Reason.ORDER_SENT  # frozen: no new exposure
    assert position(fake) == Decimal("0.15")

    client.force_login(trader)
    response = client.post(reverse("route_rebase", args=[route.pk]), {"note": "my manual buy"}, follow=True)
    assert "New exposure is allowed again" in response.content.decode()
    client.logout()
    assert not route.frozen_reason
    reconcile.run()
    reconcile.run(clock=later(120))
    assert not route.frozen_reason  # the comparison now starts from the re-based 0.15
    assert send(client, route, position="0.25").reason == Reason.ORDER_SENT  # new exposure allowed again
    assert position(fake) == Decimal("0.25")
    reconcile.run()
    assert not route.frozen_reason  # baseline 0.15 + our later fill of 0.1

    state = RouteState.objects.get(route=route)
    assert state.baseline_position == Decimal("0.15") and state.baseline_at is not None
    (event,) = RouteEvent.objects.filter(route=route, kind=RouteEvent.Kind.DRIFT_ACKNOWLEDGED)
    assert event.actor == trader and "my manual buy" in event.detail
    drift.refresh_from_db()
    assert drift.resolved_at is not None and drift.resolved_by == trader


# --- 12. Real venue transitions; one failure never stops the others ---------------------------------------------


def second_account(fake: Any, trader: Any, transport: str, label: str = "Second") -> ExchangeAccount:
    key = "second-api-key-0002"
    fake.add_account(key, TRADER_SECRET, collateral=Decimal("100000"))
    acc = ExchangeAccount(owner=trader, label=label, mode=ExchangeAccount.Mode.LIVE)
    if hasattr(acc, "transport"):
        acc.transport = transport
    acc.set_credentials(key, TRADER_SECRET)
    if transport == "uws":
        ws_key, ws_secret = "second-ws-key-0002", "c2Vjb25kIHVuaWZpZWQgd2Vic29ja2V0IHNlY3JldCBmb3IgdGVzdHM="
        fake.uws.add_spot_key(ws_key, ws_secret, futures_key=key)
        acc.set_ws_credentials(ws_key, ws_secret)
    acc.save()
    return acc


def venue_fails_the_trigger(fake: Any, client_order_id: str) -> None:
    """The venue's own event, as the sim engine records it when a triggered stop's order fails its checks (Kraken's
    TRIGGER_ACTIVATION_FAILURE); the fake has no switch for it, so it is made the engine's way."""
    from exchanges.sim.vocabulary import Reason as SimReason
    from exchanges.sim.vocabulary import SimOrderState

    with fake.lock:
        order = next(o for o in fake.engine.state.orders.values() if o.client_order_id == client_order_id)
        fake.engine._finish(order, SimOrderState.TRIGGER_FAILED, SimReason.NOT_ENOUGH_MARGIN, fake.clock())
        fake.engine.revision += 1
    settle(fake)


def test_a_stop_the_venue_rejects_after_it_rested_is_recorded_and_replaced_and_other_accounts_go_on(
    client, make_route, trader, fake, exchange_url, transport
):
    """Item 12: "Transitions that real venues produce exist in the table (an open or triggered stop that is
    rejected, e.g. TRIGGER_ACTIVATION_FAILURE) ... Today one InvalidTransition aborts reconciliation for every
    account after it, every minute." The second account's position needs its stop placed in the same run."""
    fake.set_mark(SYMBOL, Decimal(60000))
    route = make_route(worst_case_stop_pct=Decimal(5))
    send(client, route, position="0.1")
    (stop,) = resting_stops(fake)
    other_account = second_account(fake, trader, transport)
    other = make_route(name="other", exchange_account=other_account)
    send(client, other, position="0.2")
    Route.objects.filter(pk=other.pk).update(worst_case_stop_pct=Decimal(5))
    venue_fails_the_trigger(fake, stop.client_order_id)
    assert resting_stops(fake) == []

    reconcile.run()
    # The other account was reconciled: its position got its stop.
    assert [s.size for s in resting_stops(fake, "second-api-key-0002")] == [Decimal("0.2")]
    # The position is protected again, and the failed stop is on record as the venue said: REST reports the
    # trigger failure (a rejection after it rested); the Unified WebSocket fake reports such an order cancelled.
    assert [s.size for s in resting_stops(fake)] == [Decimal("0.1")]
    rejected = Order.objects.get(client_order_id=stop.client_order_id)
    if fake.uws is None:
        assert (rejected.state, rejected.venue_status) == (OrderState.REJECTED, "TRIGGER_ACTIVATION_FAILURE")
        (item,) = Attention.objects.filter(kind="stop_failed", route=route)
        assert "refused its order (TRIGGER_ACTIVATION_FAILURE)" in item.detail
    else:
        assert rejected.state == OrderState.CANCELLED
    assert not Attention.objects.filter(kind="internal_error").exists()


def test_an_unexpected_error_in_one_account_is_an_attention_item_and_the_others_go_on(
    client, make_route, trader, account, fake, exchange_url, transport, monkeypatch
):
    """Item 12: "an unexpected error while reconciling one account or route is recorded as an attention item and the
    run goes on with the others." The error is a bug planted in the drift check of the first account's route (no
    venue produces one on purpose); the second account must still be reconciled, in the same run and the next."""
    from routing import drift

    fake.set_mark(SYMBOL, Decimal(60000))
    broken = make_route()
    send(client, broken, position="0.1")
    other = make_route(name="other", exchange_account=second_account(fake, trader, transport))
    send(client, other, position="0.2")
    Route.objects.filter(pk=other.pk).update(worst_case_stop_pct=Decimal(5))
    real_check = drift.check

    def planted_bug(route: Route, *args: Any, **kwargs: Any) -> None:
        if route.pk == broken.pk:
            raise ZeroDivisionError("a bug")
        real_check(route, *args, **kwargs)

    monkeypatch.setattr(drift, "check", planted_bug)
    for _ in range(2):
        report = reconcile.run()
        assert report.accounts == 2
    assert [s.size for s in resting_stops(fake, "second-api-key-0002")] == [Decimal("0.2")]
    (item,) = Attention.objects.filter(kind=Attention.Kind.INTERNAL_ERROR)
    assert item.route_id == broken.pk and item.occurrences == 2
    assert "ZeroDivisionError" in item.detail and "a bug" not in item.detail


# --- 15. No acked alert is stranded; one bad alert never stops the others -----------------------------------------


def test_a_number_no_column_can_hold_is_refused_at_the_webhook(client, make_route, fake, exchange_url):
    """Item 15: "a valid payload with contracts: '99999999999999999999' on a route without size limits is acked
    202, then the task dies on a numeric overflow ... Bound every number at the payload to what the columns and the
    venue can hold"."""
    route = make_route(sizing_mode="contracts")
    response = post(client, route, payload(action="buy", contracts="99999999999999999999", id="huge"))
    assert response.status_code == 400, response.content
    assert "contracts" in response.json()["detail"]
    assert not Alert.objects.filter(route=route, status__in=["queued", "processing"]).exists()
    run_queued_tasks()
    assert fake.calls("sendorder") == 0


def test_an_order_no_column_can_hold_is_skipped_by_name(client, make_route, fake, exchange_url):
    """Item 15: "Bound every number at the payload to what the columns and the venue can hold". Within the payload's
    bounds, the route's multiplier takes the order beyond what the order table holds (< 10^18): skipped, naming the
    field - not an overflow in the middle of storing the decision (PostgreSQL) or a rounded size sent (SQLite)."""
    route = make_route(sizing_mode="contracts", multiplier=Decimal(100000))
    decision = send(client, route, action="buy", contracts="999999999999999")
    assert fake.calls("sendorder") == 0 and position(fake) == 0
    assert decision.reason == Reason.INVALID_PAYLOAD and not decision.orders.exists()
    assert "field 'contracts' times the route's multiplier is 99999999999999900000" in decision.message
    assert send(client, route, action="buy", contracts="0.000001").reason == Reason.ORDER_SENT
    assert position(fake) == Decimal("0.1")


def test_an_alert_whose_processing_fails_ends_in_its_own_decision_and_blocks_nothing(
    client, make_route, fake, exchange_url, monkeypatch
):
    """Item 15: "an alert whose processing raises for any reason gets a terminal Decision with its own reason (e.g.
    internal_error, with the exception class, never its text if it could hold a secret) and an attention item, and
    never blocks anything else." Today the alert stays `processing` and every reconciliation run aborts on it.

    With every number bounded no input makes the engine raise on purpose, so the failure is a planted bug in the
    risk evaluation of one alert, its message holding something secret-looking."""
    from routing import pipeline

    real_evaluate = pipeline.evaluate

    def planted_bug(intent: Any, *args: Any, **kwargs: Any) -> Any:
        if intent.strategy_order_id == "poisoned":
            raise ZeroDivisionError("key=sk_live_4eC39HqLyjWDarjtT1zdp7dc")
        return real_evaluate(intent, *args, **kwargs)

    monkeypatch.setattr(pipeline, "evaluate", planted_bug)
    route = make_route()
    response = post(client, route, payload(position="0.2", id="poisoned"))
    nxt = post(client, route, payload(position="0.1", id="next"))
    assert (response.status_code, nxt.status_code) == (202, 202)
    run_queued_tasks()
    alert = Alert.objects.get(pk=response.json()["alert"])
    assert alert.status == Alert.Status.DECIDED
    # The route's next alert was decided and sent, and reconciliation still looks at every account.
    assert Alert.objects.get(pk=nxt.json()["alert"]).decision.reason == Reason.ORDER_SENT
    assert position(fake) == Decimal("0.1") and fake.calls("sendorder") == 1
    report = reconcile.run(clock=later(600))
    assert report.accounts == 1 and not report.errors
    decision = alert.decision
    assert (decision.action, decision.reason) == (Decision.Action.SKIP, Reason.INTERNAL_ERROR)
    assert "ZeroDivisionError" in decision.message and "sk_live" not in decision.message
    (item,) = Attention.objects.filter(kind=Attention.Kind.INTERNAL_ERROR)
    assert item.alert_id == alert.pk and "ZeroDivisionError" in item.detail and "sk_live" not in item.detail


# --- 17. Broken credentials surface ------------------------------------------------------------------------------


def regenerate_secret_on_the_exchange(fake: Any) -> None:
    """The trader regenerated the key's secret on Kraken: the one we hold no longer signs."""
    with fake.lock:
        fake.venue.keys[TRADER_KEY].secret = REGENERATED_SECRET


def test_a_refused_key_is_said_once_loudly_and_naming_the_open_position(
    client, make_route, account, fake, exchange_url
):
    """Item 17: "a revoked or wrong API key ... raises an attention item and an e-mail once, marks the account as
    needing attention, and - with open positions - says so loudly; the skip alone is not enough.\""""
    only_rest(fake, "its lever is the REST key's secret; the Unified WebSocket key is another key")
    route = make_route()
    send(client, route, position="0.1")
    regenerate_secret_on_the_exchange(fake)
    for target in ("0.2", "0.3", "0.4"):
        assert send(client, route, position=target).reason == Reason.EXCHANGE_UNAVAILABLE
    reconcile.run()
    assert len(mail.outbox) == 1 and "OPEN POSITIONS" in mail.outbox[0].body
    (item,) = Attention.objects.filter(kind="credentials_broken")
    assert item.exchange_account_id == account.pk and "XBT strategy (PF_XBTUSD: 0.1" in item.detail
    account.refresh_from_db()
    assert account.credentials_problem


def test_an_unreadable_key_is_said_once(client, make_route, account, fake, exchange_url):
    """Item 17: "... or a key no configured FERNET_KEYS can open, raises an attention item and an e-mail once"."""
    route = make_route()
    with connection.cursor() as cursor:  # a ciphertext no FERNET_KEYS can open, as after a lost key
        cursor.execute(
            "UPDATE accounts_exchangeaccount SET api_key = %s, ws_api_key = %s WHERE id = %s",
            [b"not-a-token", b"not-a-token", account.pk],
        )
    for target in ("0.1", "0.2"):
        assert send(client, route, position=target).reason == Reason.CREDENTIALS_UNREADABLE
    reconcile.run()
    assert fake.calls("sendorder") == 0
    assert Attention.objects.filter(kind="credentials_broken").count() == 1 and len(mail.outbox) == 1


def test_a_changed_secret_takes_effect_at_once_in_a_running_worker(client, make_route, account, fake, exchange_url):
    """Item 17: "A changed key or secret takes effect at once in running workers (today the adapter cache is keyed
    by the key's fingerprint only and keeps the old secret until a restart)." The same process decides every alert
    here: its adapter cache is the running worker's."""
    only_rest(fake, "its lever is the REST key's secret; the Unified WebSocket key is another key")
    route = make_route()
    send(client, route, position="0.1")
    regenerate_secret_on_the_exchange(fake)
    assert send(client, route, position="0.2").reason == Reason.EXCHANGE_UNAVAILABLE
    account.set_credentials(TRADER_KEY, REGENERATED_SECRET)  # the trader pastes the new secret; same key
    account.save()
    decision = send(client, route, position="0.2")
    assert position(fake) == Decimal("0.2")
    assert decision.reason == Reason.ORDER_SENT
    account.refresh_from_db()
    assert not account.credentials_problem
    reconcile.run()  # the item the broken key raised is closed once the new one works
    assert not open_attention("credentials_broken")


# --- 18. processBefore on every order: a late first attempt never lands after its re-send ---------------------------


@pytest.mark.parametrize("reuse", ["while_open", "forever"])
def test_a_first_attempt_delayed_past_its_deadline_never_lands_after_its_resend(
    client, make_route, fake, exchange_url, settings, reuse
):
    """Item 18: "Every order carries processBefore (Kraken's deadline) so a delayed first attempt can never land
    after its re-send; the re-send safety must not rest on the exchange refusing a reused client order id after the
    first order finished (unverified for Kraken; the fake enforces it forever - make that a switch and test both)."

    The first attempt is held up on its way in for 3 s (the client gave up after 1 s); the sweeper, past the
    deadline and the lookup window, finds no trace and re-sends it with the same client order id - it fills at
    once, so under `while_open` the id is free again. Then the first attempt reaches the venue: exactly one order."""
    only_rest(fake, "the delay is the REST fake's latency fault on a request in transit")
    settings.ORDER_DEADLINE_SECONDS = 1.0  # the venue's deadline for the first attempt passes while it is held
    fake.set_client_order_id_reuse(reuse)
    # The fake refuses a nonce more than 1 s older than the newest it settled - which alone would refuse the late
    # attempt here. Kraken's real window is not documented, so it must not be what protects us: widen it.
    fake.venue.keys[TRADER_KEY].nonces.tolerance = 60.0
    fake.add_fault("sendorder", "latency", count=1, seconds=3)
    started = time.monotonic()
    decision = send(client, make_route(), position="0.1")
    (order,) = decision.orders.all()
    assert order.state == OrderState.UNKNOWN
    reconcile.run(clock=later(40))  # our clock past the deadline and the lookup window: re-sent once
    order.refresh_from_db()
    assert order.state == OrderState.FILLED and order.submit_attempts == 2
    assert time.monotonic() - started < 3, "the re-send must happen while the first attempt is still in transit"
    time.sleep(max(0.0, 3.5 - (time.monotonic() - started)))  # the first attempt has reached the venue now
    assert fake.calls("sendorder") == 2
    assert position(fake) == Decimal("0.1")
    landed = [o for o in fake.state()["engine"]["orders"].values() if o["client_order_id"] == order.client_order_id]
    assert len(landed) == 1


# --- smaller things ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "kind", "quote"),
    [("PI_XBTUSD", "futures_inverse", "USD"), ("PF_XBTEUR", "flexible_futures", "EUR")],
)
def test_inverse_and_non_usd_instruments_are_refused_clearly(
    client, make_route, fake, exchange_url, symbol, kind, quote
):
    """Smaller things: "Inverse (PI_) and non-USD-margined instruments are refused clearly until supported (today
    notional and P&L are computed as if linear/USD)"."""
    import dataclasses

    spec = dataclasses.replace(fake.engine.instrument(SYMBOL), symbol=symbol, kind=kind, quote=quote)
    with fake.lock:
        fake.engine.add_instrument(spec, Decimal(60000), now=fake.clock())
    settle(fake)
    route = make_route(symbol=symbol, tv_alias="")
    decision = send(client, route, position="1")
    assert fake.calls("sendorder") == 0 and fake.position(TRADER_KEY, symbol) == 0
    assert decision.reason == Reason.INSTRUMENT_UNSUPPORTED
    assert symbol in decision.message and "linear USD-margined contracts only" in decision.message


def test_a_future_dated_alert_says_how_far_in_the_future(client, make_route, fake, exchange_url):
    """Smaller things: "A future-dated alert's sentence says 'N s in the future', not '-N s old'"."""
    # TradingView's {{timenow}} has whole seconds: whole seconds 61 s ahead are 60.0x s ahead when decided
    # (a fraction of "now + 60 s" would be dropped, which read 58.99 s when now's fraction was .99).
    fired = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=61)
    decision = send(client, make_route(), position="0.1", fired=fired)
    assert fake.calls("sendorder") == 0
    assert decision.reason == Reason.STALE_ALERT
    assert re.search(r"is (59|60)(\.\d+)? s in the future", decision.message), decision.message
    assert "-" not in decision.message.split("in the future")[0], decision.message


def test_sizes_and_prices_are_shown_normalised_in_messages(client, make_route, fake, exchange_url):
    """Smaller things: "sizes and prices are shown normalised (0.1, not 0.100000000000) in messages"."""
    route = make_route(max_order_size=Decimal("0.1"))
    route.refresh_from_db()  # as stored: 0.100000000000
    decision = send(client, route, position="0.25")
    assert decision.message == "Skipped: the order would be 0.25 XBT, your limit is 0.1 XBT.", decision.message


def test_client_order_ids_carry_the_installation_prefix(client, make_route, fake, exchange_url, settings):
    """Smaller things: "Client order ids carry an installation prefix (configurable) so two installations or a
    restored database cannot adopt each other's orders."""
    settings.ORDER_ID_PREFIX = "east2"
    fake.set_mark(SYMBOL, Decimal(60000))
    decision = send(client, make_route(worst_case_stop_pct=Decimal(5)), position="0.1")
    ids = [o.client_order_id for o in Order.objects.all()] + [o.client_order_id for o in resting_stops(fake)]
    assert len(ids) == 3 and decision.orders.count() == 1
    assert all(re.fullmatch(r"east2-[a-z0-9]{12}", i) for i in ids), ids


def test_an_order_placed_by_a_restored_copy_of_the_database_is_never_adopted(client, make_route, fake, exchange_url):
    """Smaller things: "... a restored database cannot adopt each other's orders." A backup restored elsewhere (or a
    second installation on the same account) mints the ids this one mints next - with ids from primary keys, our next
    order meets the other's id on the exchange, is told "clientOrderIdAlreadyExist" and adopts an order it never
    placed. The other copy's orders here use every id a primary key could give our next few orders."""
    from exchanges.base import OrderRequest, OrderType, Side
    from exchanges.kraken.adapter import KrakenFutures

    route = make_route(sizing_mode="contracts")
    latest = Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with connection.cursor() as cursor:  # the next primary key, wherever the sequence is
        if connection.vendor == "postgresql":
            cursor.execute("SELECT last_value FROM audit_order_id_seq")
            latest = max(latest, cursor.fetchone()[0])
        else:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_order'")
            row = cursor.fetchone()
            latest = max(latest, row[0] if row else 0)
    other = KrakenFutures(fake.url, TRADER_KEY, TRADER_SECRET, connect_timeout=1, read_timeout=2)
    for pk in range(latest + 1, latest + 4):
        other.place_order(OrderRequest(SYMBOL, Side.BUY, Decimal("0.01"), OrderType.MARKET, f"or-{pk}"))
    other.close()
    decision = send(client, route, action="buy", contracts="0.1")
    assert position(fake) == Decimal("0.13")  # ours was placed, not taken for one of theirs
    (order,) = decision.orders.all()
    assert order.state == OrderState.FILLED and order.fills.count() >= 1
    assert all(f.client_order_id == order.client_order_id for f in order.fills.all())
