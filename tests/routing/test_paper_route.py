"""A paper route through the real webhook, the queued django-q2 task, the pipeline, the worst-case stop and
reconciliation - on a paper account priced from the fake Kraken's public endpoints over HTTP. The fake serves a live
account too (the `fake` fixture's), so a single private call from the paper path would show in its counters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from audit.models import Alert, Attention, Decision, Fill, LedgerEntry, Order
from audit.order_states import OrderState
from audit.reasons import Reason
from billing.models import LiveAccess
from exchanges.base import OrderRequest, OrderType, Side, TriggerSignal
from exchanges.connect import paper_exchange
from exchanges.paper.models import PaperAccount
from exchanges.paper.service import create_paper_account
from exchanges.paper.tasks import trigger_stops
from routing import reconcile
from routing.models import Route, RouteState
from routing.reconcile.account import reconcile_account
from tests.routing.conftest import CANARY_ROUTE_SECRET, TRADER_KEY, payload, post
from tests.venue_calls import private_calls, public_calls
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db

SYMBOL = "PF_XBTUSD"
_ids = iter(range(1_000_000))


@pytest.fixture
def transport() -> str:
    """A paper account ignores its transport (it never touches a private API): one run is enough, except where the
    transport is the point (an account switched to paper, below, runs on both)."""
    return "rest"


@pytest.fixture
def paper_url(fake: Any, exchange_url: str, settings: Any) -> str:
    settings.PAPER_MARK_TTL_SECONDS = 0.0  # each step sees the mark the test just set
    settings.BILLING_ENABLED = True
    fake.set_mark(SYMBOL, Decimal(60000))
    fake.reset_calls()
    return exchange_url


@pytest.fixture
def paper(trader: User, paper_url: str) -> ExchangeAccount:
    # Paper trading is free: this trader has no subscription at all.
    LiveAccess.objects.filter(user=trader).delete()
    return create_paper_account(trader, starting_balance=Decimal("10000"))


def paper_route(trader: User, account: ExchangeAccount, **overrides: Any) -> Route:
    fields: dict[str, Any] = {
        "owner": trader,
        "name": "XBT on paper",
        "exchange_account": account,
        "symbol": SYMBOL,
        "tv_alias": "XBTUSD.P",
        "sizing_mode": "target",
        "max_alert_age_seconds": 120,
        "worst_case_stop_pct": Decimal(5),
    }
    fields.update(overrides)
    route = Route(**fields)
    route.set_secret(CANARY_ROUTE_SECRET)
    route.save()
    return route


def send(client: Any, route: Route, **fields: Any) -> Decision:
    fields.setdefault("id", f"paper-{next(_ids)}")
    response = post(client, route, payload(**fields))
    assert response.status_code == 202, response.content
    assert run_queued_tasks() >= 1
    alert = Alert.objects.get(pk=response.json()["alert"])
    assert alert.status == Alert.Status.DECIDED
    return alert.decision


def live_stops(route: Route) -> list[Order]:
    return list(Order.objects.filter(route=route, purpose=Order.Purpose.WORST_CASE_STOP, state=OrderState.OPEN))


def test_a_paper_route_trades_fills_pays_fees_and_its_stop_fires_on_a_mark_move(client, trader, paper, fake):
    route = paper_route(trader, paper)
    book = paper_exchange(paper)

    # 1. The alert becomes an order on the paper account, filled at the fake's public mark.
    decision = send(client, route, position="0.1", market_position="long")
    assert decision.action == Decision.Action.SEND and decision.reason == Reason.ORDER_SENT, decision.message
    assert "live_access" not in [c["name"] for c in decision.checks]
    (order,) = decision.orders.all()
    assert (order.side, order.size, order.reduce_only, order.state) == ("buy", Decimal("0.1"), False, "filled")
    (fill,) = Fill.objects.filter(order=order)
    assert (fill.price, fill.size, fill.liquidity) == (Decimal(60000), Decimal("0.1"), "taker")
    assert [p.size for p in book.positions()] == [Decimal("0.1")]

    # 2. The worst-case stop rests on the paper account: reduce-only, full size, 5 % below the entry.
    (stop,) = live_stops(route)
    assert (stop.side, stop.size, stop.stop_price, stop.reduce_only) == ("sell", Decimal("0.1"), Decimal(57000), True)
    (resting,) = book.open_orders()
    assert resting.client_order_id == stop.client_order_id and resting.stop_price == Decimal(57000)

    # 3. Reconciliation brings the fee in from the paper account log.
    reconcile.run()
    fill.refresh_from_db()
    assert fill.fee == Decimal(3)  # 0.1 x 60,000 x 0.05 %
    assert LedgerEntry.objects.filter(exchange_account=paper, kind="futures trade").exists()
    assert LedgerEntry.objects.filter(exchange_account=paper, kind="paper funding").count() == 1
    assert live_stops(route) == [stop]  # still in place, not replaced

    # 4. The mark falls through the stop on the fake; the periodic paper task fires it.
    fake.set_mark(SYMBOL, Decimal(56000))
    assert "engine events: 0" not in trigger_stops()
    assert book.positions() == []

    # 5. Reconciliation records it: the stop filled, its fill with fee and loss, one attention item, no drift.
    reconcile.run()
    stop.refresh_from_db()
    assert (stop.state, stop.filled_size) == (OrderState.FILLED, Decimal("0.1"))
    stop_fill = Fill.objects.get(order=stop)
    assert (stop_fill.price, stop_fill.side) == (Decimal(56000), "sell")
    assert stop_fill.fee == Decimal("2.8") and stop_fill.realized_pnl == Decimal(-400)
    attention = Attention.objects.get(kind=Attention.Kind.STOP_TRIGGERED, route=route)
    assert stop.client_order_id in attention.detail
    assert not Attention.objects.filter(kind=Attention.Kind.POSITION_DRIFT).exists()
    assert RouteState.objects.get(route=route).frozen_reason == ""
    assert live_stops(route) == []
    assert book.account().equity == Decimal(10000) - 3 - 400 - Decimal("2.8")

    # Not one private call reached the venue: market data only.
    assert private_calls(fake.all_calls()) == {}
    assert set(public_calls(fake.all_calls())) <= {"instruments", "tickers"}


def test_a_paper_exit_is_reduce_only_and_takes_the_stop_with_it(client, trader, paper, fake):
    route = paper_route(trader, paper)
    send(client, route, position="0.2")
    decision = send(client, route, action="sell", position="0", market_position="flat")
    (exit_order,) = decision.orders.all()
    assert (exit_order.side, exit_order.size, exit_order.reduce_only) == ("sell", Decimal("0.2"), True)
    assert paper_exchange(paper).positions() == []
    assert live_stops(route) == [] and paper_exchange(paper).open_orders() == []
    assert Order.objects.filter(route=route, purpose=Order.Purpose.WORST_CASE_STOP, state="cancelled").count() == 1
    reconcile.run()
    assert not Attention.objects.filter(kind=Attention.Kind.POSITION_DRIFT).exists()
    assert private_calls(fake.all_calls()) == {}


def test_the_same_risk_checks_apply_to_a_paper_route(client, trader, paper, fake):
    route = paper_route(trader, paper, max_position=Decimal("0.15"))
    decision = send(client, route, position="0.3")
    assert decision.reason == Reason.MAX_POSITION_SIZE and not decision.orders.exists()
    # With no limit of ours in the way, the paper venue's own margin check says no - recorded verbatim.
    Route.objects.filter(pk=route.pk).update(max_position=None)
    decision = send(client, route, position="5")  # 300,000 notional needs 6,000 margin... on 10,000: fine
    assert decision.reason == Reason.ORDER_SENT
    decision = send(client, route, position="9")  # 540,000 needs 10,800: more than the account has
    assert decision.action == Decision.Action.REJECT and decision.reason == Reason.EXCHANGE_REJECTED
    assert decision.venue_status == "insufficientAvailableFunds"
    assert [p.size for p in paper_exchange(paper).positions()] == [Decimal(5)]
    assert private_calls(fake.all_calls()) == {}


def test_a_live_route_of_the_same_trader_still_needs_the_subscription(client, trader, paper, account, fake):
    live_route = paper_route(trader, account, name="XBT live")
    decision = send(client, live_route, position="0.1")
    assert decision.reason == Reason.LIVE_ACCESS_REQUIRED
    paper_decision = send(client, paper_route(trader, paper), position="0.1")
    assert paper_decision.reason == Reason.ORDER_SENT
    assert fake.calls("sendorder") == 0


def test_no_mark_no_paper_order(client, trader, paper, fake):
    route = paper_route(trader, paper)
    fake.add_fault("tickers", "http_5xx", count=1000, status=503)
    decision = send(client, route, position="0.1")
    assert decision.action == Decision.Action.SKIP and decision.reason == Reason.EXCHANGE_UNAVAILABLE
    assert not decision.orders.exists()
    fake.clear_faults()
    assert paper_exchange(paper).positions() == []


@pytest.mark.parametrize("transport", ["rest", "uws"])
def test_an_exchange_account_switched_to_paper_never_reaches_the_live_account(client, trader, account, paper_url, fake):
    """Issue 7 item 5: an account whose mode is paper trades its own paper book, created on first use, even though
    a working live key is stored on it."""
    ExchangeAccount.objects.filter(pk=account.pk).update(mode=ExchangeAccount.Mode.PAPER)
    account.refresh_from_db()
    LiveAccess.objects.filter(user=trader).update(active_until=timezone.now() - timedelta(days=1))
    route = paper_route(trader, account)
    decision = send(client, route, position="0.1")
    assert decision.reason == Reason.ORDER_SENT, decision.message
    assert PaperAccount.objects.get(pk=account.pk).starting_balance == Decimal(10000)
    assert [p.size for p in paper_exchange(account).positions()] == [Decimal("0.1")]
    reconcile.run()
    assert private_calls(fake.all_calls()) == {}
    assert fake.position(TRADER_KEY, SYMBOL) == 0
    if fake.uws is not None:  # the account's Unified WebSocket key was never used either
        assert fake.uws.connections_opened == 0 and not fake.uws.spot.tokens


def test_paper_stops_are_triggered_by_a_django_q2_schedule(trader, paper, fake):
    from django_q.models import Schedule
    from django_q.tasks import async_task

    from routing import schedules

    schedules.ensure_schedules()
    schedules.ensure_schedules()  # twice: still one row
    (schedule,) = Schedule.objects.filter(name=schedules.PAPER_STOPS_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "exchanges.paper.tasks.trigger_stops",
        Schedule.MINUTES,
        1,
    )
    book = paper_exchange(paper)
    book.place_order(
        OrderRequest(
            symbol=SYMBOL, side=Side.BUY, size=Decimal("0.1"), order_type=OrderType.MARKET, client_order_id="b0"
        )
    )
    book.place_order(
        OrderRequest(
            symbol=SYMBOL,
            side=Side.SELL,
            size=Decimal("0.1"),
            order_type=OrderType.STOP,
            client_order_id="s",
            stop_price=Decimal(57000),
            trigger_signal=TriggerSignal.MARK,
            reduce_only=True,
        )
    )
    fake.set_mark(SYMBOL, Decimal(56500))
    # The scheduled function runs as a django-q2 task (through the broker and the signed package, as qcluster does)
    # and, with nothing else touching the account, fires the stop.
    assert PaperAccount.objects.get(pk=paper.pk).live_orders == 1
    async_task(schedule.func)
    assert run_queued_tasks() == 1
    assert PaperAccount.objects.get(pk=paper.pk).live_orders == 0
    assert book.find_order("s").filled_size == Decimal("0.1")
    assert book.positions() == []


def test_a_fill_between_the_fills_read_and_the_log_read_keeps_its_fee(client, trader, paper, fake):
    """A fill that lands between reconciliation's fills read and its account-log read: the log rows arrive first,
    the fill a pass later - and it still gets its fee and P&L (issue 7: a log row seen before its fill)."""
    route = paper_route(trader, paper)
    send(client, route, position="0.1")
    exchange = paper_exchange(paper)

    class MarkFallsBetweenTheReads:
        """The paper account, with the market falling through the stop right after the fills were read."""

        def __getattr__(self, name: str) -> Any:
            return getattr(exchange, name)

        def ledger_since(self, since: Any) -> Any:
            fake.set_mark(SYMBOL, Decimal(56000))
            return exchange.ledger_since(since)

    reconcile_account(paper, MarkFallsBetweenTheReads(), reconcile.Report(), clock=timezone.now)
    reconcile.run()  # and the next round, as the schedule runs it
    stop = Order.objects.get(route=route, purpose=Order.Purpose.WORST_CASE_STOP)
    assert stop.state == OrderState.FILLED
    stop_fill = Fill.objects.get(order=stop)
    assert (stop_fill.fee, stop_fill.realized_pnl) == (Decimal("2.8"), Decimal(-400))
