"""The paper adapter's contract: the ``Exchange`` protocol over a paper book, priced from the fake Kraken's public
endpoints over real HTTP - and never a single private call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from paper_testkit import MARK, SYMBOL

from accounts.models import ExchangeAccount
from exchanges.base import (
    Exchange,
    Liquidity,
    OrderRequest,
    OrderState,
    OrderType,
    Permission,
    Side,
    TriggerSignal,
)
from exchanges.connect import exchange_for, paper_exchange
from exchanges.errors import AmbiguousOutcome, OrderRejected, Unavailable
from exchanges.fake.server import FakeKraken
from exchanges.paper import book as paper_book
from exchanges.paper.adapter import PaperExchange
from exchanges.paper.market import MarketView
from exchanges.paper.models import PaperAccount, PaperFill, PaperLedgerRow, PaperOrder
from exchanges.paper.tasks import trigger_stops
from tests.venue_calls import private_calls, public_calls

pytestmark = pytest.mark.django_db

_ids = iter(range(1_000_000))


def market(side: Side, size: str, *, reduce_only: bool = False, cid: str | None = None, **extra) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=side,
        size=Decimal(size),
        order_type=OrderType.MARKET,
        client_order_id=cid or f"t-{next(_ids)}",
        reduce_only=reduce_only,
        **extra,
    )


def stop(side: Side, size: str, stop_price: str, *, cid: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=side,
        size=Decimal(size),
        order_type=OrderType.STOP,
        client_order_id=cid or f"t-{next(_ids)}",
        stop_price=Decimal(stop_price),
        trigger_signal=TriggerSignal.MARK,
        reduce_only=True,
    )


def position(exchange: PaperExchange) -> Decimal:
    return next((p.size for p in exchange.positions() if p.symbol == SYMBOL), Decimal(0))


@pytest.fixture(autouse=True)
def _only_public_calls(venue: FakeKraken):
    """Whatever a test does to a paper account, the venue sees public calls only."""
    yield
    assert private_calls(venue.all_calls()) == {}


# --- wiring ----------------------------------------------------------------------------------------------------


def test_exchange_for_a_paper_account_is_the_paper_adapter(paper):
    guarded = exchange_for(paper)
    assert isinstance(guarded._exchange, PaperExchange)  # behind the same breaker as a live adapter
    assert isinstance(paper_exchange(paper), Exchange)


def test_a_live_account_is_never_given_the_paper_adapter(owner, market_url):
    live = ExchangeAccount(owner=owner, label="Live", mode=ExchangeAccount.Mode.LIVE)
    live.set_credentials("k" * 20, "c2VjcmV0")
    live.save()
    assert not isinstance(exchange_for(live)._exchange, PaperExchange)
    with pytest.raises(ValueError):
        paper_exchange(live)


def test_the_paper_adapter_holds_no_credentials_and_cannot_sign(exchange):
    client = exchange.market.feed.client
    assert client._key is None and client._api_key == ""
    from exchanges.errors import AuthenticationFailed

    with pytest.raises(AuthenticationFailed):
        client.request("GET", "/derivatives/api/v3/openpositions")  # refused before anything is sent


# --- market data ---------------------------------------------------------------------------------------------------


def test_instruments_and_ticker_are_the_venues_public_ones(exchange, venue):
    specs = {s.symbol: s for s in exchange.instruments()}
    assert specs[SYMBOL].tick_size == Decimal(1) and specs[SYMBOL].size_step == Decimal("0.0001")
    assert exchange.ticker(SYMBOL).mark_price == MARK
    venue.set_mark(SYMBOL, Decimal("61234"))
    assert exchange.ticker("pf_xbtusd").mark_price == Decimal("61234")
    with pytest.raises(Unavailable):
        exchange.ticker("PF_NOPEUSD")
    assert set(public_calls(venue.all_calls())) <= {"instruments", "tickers"}


def test_marks_are_cached_for_the_configured_seconds(paper, venue, settings):
    from exchanges.connect import forget_exchanges

    settings.PAPER_MARK_TTL_SECONDS = 30.0
    forget_exchanges()
    cached = paper_exchange(paper)
    cached.ticker(SYMBOL)
    before = venue.calls("tickers")
    venue.set_mark(SYMBOL, Decimal("59000"))
    assert cached.ticker(SYMBOL).mark_price == MARK  # still the cached read
    cached.positions()
    assert venue.calls("tickers") == before


# --- a fresh account ------------------------------------------------------------------------------------------------


def test_a_new_paper_account_is_flat_and_funded(exchange, venue):
    assert exchange.positions() == []
    assert exchange.open_orders() == []
    summary = exchange.account()
    assert (summary.currency, summary.equity, summary.available_margin) == ("USD", Decimal(10000), Decimal(10000))
    (funding,) = exchange.ledger_since(datetime.now(UTC) - timedelta(minutes=1))
    assert (funding.kind, funding.balance_change, funding.asset) == ("paper funding", Decimal(10000), "usd")
    permissions = exchange.key_permissions()
    assert permissions.general is Permission.FULL and permissions.can_trade and not permissions.withdrawal
    # Flat with no orders, nothing needs a price: no market read at all for these.
    assert venue.calls("tickers") == 0


# --- market orders, fees, reduce-only -------------------------------------------------------------------------------


def test_a_market_order_fills_at_the_mark_with_the_taker_fee_in_the_ledger(exchange, venue):
    since = datetime.now(UTC) - timedelta(seconds=5)
    ack = exchange.place_order(market(Side.BUY, "0.1", cid="buy-1"))
    assert ack.status == "placed" and ack.client_order_id == "buy-1"
    (fill,) = ack.fills
    assert (fill.side, fill.size, fill.price, fill.liquidity) == (Side.BUY, Decimal("0.1"), MARK, Liquidity.TAKER)
    assert ack.filled_size == Decimal("0.1")
    assert position(exchange) == Decimal("0.1")
    assert exchange.positions()[0].average_price == MARK

    found = exchange.find_order("buy-1")
    assert (found.state, found.filled_size, found.exchange_order_id) == (
        OrderState.FILLED,
        Decimal("0.1"),
        ack.exchange_order_id,
    )
    assert [f.fill_id for f in exchange.fills_since(since)] == [fill.fill_id]
    trade = [e for e in exchange.ledger_since(since) if e.execution_id == fill.fill_id and e.asset == "usd"]
    (cash_leg,) = trade
    assert cash_leg.kind == "futures trade"
    assert cash_leg.fee == Decimal("3")  # 0.1 x 60000 x 0.05 %
    assert cash_leg.balance_change == Decimal("-3")
    summary = exchange.account()
    assert summary.equity == Decimal("9997")
    assert summary.initial_margin == Decimal("120")  # 2 % of 6000


def test_profit_is_realised_on_the_exit_at_the_new_mark(exchange, venue):
    exchange.place_order(market(Side.BUY, "0.1"))
    venue.set_mark(SYMBOL, Decimal("61000"))
    assert exchange.account().equity == Decimal("10097")  # 10000 - 3 fee + 100 unrealised
    since = datetime.now(UTC) - timedelta(seconds=5)
    ack = exchange.place_order(market(Side.SELL, "0.1", reduce_only=True))
    assert ack.fills[0].price == Decimal("61000")
    assert position(exchange) == 0
    pnl = sum(e.realized_pnl for e in exchange.ledger_since(since))
    assert pnl == Decimal("100")
    assert exchange.account().equity == Decimal("10000") - Decimal("3") + Decimal("100") - Decimal("3.05")


def test_a_reduce_only_order_larger_than_the_position_is_shrunk_to_it(exchange):
    exchange.place_order(market(Side.BUY, "0.1"))
    ack = exchange.place_order(market(Side.SELL, "0.3", reduce_only=True))
    assert ack.reduced_size == Decimal("0.2")
    assert ack.filled_size == Decimal("0.1")
    assert position(exchange) == 0


def test_a_reduce_only_order_that_cannot_reduce_is_rejected_and_opens_nothing(exchange):
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(market(Side.SELL, "0.1", reduce_only=True, cid="ro-1"))
    assert rejected.value.status == "wouldNotReducePosition"
    assert position(exchange) == 0
    assert exchange.find_order("ro-1").state is OrderState.REJECTED  # the refused attempt is on record


# --- rejections: the engine's own words, verbatim ------------------------------------------------------------------


def test_an_order_off_the_size_step_is_rejected(exchange):
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(market(Side.BUY, "0.00001"))
    assert rejected.value.status == "invalidSize"


def test_an_order_beyond_the_available_margin_is_rejected(exchange):
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(market(Side.BUY, "10"))  # 600,000 notional needs 12,000 margin; 10,000 available
    assert rejected.value.status == "insufficientAvailableFunds"
    assert position(exchange) == 0


def test_a_suspended_market_rejects_orders(exchange, venue):
    venue.suspend(SYMBOL)
    assert next(s for s in exchange.instruments() if s.symbol == SYMBOL).suspended
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(market(Side.BUY, "0.1"))
    assert rejected.value.status == "marketSuspended"


def test_an_unknown_market_is_rejected(exchange):
    request = OrderRequest(
        symbol="PF_NOPEUSD", side=Side.BUY, size=Decimal(1), order_type=OrderType.MARKET, client_order_id="x-1"
    )
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(request)
    assert rejected.value.status == "invalidArgument"


def test_a_stop_off_the_tick_is_rejected(exchange):
    exchange.place_order(market(Side.BUY, "0.1"))
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(stop(Side.SELL, "0.1", "57000.5"))
    assert rejected.value.status == "invalidPrice"


def test_a_late_order_is_refused_and_not_placed(exchange):
    late = market(Side.BUY, "0.1", cid="late-1", process_before=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(OrderRejected) as rejected:
        exchange.place_order(late)
    assert rejected.value.status == "wouldProcessAfterSpecifiedTime"
    assert position(exchange) == 0
    assert exchange.find_order("late-1") is None
    in_time = market(Side.BUY, "0.1", process_before=datetime.now(UTC) + timedelta(seconds=30))
    assert exchange.place_order(in_time).filled_size == Decimal("0.1")


def test_a_client_order_id_used_before_is_an_ambiguous_outcome_never_a_second_order(exchange):
    exchange.place_order(market(Side.BUY, "0.1", cid="dup-1"))
    with pytest.raises(AmbiguousOutcome) as ambiguous:
        exchange.place_order(market(Side.BUY, "0.1", cid="dup-1"))
    assert ambiguous.value.venue_code == "clientOrderIdAlreadyExist"
    assert position(exchange) == Decimal("0.1")
    # ... and a resting order's id is taken while it rests too.
    exchange.place_order(stop(Side.SELL, "0.1", "50000", cid="dup-2"))
    with pytest.raises(AmbiguousOutcome):
        exchange.place_order(stop(Side.SELL, "0.1", "51000", cid="dup-2"))


# --- stops ---------------------------------------------------------------------------------------------------------


def test_a_resting_stop_triggers_when_the_mark_crosses_it_on_the_next_touch(exchange, venue):
    exchange.place_order(market(Side.BUY, "0.1"))
    ack = exchange.place_order(stop(Side.SELL, "0.1", "57000", cid="stop-1"))
    assert ack.fills == ()
    (resting,) = exchange.open_orders()
    assert (resting.client_order_id, resting.order_type, resting.state) == ("stop-1", OrderType.STOP, OrderState.OPEN)
    assert (resting.stop_price, resting.reduce_only, resting.trigger_signal) == (
        Decimal(57000),
        True,
        TriggerSignal.MARK,
    )
    assert PaperAccount.objects.get(pk=exchange.book.account_pk).live_orders == 1

    venue.set_mark(SYMBOL, Decimal("57500"))
    assert exchange.find_order("stop-1").state is OrderState.OPEN  # not crossed yet
    since = datetime.now(UTC) - timedelta(seconds=5)
    venue.set_mark(SYMBOL, Decimal("56900"))
    # Any touch applies the mark: this read finds the stop filled at the mark, and the position gone.
    assert position(exchange) == 0
    found = exchange.find_order("stop-1")
    assert (found.state, found.filled_size) == (OrderState.FILLED, Decimal("0.1"))
    (fill,) = [f for f in exchange.fills_since(since) if f.client_order_id == "stop-1"]
    assert (fill.side, fill.price) == (Side.SELL, Decimal("56900"))
    loss = sum(e.realized_pnl for e in exchange.ledger_since(since))
    assert loss == Decimal("-310")  # 0.1 x (56900 - 60000)
    assert exchange.open_orders() == []
    assert PaperAccount.objects.get(pk=exchange.book.account_pk).live_orders == 0


def test_the_periodic_task_triggers_stops_nobody_else_touches(exchange, venue, paper):
    exchange.place_order(market(Side.BUY, "0.1"))
    exchange.place_order(stop(Side.SELL, "0.1", "57000", cid="stop-2"))
    version = PaperAccount.objects.get(pk=paper.pk).version
    assert "engine events: 0" in trigger_stops()  # nothing crossed: nothing written
    assert PaperAccount.objects.get(pk=paper.pk).version == version
    venue.set_mark(SYMBOL, Decimal("56000"))
    report = trigger_stops()
    assert "touched: 1" in report and "failed: 0" in report
    row = PaperAccount.objects.get(pk=paper.pk)
    assert row.version == version + 1 and row.live_orders == 0
    (archived,) = PaperOrder.objects.filter(paper=row, client_order_id="stop-2")
    assert archived.state == "filled"
    assert PaperFill.objects.filter(paper=row).count() == 2


def test_a_stop_already_through_the_mark_fires_at_once(exchange):
    exchange.place_order(market(Side.BUY, "0.1"))
    ack = exchange.place_order(stop(Side.SELL, "0.1", "61000"))
    assert ack.filled_size == Decimal("0.1")
    assert position(exchange) == 0


def test_a_reduce_only_stop_lapses_instead_of_opening_a_position(exchange, venue):
    exchange.place_order(market(Side.BUY, "0.1"))
    exchange.place_order(stop(Side.SELL, "0.1", "57000", cid="stop-3"))
    exchange.place_order(market(Side.SELL, "0.1", reduce_only=True))  # the strategy exits first
    venue.set_mark(SYMBOL, Decimal("56000"))
    assert position(exchange) == 0  # the stop did not open a short
    assert exchange.find_order("stop-3").state is OrderState.CANCELLED


def test_a_stop_is_moved_in_place_with_edit_order(exchange, venue):
    exchange.place_order(market(Side.BUY, "0.2"))
    placed = exchange.place_order(stop(Side.SELL, "0.2", "57000", cid="stop-4"))
    edited = exchange.edit_order(client_order_id="stop-4", stop_price=Decimal("58000"), size=Decimal("0.1"))
    assert edited.exchange_order_id == placed.exchange_order_id and edited.status == "edited"
    assert (edited.order.stop_price, edited.order.size) == (Decimal(58000), Decimal("0.1"))
    (resting,) = exchange.open_orders()
    assert resting.stop_price == Decimal(58000)
    with pytest.raises(OrderRejected) as rejected:
        exchange.edit_order(client_order_id="no-such-order", stop_price=Decimal(1))
    assert rejected.value.status == "orderForEditNotFound"


def test_cancel_a_resting_stop_then_again_then_a_filled_order(exchange):
    exchange.place_order(market(Side.BUY, "0.1", cid="filled-1"))
    exchange.place_order(stop(Side.SELL, "0.1", "57000", cid="stop-5"))
    first = exchange.cancel_order(client_order_id="stop-5")
    assert (first.cancelled, first.status) == (True, "cancelled")
    assert exchange.find_order("stop-5").state is OrderState.CANCELLED
    again = exchange.cancel_order(client_order_id="stop-5")
    assert (again.cancelled, again.status) == (False, "notFound")
    filled = exchange.cancel_order(client_order_id="filled-1")
    assert (filled.cancelled, filled.status) == (False, "filled")
    with pytest.raises(OrderRejected):
        exchange.cancel_order()


# --- marks that cannot be read are Unavailable, never a guess ------------------------------------------------------


def test_no_mark_means_no_order_and_no_equity_figure(exchange, venue):
    exchange.place_order(market(Side.BUY, "0.1"))
    venue.add_fault("tickers", "http_5xx", count=100, status=503)
    with pytest.raises(Unavailable):
        exchange.place_order(market(Side.BUY, "0.1"))
    with pytest.raises(Unavailable):
        exchange.account()
    with pytest.raises(Unavailable):
        exchange.positions()  # a resting stop could have fired: an answer without the mark would be a guess
    venue.clear_faults()
    assert position(exchange) == Decimal("0.1")  # the refused order left nothing behind


def test_a_symbol_the_venue_stops_quoting_makes_the_book_unavailable(exchange, venue):
    exchange.place_order(market(Side.BUY, "0.1"))
    row = PaperAccount.objects.get(pk=exchange.book.account_pk)
    assert SYMBOL in row.state["prices"]
    with venue.lock:
        del venue.engine.state.instruments[SYMBOL]  # delisted: no instrument row, no ticker
        del venue.engine.state.prices[SYMBOL]
    with pytest.raises(Unavailable) as unavailable:
        exchange.account()
    assert unavailable.value.venue_code == "tickerNotFound"


# --- history and ids --------------------------------------------------------------------------------------------


def test_history_moves_out_of_the_snapshot_and_ids_never_repeat(exchange, paper):
    for _ in range(5):
        exchange.place_order(market(Side.BUY, "0.01"))
        exchange.place_order(market(Side.SELL, "0.01", reduce_only=True))
    row = PaperAccount.objects.get(pk=paper.pk)
    assert row.state["orders"] == {} and row.state["fills"] == []
    assert row.state["accounts"][row.uid]["ledger"] == []
    assert PaperOrder.objects.filter(paper=row).count() == 10
    fills = exchange.fills_since(datetime.now(UTC) - timedelta(minutes=1))
    assert len({f.fill_id for f in fills}) == 10
    entries = exchange.ledger_since(datetime.now(UTC) - timedelta(minutes=1))
    ids = [int(e.entry_id) for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 1 + 10 * 2
    assert PaperLedgerRow.objects.filter(paper=row).count() == len(ids)


def test_fills_and_ledger_since_are_windows(exchange):
    exchange.place_order(market(Side.BUY, "0.01"))
    assert exchange.fills_since(datetime.now(UTC) + timedelta(seconds=1)) == []
    assert exchange.ledger_since(datetime.now(UTC) + timedelta(seconds=1)) == []
    with pytest.raises(Unavailable):
        exchange.fills_since(datetime(2026, 1, 1))  # naive: which zone would it be?


def test_a_listed_market_without_a_mark_is_unavailable_not_unknown(exchange, paper):
    """An order on a listed market whose ticker carries no mark cannot be priced: Unavailable (try again), never the
    definitive "unknown market" an unlisted symbol gets."""
    view = exchange.market.view()
    unpriced = MarketView(
        specs=view.specs,
        tickers={s: t for s, t in view.tickers.items() if s != "PF_ETHUSD"},
        fetched_at=view.fetched_at,
    )
    row = PaperAccount.objects.get(pk=paper.pk)
    engine = paper_book.load_engine(row)
    now = datetime.now(UTC)
    with pytest.raises(Unavailable) as unavailable:
        paper_book.apply_market(engine, row.uid, unpriced, now=now, strict=True, extra={"PF_ETHUSD"})
    assert unavailable.value.venue_code == "tickerNotFound"
    # An unlisted symbol is left for the engine to refuse as an unknown market.
    assert paper_book.apply_market(engine, row.uid, unpriced, now=now, strict=True, extra={"PF_NOPEUSD"}) == []
    assert "PF_NOPEUSD" not in engine.state.instruments
