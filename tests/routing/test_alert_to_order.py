"""Alert → Decision → order on the fake Kraken, through the real webhook, the queued django-q2 task and real HTTP
to the fake exchange. Every reason code the pipeline can give is produced here (intake reasons: test_intake.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import ExchangeAccount
from audit.models import Alert, Decision, Fill, LedgerEntry
from audit.order_states import OrderState
from audit.reasons import Reason
from billing.models import LiveAccess
from tests.routing.conftest import TRADER_KEY, make_reads_fail, payload, post, venue_word
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db


_sequence = iter(range(1_000_000))


def send(client, route, **fields) -> Decision:
    # Two alerts of one strategy within the same second differ by their order id, as TradingView's do.
    fields.setdefault("id", f"order-{next(_sequence)}")
    response = post(client, route, payload(**fields))
    assert response.status_code == 202, response.content
    assert run_queued_tasks() >= 1
    alert = Alert.objects.get(pk=response.json()["alert"])
    assert alert.status == Alert.Status.DECIDED
    return alert.decision


def exchange_orders(fake) -> int:
    return fake.calls("sendorder")


# --- each sizing mode: one order, right size, side and reduce-only flag ----------------------------------------


def test_target_mode_opens_then_closes_with_a_reduce_only_order(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="target")
    decision = send(client, route, position="0.1", market_position="long")
    assert decision.action == Decision.Action.SEND and decision.reason == Reason.ORDER_SENT
    (order,) = decision.orders.all()
    assert (order.side, order.size, order.reduce_only) == ("buy", Decimal("0.1"), False)
    assert order.state == OrderState.FILLED and re.fullmatch(r"or-[a-z0-9]{15}", order.client_order_id)
    assert order.exchange_order_id
    assert fake_position(fake) == Decimal("0.1")

    decision = send(client, route, action="sell", position="0", market_position="flat")
    (order,) = decision.orders.all()
    assert (order.side, order.size, order.reduce_only) == ("sell", Decimal("0.1"), True)
    assert fake_position(fake) == Decimal(0)
    assert exchange_orders(fake) == 2
    assert Fill.objects.filter(route=route).count() == 2


def test_contracts_mode_multiplies_the_strategy_order(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="contracts", multiplier=Decimal(2))
    decision = send(client, route, action="sell", contracts="0.015")
    (order,) = decision.orders.all()
    assert (order.side, order.size, order.reduce_only) == ("sell", Decimal("0.03"), False)
    assert fake_position(fake) == Decimal("-0.03")


def test_fixed_mode_sends_the_fixed_size_and_close_flattens(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="fixed", fixed_size=Decimal("0.05"))
    send(client, route, action="buy")
    send(client, route, action="buy")
    assert fake_position(fake) == Decimal("0.1")
    decision = send(client, route, action="close")
    (order,) = decision.orders.all()
    assert (order.side, order.size, order.reduce_only) == ("sell", Decimal("0.1"), True)
    assert fake_position(fake) == Decimal(0)


def test_a_reversal_is_split_into_a_reduce_only_part_and_an_increase(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="target")
    send(client, route, position="0.1")
    decision = send(client, route, action="sell", position="-0.2")
    legs = list(decision.orders.order_by("leg"))
    assert [(o.side, o.size, o.reduce_only) for o in legs] == [
        ("sell", Decimal("0.1"), True),
        ("sell", Decimal("0.2"), False),
    ]
    assert fake_position(fake) == Decimal("-0.2")


def test_a_reversal_beyond_the_position_limit_still_exits(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="target", max_position=Decimal("0.15"))
    send(client, route, position="0.1")
    decision = send(client, route, action="sell", position="-0.2")
    assert decision.action == Decision.Action.SEND
    assert [(o.side, o.size, o.reduce_only) for o in decision.orders.all()] == [("sell", Decimal("0.1"), True)]
    assert "position would be -0.2, the limit is 0.15" in decision.message
    assert fake_position(fake) == Decimal(0)


def test_exits_are_never_blocked_by_exposure_limits(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="target")
    send(client, route, position="0.3")
    # The trader tightens every limit while long: the exit must still go out.
    route.max_order_size = route.max_position = Decimal("0.01")
    route.max_notional = Decimal(1)
    route.max_leverage = Decimal("0.001")
    route.orders_per_hour = 1
    route.side_policy = "short_only"
    route.save()
    decision = send(client, route, action="sell", position="0.1")
    assert decision.reason == Reason.ORDER_SENT
    assert [(o.size, o.reduce_only) for o in decision.orders.all()] == [(Decimal("0.2"), True)]


# --- every reason the pipeline gives, through the webhook -------------------------------------------------------


def skipped(decision: Decision, reason: Reason, fake) -> None:
    assert decision.action == Decision.Action.SKIP, decision.message
    assert decision.reason == reason, decision.message
    assert not decision.orders.exists()
    assert exchange_orders(fake) == 0
    assert decision.message.startswith("Skipped")


def test_route_disabled(client, make_route, fake, exchange_url):
    skipped(send(client, make_route(enabled=False), position="0.1"), Reason.ROUTE_DISABLED, fake)


def test_no_exchange_account(client, make_route, fake, exchange_url):
    skipped(send(client, make_route(exchange_account=None), position="0.1"), Reason.NO_EXCHANGE_ACCOUNT, fake)


def test_credentials_unreadable(client, make_route, account, fake, exchange_url):
    route = make_route()
    with connection.cursor() as cursor:  # a ciphertext no FERNET_KEYS can open, as after a lost key
        cursor.execute(
            "UPDATE accounts_exchangeaccount SET api_key = %s, ws_api_key = %s WHERE id = %s",
            [b"not-a-token", b"not-a-token", account.pk],
        )
    skipped(send(client, route, position="0.1"), Reason.CREDENTIALS_UNREADABLE, fake)


def test_live_access_required(client, make_route, trader, fake, exchange_url, settings):
    settings.BILLING_ENABLED = True
    LiveAccess.objects.filter(user=trader).update(active_until=datetime.now(UTC) - timedelta(days=1))
    skipped(send(client, make_route(), position="0.1"), Reason.LIVE_ACCESS_REQUIRED, fake)


def test_a_lapsed_subscription_stops_new_exposure_but_never_an_exit_or_the_worst_case_stop(
    client, make_route, trader, fake, exchange_url, settings
):
    from routing.selectors import live_stops

    settings.BILLING_ENABLED = True
    fake.set_mark("PF_XBTUSD", Decimal(60000))
    route = make_route(worst_case_stop_pct=Decimal(5))
    assert send(client, route, position="0.2").reason == Reason.ORDER_SENT
    assert [stop.size for stop in live_stops(route)] == [Decimal("0.2")]
    LiveAccess.objects.filter(user=trader).update(active_until=datetime.now(UTC) - timedelta(seconds=1))

    grow = send(client, route, position="0.3")
    assert (grow.action, grow.reason) == (Decision.Action.SKIP, Reason.LIVE_ACCESS_REQUIRED)
    assert fake_position(fake) == Decimal("0.2")

    reduce = send(client, route, action="sell", position="0.1", market_position="long")
    assert reduce.reason == Reason.ORDER_SENT
    assert [(o.side, o.size, o.reduce_only) for o in reduce.orders.all()] == [("sell", Decimal("0.1"), True)]
    assert fake_position(fake) == Decimal("0.1")
    # The worst-case stop follows the smaller position with no subscription at all.
    assert [stop.size for stop in live_stops(route)] == [Decimal("0.1")]

    # A reversal sends its exit and drops the increase, saying why.
    reversal = send(client, route, action="sell", position="-0.1", market_position="short")
    assert reversal.reason == Reason.ORDER_SENT
    assert reversal.verdict["blocked_reason"] == Reason.LIVE_ACCESS_REQUIRED
    assert [(o.side, o.size, o.reduce_only) for o in reversal.orders.all()] == [("sell", Decimal("0.1"), True)]
    assert fake_position(fake) == Decimal(0)
    assert live_stops(route) == []


def test_paper_accounts_need_no_subscription_check_to_be_recorded(
    client, make_route, trader, account, fake, exchange_url
):
    ExchangeAccount.objects.filter(pk=account.pk).update(mode=ExchangeAccount.Mode.PAPER)
    LiveAccess.objects.filter(user=trader).delete()
    decision = send(client, make_route(), position="0.1")
    assert "live_access" not in [c["name"] for c in decision.checks]


def test_symbol_mismatch(client, make_route, fake, exchange_url):
    decision = send(client, make_route(), position="0.1", symbol="ETHUSD.P")
    skipped(decision, Reason.SYMBOL_MISMATCH, fake)
    assert decision.message == "Skipped: the alert is for ETHUSD.P, this route trades PF_XBTUSD (alias XBTUSD.P)."


def test_the_tradingview_alias_matches(client, make_route, fake, exchange_url):
    assert send(client, make_route(), position="0.1", symbol="XBTUSD.P").reason == Reason.ORDER_SENT


def test_stale_alert(client, make_route, fake, exchange_url):
    old = datetime.now(UTC) - timedelta(minutes=10)
    skipped(send(client, make_route(max_alert_age_seconds=60), position="0.1", fired=old), Reason.STALE_ALERT, fake)


def test_instrument_not_tradeable(client, make_route, fake, exchange_url):
    fake.suspend("PF_XBTUSD")
    skipped(send(client, make_route(), position="0.1"), Reason.INSTRUMENT_NOT_TRADEABLE, fake)


def test_price_deviation(client, make_route, fake, exchange_url):
    fake.set_mark("PF_XBTUSD", Decimal(60000))
    route = make_route(price_deviation_pct=Decimal(1))
    decision = send(client, route, position="0.1", price="62000")
    skipped(decision, Reason.PRICE_DEVIATION, fake)
    assert "% away from the mark price, your limit is 1%" in decision.message


def test_already_at_target(client, make_route, fake, exchange_url):
    skipped(send(client, make_route(), position="0"), Reason.ALREADY_AT_TARGET, fake)


def test_size_below_minimum(client, make_route, fake, exchange_url):
    skipped(send(client, make_route(), position="0.00001"), Reason.SIZE_BELOW_MINIMUM, fake)


def test_side_not_allowed(client, make_route, fake, exchange_url):
    skipped(
        send(client, make_route(side_policy="long_only"), action="sell", position="-0.1"), Reason.SIDE_NOT_ALLOWED, fake
    )


def test_max_order_size(client, make_route, fake, exchange_url):
    skipped(send(client, make_route(max_order_size=Decimal("0.05")), position="0.1"), Reason.MAX_ORDER_SIZE, fake)


def test_max_position_size(client, make_route, fake, exchange_url):
    decision = send(client, make_route(max_position=Decimal(2)), position="3")
    skipped(decision, Reason.MAX_POSITION_SIZE, fake)
    assert decision.message == "Skipped: position would be 3 XBT, your limit is 2 XBT."


def test_max_notional(client, make_route, fake, exchange_url):
    fake.set_mark("PF_XBTUSD", Decimal(60000))
    skipped(send(client, make_route(max_notional=Decimal(5000)), position="0.1"), Reason.MAX_NOTIONAL, fake)


def test_max_leverage(client, make_route, fake, exchange_url):
    fake.set_mark("PF_XBTUSD", Decimal(60000))
    # 100,000 USD collateral; 10 XBT at 60,000 is 6x.
    skipped(send(client, make_route(max_leverage=Decimal(2)), position="10"), Reason.MAX_LEVERAGE, fake)


def test_order_rate_limit(client, make_route, fake, exchange_url):
    route = make_route(orders_per_hour=1)
    assert send(client, route, position="0.1").reason == Reason.ORDER_SENT
    decision = send(client, route, position="0.2")
    assert decision.reason == Reason.ORDER_RATE_LIMIT and not decision.orders.exists()
    assert exchange_orders(fake) == 1


def test_daily_loss_limit(client, make_route, account, fake, exchange_url):
    route = make_route(daily_loss_limit=Decimal(100))
    # Realised losses as reconciliation records them from the exchange's account log (the loss and the fee are
    # two rows, as Kraken writes them), read when the alert is decided.
    for entry_id, fee, pnl in (("log-1", Decimal(0), Decimal(-120)), ("log-2", Decimal(5), Decimal(0))):
        LedgerEntry.objects.create(
            exchange_account=account,
            route=route,
            entry_id=entry_id,
            at=datetime.now(UTC),
            kind="futures trade",
            symbol="PF_XBTUSD",
            asset="USD",
            fee=fee,
            realized_pnl=pnl,
        )
    decision = send(client, route, position="0.1")
    skipped(decision, Reason.DAILY_LOSS_LIMIT, fake)
    assert decision.message == "Skipped: today's realised loss is 125 USD, your limit is 100 USD."


def test_exchange_unavailable_when_it_cannot_be_read(client, make_route, fake, exchange_url):
    make_reads_fail(fake)
    decision = send(client, make_route(), position="0.1")
    skipped(decision, Reason.EXCHANGE_UNAVAILABLE, fake)
    assert "Unavailable" in decision.snapshot["read_error"]


def test_an_increase_needing_the_account_is_skipped_when_the_account_cannot_be_read(
    client, make_route, fake, exchange_url
):
    if fake.uws is not None:
        pytest.skip("a REST endpoint's fault; on the Unified WebSocket the account comes from the stream")
    fake.add_fault("accounts", "unavailable", count=1)
    decision = send(client, make_route(max_leverage=Decimal(5)), position="0.1")
    skipped(decision, Reason.EXCHANGE_UNAVAILABLE, fake)
    assert "account: Unavailable" in decision.snapshot["read_warnings"]


def test_an_exit_needs_only_the_data_it_uses(client, make_route, fake, exchange_url):
    """A failing ticker or account read never skips a reduce-only exit (issue 7, item 14)."""
    if fake.uws is not None:
        pytest.skip("REST endpoints' faults; on the Unified WebSocket the account and ticker come from streams")
    route = make_route(max_leverage=Decimal(5), max_notional=Decimal(100000))
    assert send(client, route, position="0.1").reason == Reason.ORDER_SENT
    fake.add_fault("accounts", "unavailable", count=1)
    fake.add_fault("tickers", "unavailable", count=1)
    fake.add_fault("tickers/{symbol}", "unavailable", count=1)
    decision = send(client, route, action="sell", position="0", market_position="flat")
    assert decision.reason == Reason.ORDER_SENT, decision.message
    (order,) = decision.orders.all()
    assert order.reduce_only and order.state == OrderState.FILLED
    assert fake_position(fake) == Decimal(0)
    assert "account: Unavailable" in decision.snapshot["read_warnings"]


def test_exchange_rejected_keeps_the_status_verbatim(client, make_route, fake, exchange_url):
    fake.add_fault("sendorder", "reject", count=1, status="insufficientAvailableFunds")
    decision = send(client, make_route(), position="0.1")
    assert decision.action == Decision.Action.REJECT
    assert decision.reason == Reason.EXCHANGE_REJECTED
    assert decision.venue_status == venue_word(fake, "insufficientAvailableFunds")
    assert venue_word(fake, "insufficientAvailableFunds") in decision.message
    (order,) = decision.orders.all()
    assert order.state == OrderState.REJECTED and order.venue_status == venue_word(fake, "insufficientAvailableFunds")
    assert order.submit_attempts == 1


def test_a_lost_reply_is_adopted_by_lookup_without_a_second_order(client, make_route, fake, exchange_url, settings):
    # On the Unified WebSocket the lookup waits for the reconnect's fresh snapshot (a new token, a new connection,
    # three snapshots): the fixtures' 1 s for it is short on a loaded machine.
    settings.KRAKEN_UWS_READY_TIMEOUT = 5.0
    fake.add_fault("sendorder", "accept_then_drop", count=1, seconds=2)
    decision = send(client, make_route(), position="0.1")
    (order,) = decision.orders.all()
    assert order.state == OrderState.FILLED
    assert [e.to_state for e in order.events.all()] == ["pending_submit", "unknown", "filled"]
    assert decision.reason == Reason.ORDER_SENT and "confirmed on the exchange" in decision.message
    assert order.submit_attempts == 1 and exchange_orders(fake) == 1
    assert fake_position(fake) == Decimal("0.1")


def test_outcome_unknown_when_nothing_can_be_confirmed_yet(client, make_route, fake, exchange_url):
    fake.add_fault("sendorder", "timeout_before", count=1, seconds=2)
    decision = send(client, make_route(), position="0.1")
    assert decision.reason == Reason.OUTCOME_UNKNOWN
    (order,) = decision.orders.all()
    assert order.state == OrderState.UNKNOWN and order.submit_attempts == 1
    assert fake_position(fake) == Decimal(0)


def test_every_decision_replays_identically(client, make_route, fake, exchange_url):
    from routing.replay import replay

    route = make_route(max_position=Decimal(1))
    send(client, route, position="0.1")
    send(client, route, position="5")
    send(client, route, position="0.1", symbol="NOPE")
    for decision in Decision.objects.all():
        result = replay(decision)
        assert result is not None and result.identical


def fake_position(fake, symbol: str = "PF_XBTUSD") -> Decimal:
    return fake.position(TRADER_KEY, symbol)


def test_tradingview_resending_four_copies_gives_one_order(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="target")
    body = payload(position="0.1", id="resent")
    codes = [post(client, route, body).status_code for _ in range(4)]
    assert codes == [202, 200, 200, 200]
    run_queued_tasks()
    assert Decision.objects.count() == 1
    assert exchange_orders(fake) == 1
    assert fake_position(fake) == Decimal("0.1")


def test_alerts_of_a_route_are_decided_in_the_order_tradingview_fired_them(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="target")
    fired = datetime.now(UTC).replace(microsecond=0)
    # The later signal arrives first (network reordering); it must not overtake the earlier one.
    post(client, route, payload(position="0.2", fired=fired + timedelta(seconds=1), id="second"))
    post(client, route, payload(position="0.1", fired=fired, id="first"))
    run_queued_tasks()
    decisions = list(Decision.objects.order_by("pk"))
    assert [d.intent["strategy_order_id"] for d in decisions] == ["first", "second"]
    assert [o.size for d in decisions for o in d.orders.all()] == [Decimal("0.1"), Decimal("0.1")]
    assert fake_position(fake) == Decimal("0.2")


def test_accounts_of_one_market_share_its_instrument_list(client, trader, make_route, fake, exchange_url):
    """The instrument list is public: a second account's first alert on the same venue reads it from the first
    one's read (one GET /instruments for both), not again - at bar close a thousand accounts' first alerts would
    each have waited on it."""
    if fake.uws is not None:
        pytest.skip("on the Unified WebSocket the instruments come from the stream, not a request")
    from tests.routing.conftest import TRADER_SECRET

    fake.add_account("second-trader-key", TRADER_SECRET, collateral=Decimal("100000"))
    other = ExchangeAccount(owner=trader, label="Second", mode=ExchangeAccount.Mode.LIVE)
    other.set_credentials("second-trader-key", TRADER_SECRET)
    other.save()
    first = make_route(sizing_mode="contracts")
    second = make_route(sizing_mode="contracts", exchange_account=other, name="second")
    before = fake.calls("instruments")
    assert send(client, first, contracts="0.001").reason == Reason.ORDER_SENT
    assert send(client, second, contracts="0.001").reason == Reason.ORDER_SENT
    assert fake.calls("instruments") - before == 1
    assert (
        Decision.objects.get(route=second).snapshot["instrument"]
        == Decision.objects.get(route=first).snapshot["instrument"]
    )
