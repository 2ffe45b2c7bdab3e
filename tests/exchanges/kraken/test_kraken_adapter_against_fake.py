"""The adapter over real HTTP against the fake Kraken Futures server (``exchanges/fake``), faults included.

Written to hold whatever the ``fake_kraken`` fixture's scope: every test uses its own client order ids, sets the
mark it relies on, and measures position changes rather than absolute positions.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from kraken_testkit import assert_no_secret

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
from exchanges.errors import (
    AmbiguousOutcome,
    AuthenticationFailed,
    OrderRejected,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from exchanges.fake.credentials import FAKE_KEY, FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, FAKE_SECRET
from exchanges.fake.ratelimit import RateLimitConfig
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.errors import ClientOrderIdAlreadyExists
from exchanges.kraken.ratelimit import KeyBudget

SYMBOL = "PF_XBTUSD"
MARK = Decimal("60000")
TIMEOUT = 0.5  # below the fake's 2 s holds, so a held answer is a read timeout here


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[Any]:
    try:
        fake_kraken = request.getfixturevalue("fake_kraken")  # tests/exchanges/conftest.py
    except pytest.FixtureLookupError:
        pytest.skip("the fake_kraken fixture (tests/exchanges/conftest.py) is not available")
    fake_kraken.clear_faults()
    fake_kraken.set_mark(SYMBOL, MARK)
    yield fake_kraken
    fake_kraken.clear_faults()
    assert fake_kraken.errors == []  # the fake itself never failed on one of our requests


@pytest.fixture
def kraken(fake: Any) -> Iterator[KrakenFutures]:
    # A private budget: a fault test that drains it must not slow the next test down.
    adapter = KrakenFutures(
        fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=TIMEOUT, read_timeout=TIMEOUT, budget=KeyBudget()
    )
    yield adapter
    adapter.close()


def cid(label: str) -> str:
    return f"t-{label}-{uuid.uuid4().hex[:12]}"


def market(side: Side, size: str, client_id: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(SYMBOL, side, Decimal(size), OrderType.MARKET, client_id, reduce_only=reduce_only)


def position(kraken: KrakenFutures, symbol: str = SYMBOL) -> Decimal:
    return sum((p.size for p in kraken.positions() if p.symbol == symbol), Decimal(0))


def flatten(kraken: KrakenFutures) -> None:
    size = position(kraken)
    if size:
        side = Side.SELL if size > 0 else Side.BUY
        kraken.place_order(market(side, str(abs(size)), cid("flat"), reduce_only=True))


# --- every operation ---------------------------------------------------------------------------------------------


def test_protocol_and_signing_are_accepted(kraken: KrakenFutures, fake: Any) -> None:
    assert isinstance(kraken, Exchange)
    refused_before = len(fake.auth_failures)
    kraken.account()  # GET, query-string signing, /derivatives stripped
    kraken.order_status_by_client_id(cid("sig+/= x"))  # POST form body, with characters that need encoding
    kraken.key_permissions()  # auth path signed in full
    kraken.ledger_since(datetime.now(UTC) - timedelta(minutes=1))  # history path signed in full
    assert fake.auth_failures[refused_before:] == []


def test_instruments(kraken: KrakenFutures) -> None:
    specs = {s.symbol: s for s in kraken.instruments()}
    xbt = specs[SYMBOL]
    assert (xbt.tick_size, xbt.size_step, xbt.contract_size) == (Decimal(1), Decimal("0.0001"), Decimal(1))
    assert xbt.kind == "flexible_futures" and xbt.can_trade
    assert xbt.margin_levels and xbt.margin_levels[0].initial_margin > 0
    pepe = specs["PF_PEPEUSD"]
    assert pepe.size_step == Decimal(1000)  # negative contractValueTradePrecision


def test_ticker_follows_the_mark(kraken: KrakenFutures, fake: Any) -> None:
    assert kraken.ticker(SYMBOL).mark_price == MARK
    fake.set_mark(SYMBOL, Decimal("61234"))
    ticker = kraken.ticker("pf_xbtusd")
    assert ticker.symbol == SYMBOL and ticker.mark_price == Decimal("61234")
    assert ticker.bid is not None and ticker.ask is not None and ticker.bid < ticker.ask


def test_account_and_key_permissions(kraken: KrakenFutures) -> None:
    summary = kraken.account()
    assert summary.currency == "USD" and summary.equity > 0 and summary.available_margin > 0
    perms = kraken.key_permissions()
    assert perms.general is Permission.FULL and perms.can_trade and perms.withdrawal is False


def test_market_order_fills_then_position_fills_and_ledger(kraken: KrakenFutures) -> None:
    since = datetime.now(UTC) - timedelta(seconds=2)
    before = position(kraken)
    client_id = cid("mkt")
    ack = kraken.place_order(market(Side.BUY, "0.01", client_id))
    assert ack.status == "placed" and ack.client_order_id == client_id
    assert ack.filled_size == Decimal("0.01")
    assert all(f.liquidity is Liquidity.TAKER and f.symbol == SYMBOL for f in ack.fills)
    assert position(kraken) == before + Decimal("0.01")

    found = kraken.find_order(client_id)
    assert found is not None and found.state is OrderState.FILLED and found.filled_size == Decimal("0.01")

    fills = [f for f in kraken.fills_since(since) if f.client_order_id == client_id]
    assert {f.fill_id for f in fills} == {f.fill_id for f in ack.fills}
    assert sum((f.size for f in fills), Decimal(0)) == Decimal("0.01")

    trades = [e for e in kraken.ledger_since(since) if e.execution_id in {f.fill_id for f in fills}]
    assert trades, "the account log records the trade"
    assert sum((e.fee for e in trades), Decimal(0)) > 0
    assert all(e.kind == "futures trade" and e.symbol == SYMBOL for e in trades)
    flatten(kraken)


def test_limit_rests_then_cancel(kraken: KrakenFutures) -> None:
    client_id = cid("lmt")
    request = OrderRequest(SYMBOL, Side.BUY, Decimal("0.002"), OrderType.LIMIT, client_id, limit_price=Decimal(50000))
    ack = kraken.place_order(request)
    assert ack.fills == ()
    resting = [o for o in kraken.open_orders() if o.client_order_id == client_id]
    assert len(resting) == 1
    assert resting[0].state is OrderState.OPEN and resting[0].limit_price == Decimal(50000)
    assert resting[0].order_type is OrderType.LIMIT and resting[0].exchange_order_id == ack.exchange_order_id

    found = kraken.find_order(client_id)
    assert found is not None and found.state is OrderState.OPEN

    result = kraken.cancel_order(exchange_order_id=ack.exchange_order_id)
    assert result.cancelled and result.status == "cancelled"
    assert not [o for o in kraken.open_orders() if o.client_order_id == client_id]
    found = kraken.find_order(client_id)
    assert found is not None and found.state is OrderState.CANCELLED

    again = kraken.cancel_order(client_order_id=client_id)
    assert not again.cancelled


def test_cancel_unknown_order_is_not_found(kraken: KrakenFutures) -> None:
    result = kraken.cancel_order(client_order_id=cid("ghost"))
    assert (result.cancelled, result.status) == (False, "notFound")


def test_reduce_only_stop_with_mark_trigger(kraken: KrakenFutures, fake: Any) -> None:
    kraken.place_order(market(Side.BUY, "0.01", cid("open")))
    held = position(kraken)
    assert held > 0
    stop_id = cid("stop")
    ack = kraken.place_order(
        OrderRequest(
            SYMBOL,
            Side.SELL,
            held,
            OrderType.STOP,
            stop_id,
            stop_price=Decimal(54000),
            trigger_signal=TriggerSignal.MARK,
            reduce_only=True,
        )
    )
    assert ack.fills == ()
    (stop,) = [o for o in kraken.open_orders() if o.client_order_id == stop_id]
    assert stop.order_type is OrderType.STOP and stop.reduce_only
    assert stop.stop_price == Decimal(54000) and stop.trigger_signal is TriggerSignal.MARK
    assert stop.size == held and stop.side is Side.SELL

    found = kraken.find_order(stop_id)
    assert found is not None
    assert (found.state, found.order_type, found.trigger_signal) == (
        OrderState.OPEN,
        OrderType.STOP,
        TriggerSignal.MARK,
    )

    fake.set_mark(SYMBOL, Decimal(53000))  # through the trigger
    assert position(kraken) == 0
    found = kraken.find_order(stop_id)
    assert found is not None and found.state is OrderState.FILLED and found.filled_size == held


def test_stop_found_in_trigger_history_after_the_status_window(kraken: KrakenFutures, fake: Any) -> None:
    # Cancelled stops leave orders/status after ~5 s; history must still answer (find_order step 4).
    stop_id = cid("hist")
    kraken.place_order(
        OrderRequest(SYMBOL, Side.SELL, Decimal("0.001"), OrderType.STOP, stop_id, stop_price=Decimal(40000))
    )
    kraken.cancel_order(client_order_id=stop_id)
    status = kraken.history_order_by_client_id(stop_id)
    assert status is not None and status.state is OrderState.CANCELLED and status.order_type is OrderType.STOP


def test_history_alone_resolves_filled_and_triggered_orders(kraken: KrakenFutures, fake: Any) -> None:
    # Step 4 on its own, as the lifecycle may call it once orders/status has forgotten an order.
    market_id = cid("hmkt")
    kraken.place_order(market(Side.BUY, "0.002", market_id))
    found = kraken.history_order_by_client_id(market_id)
    assert found is not None and found.state is OrderState.FILLED and found.filled_size == Decimal("0.002")
    stop_id = cid("hstp")
    kraken.place_order(
        OrderRequest(
            SYMBOL, Side.SELL, Decimal("0.002"), OrderType.STOP, stop_id, stop_price=Decimal(59000), reduce_only=True
        )
    )
    fake.set_mark(SYMBOL, Decimal(58900))
    found = kraken.history_order_by_client_id(stop_id)
    assert found is not None and found.state is OrderState.FILLED  # the stop became an order, which filled


def test_duplicate_client_order_id_means_it_landed(kraken: KrakenFutures) -> None:
    client_id = cid("dup")
    limit = OrderRequest(SYMBOL, Side.BUY, Decimal("0.001"), OrderType.LIMIT, client_id, limit_price=Decimal(40000))
    kraken.place_order(limit)
    with pytest.raises(ClientOrderIdAlreadyExists) as caught:
        kraken.place_order(limit)
    assert isinstance(caught.value, AmbiguousOutcome) and not isinstance(caught.value, OrderRejected)
    assert kraken.find_order(client_id) is not None
    kraken.cancel_order(client_order_id=client_id)


def test_reduce_only_order_when_flat_is_rejected_verbatim(kraken: KrakenFutures) -> None:
    flatten(kraken)
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(market(Side.SELL, "0.01", cid("ro"), reduce_only=True))
    assert caught.value.status == "wouldNotReducePosition"


def test_find_order_with_no_trace_is_none(kraken: KrakenFutures) -> None:
    assert kraken.find_order(cid("never")) is None


# --- fault switches -> the taxonomy ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["timeout_before", "http_5xx", "unavailable"])
def test_faults_before_the_order_is_applied_are_ambiguous_and_leave_no_trace(
    kraken: KrakenFutures, fake: Any, kind: str
) -> None:
    client_id = cid(kind)
    fake.add_fault("sendorder", kind)
    started = time.monotonic()
    with pytest.raises(AmbiguousOutcome) as caught:
        kraken.place_order(market(Side.BUY, "0.001", client_id))
    assert not isinstance(caught.value, OrderRejected)
    assert time.monotonic() - started < 1.5  # bounded by our read timeout, not by the fake's hold
    assert_no_secret(caught.value, secret=FAKE_SECRET)
    assert fake.calls("sendorder") >= 1
    assert kraken.find_order(client_id) is None  # nothing landed: the caller may re-send once, same id


@pytest.mark.parametrize(("kind", "params"), [("accept_then_drop", {}), ("malformed", {"body": "truncated"})])
def test_faults_after_the_order_is_applied_are_ambiguous_and_find_order_shows_it(
    kraken: KrakenFutures, fake: Any, kind: str, params: dict[str, Any]
) -> None:
    client_id = cid(kind)
    before = position(kraken)
    fake.add_fault("sendorder", kind, **params)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(market(Side.BUY, "0.001", client_id))
    found = kraken.find_order(client_id)
    assert found is not None and found.state is OrderState.FILLED and found.filled_size == Decimal("0.001")
    assert position(kraken) == before + Decimal("0.001")
    flatten(kraken)


@pytest.mark.parametrize("body", ["html", "garbage", "empty"])
def test_malformed_bodies_on_order_calls_are_ambiguous(kraken: KrakenFutures, fake: Any, body: str) -> None:
    client_id = cid("mal")
    fake.add_fault("sendorder", "malformed", body=body)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(
            OrderRequest(SYMBOL, Side.BUY, Decimal("0.001"), OrderType.LIMIT, client_id, limit_price=Decimal(40000))
        )
    found = kraken.find_order(client_id)
    assert found is not None and found.state is OrderState.OPEN
    kraken.cancel_order(client_order_id=client_id)


def test_cancel_answer_lost_is_ambiguous(kraken: KrakenFutures, fake: Any) -> None:
    client_id = cid("cxl")
    kraken.place_order(
        OrderRequest(SYMBOL, Side.BUY, Decimal("0.001"), OrderType.LIMIT, client_id, limit_price=Decimal(40000))
    )
    fake.add_fault("cancelorder", "accept_then_drop")
    with pytest.raises(AmbiguousOutcome):
        kraken.cancel_order(client_order_id=client_id)
    found = kraken.find_order(client_id)
    assert found is not None and found.state is OrderState.CANCELLED


@pytest.mark.parametrize(
    ("endpoint", "call"),
    [
        ("openpositions", lambda k: k.positions()),
        ("accounts", lambda k: k.account()),
        ("openorders", lambda k: k.open_orders()),
        ("tickers", lambda k: k.ticker(SYMBOL)),
        ("instruments", lambda k: k.instruments()),
        ("fills", lambda k: k.fills_since(datetime.now(UTC) - timedelta(minutes=5))),
        ("account-log", lambda k: k.ledger_since(datetime.now(UTC) - timedelta(minutes=5))),
        ("api-keys/v3/check", lambda k: k.key_permissions()),
    ],
)
@pytest.mark.parametrize(
    ("kind", "params"),
    [("http_5xx", {}), ("http_5xx", {"status": 503, "body": "json"}), ("unavailable", {}), ("timeout_before", {})],
)
def test_read_faults_are_unavailable(
    kraken: KrakenFutures, fake: Any, endpoint: str, call: Any, kind: str, params: dict[str, Any]
) -> None:
    # instruments/tickers are public reads retried once on a reset; a fault counts per call, so add two.
    fake.add_fault(endpoint, kind, count=2, **params)
    with pytest.raises(Unavailable) as caught:
        call(kraken)
    assert_no_secret(caught.value, secret=FAKE_SECRET)


@pytest.mark.parametrize("body", ["truncated", "html", "garbage"])
def test_malformed_reads_are_unavailable(kraken: KrakenFutures, fake: Any, body: str) -> None:
    fake.add_fault("accounts", "malformed", body=body)
    with pytest.raises(Unavailable):
        kraken.account()


def test_drop_openpositions_key_is_unavailable_not_flat(kraken: KrakenFutures, fake: Any) -> None:
    fake.add_fault("openpositions", "drop_openpositions_key")
    with pytest.raises(Unavailable):
        kraken.positions()
    kraken.positions()  # the next call answers again


@pytest.mark.parametrize(
    "status",
    [
        "insufficientAvailableFunds",
        "wouldNotReducePosition",
        "marketSuspended",
        "invalidSize",
        "postWouldExecute",
        "iocWouldNotExecute",
        "outsidePriceCollar",
        "somethingKrakenInventsLater",
    ],
)
def test_reject_fault_is_order_rejected_verbatim(kraken: KrakenFutures, fake: Any, status: str) -> None:
    client_id = cid("rej")
    fake.add_fault("sendorder", "reject", status=status)
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(market(Side.BUY, "0.001", client_id))
    assert type(caught.value) is OrderRejected and caught.value.status == status
    assert kraken.find_order(client_id) is None


def test_reject_fault_client_order_id_already_exist(kraken: KrakenFutures, fake: Any) -> None:
    fake.add_fault("sendorder", "reject", status="clientOrderIdAlreadyExist")
    with pytest.raises(ClientOrderIdAlreadyExists):
        kraken.place_order(market(Side.BUY, "0.001", cid("dupf")))


def test_rate_limit_on_sendorder(kraken: KrakenFutures, fake: Any) -> None:
    fake.add_fault("sendorder", "rate_limit")
    with pytest.raises(RateLimited) as caught:
        kraken.place_order(market(Side.BUY, "0.001", cid("rl")))
    assert caught.value.venue_code == "apiLimitExceeded" and caught.value.retry_after > 0


def test_rate_limit_on_history_uses_rate_limit_reset(kraken: KrakenFutures, fake: Any) -> None:
    fake.add_fault("account-log", "rate_limit", reset=7)
    with pytest.raises(RateLimited) as caught:
        kraken.ledger_since(datetime.now(UTC) - timedelta(minutes=1))
    assert caught.value.retry_after == 7.0


def test_latency_within_the_timeout_is_fine_beyond_it_ambiguous(kraken: KrakenFutures, fake: Any) -> None:
    fake.add_fault("openpositions", "latency", seconds=0.1)
    kraken.positions()
    client_id = cid("slow")
    fake.add_fault("sendorder", "latency", seconds=1.0)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(market(Side.BUY, "0.001", client_id))
    time.sleep(0.7)  # the fake answers (and applies) after its latency; then the order is there
    found = kraken.find_order(client_id)
    assert found is not None and found.filled_size == Decimal("0.001")
    flatten(kraken)


def test_a_burst_is_stopped_by_the_budget_and_then_refused_locally(fake: Any) -> None:
    # Our budget mirrors Kraken's (500 per 10 s, accounts costs 2). Which side says "no" first is a race at the
    # margin (both refill continuously, on different clocks); either way the burst ends in RateLimited, and from
    # then on this process refuses locally, without sending.
    original = fake.limiter.config
    fake.set_rate_limits(RateLimitConfig())  # Kraken's own numbers, with fresh buckets on the venue side
    try:
        budget = KeyBudget()
        with KrakenFutures(fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=1, read_timeout=1, budget=budget) as kraken:
            sent_before = fake.calls("accounts")
            with pytest.raises(RateLimited) as caught:
                for _ in range(300):
                    kraken.account()
            assert caught.value.venue_code in ("localBudget", "apiLimitExceeded")
            assert caught.value.retry_after > 0
            sent = fake.calls("accounts") - sent_before
            assert 250 <= sent < 300  # 250 fit at once, a few more as the pools refill during the burst
            with pytest.raises(RateLimited) as again:
                kraken.account()
            assert again.value.venue_code == "localBudget"
            assert fake.calls("accounts") - sent_before == sent  # refused without a request
    finally:
        fake.set_rate_limits(original)


# --- keys ----------------------------------------------------------------------------------------------------------


def test_wrong_secret_is_authentication_failed(fake: Any) -> None:
    wrong = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgZmFrZSBrcmFrZW4gdGVzdCBzdWl0ZSAxMjM0NTY3ODkwYWJjZGVmZ2hpams="
    with KrakenFutures(fake.url, FAKE_KEY, wrong, connect_timeout=1, read_timeout=1, budget=KeyBudget()) as kraken:
        with pytest.raises(AuthenticationFailed) as caught:
            kraken.account()
        assert_no_secret(caught.value, secret=wrong)
        with pytest.raises(AuthenticationFailed):
            kraken.key_permissions()  # 401 on the auth path
        with pytest.raises(AuthenticationFailed):
            kraken.place_order(market(Side.BUY, "0.001", cid("auth")))


def test_read_only_key(fake: Any) -> None:
    with contextlib.suppress(ValueError):  # already seeded (session-scoped fixture, or the conftest seeds it)
        fake.add_account(FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, permissions="read_only")
    with KrakenFutures(
        fake.url, FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, connect_timeout=1, read_timeout=1, budget=KeyBudget()
    ) as kraken:
        perms = kraken.key_permissions()
        assert perms.general is Permission.READ_ONLY and not perms.can_trade
        kraken.positions()
        with pytest.raises(PermissionDenied):
            kraken.place_order(market(Side.BUY, "0.001", cid("ro-key")))
