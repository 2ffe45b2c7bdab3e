"""The snapshot's exchange reads (routing/snapshot.py): made at once on a transport whose reads are network round
trips, one after the other otherwise, and a failure in any one of them classified as when they were sequential -
the instrument or the position is `read_error`, the ticker or the account a warning.

The exchange here is an in-process object whose reads meet at a barrier: they return only if all of them are under
way at the same moment, so the test proves the overlap without timing anything. The real transport over HTTP is
covered by tests/routing/test_alert_to_order.py (the same faults, through the fake Kraken)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.utils import timezone

from exchanges.base import AccountSummary, ExchangeCapabilities, InstrumentSpec, Position, Ticker
from exchanges.errors import Unavailable
from routing.domain import Snapshot
from routing.snapshot import forget_instruments, read_snapshot

pytestmark = pytest.mark.django_db

SYMBOL = "PF_XBTUSD"


class Reads:
    """Four reads; `fail` names those that raise Unavailable; with `meet`, each waits until all four have begun."""

    def __init__(self, *, concurrent: bool, meet: bool = False, fail: tuple[str, ...] = ()) -> None:
        self.capabilities = ExchangeCapabilities(concurrent_reads=concurrent)
        self.market_id = "reads"
        self._barrier = threading.Barrier(4, timeout=5) if meet else None
        self._fail = fail
        self.threads: dict[str, str] = {}

    def _read(self, name: str, value: object) -> object:
        self.threads[name] = threading.current_thread().name
        if self._barrier is not None:
            self._barrier.wait()  # BrokenBarrierError (not an ExchangeError) if the reads do not overlap
        if name in self._fail:
            raise Unavailable(f"{name} down")
        return value

    def instruments(self) -> object:
        spec = InstrumentSpec(SYMBOL, "flexible_futures", Decimal("0.5"), Decimal("0.0001"), Decimal(1), True)
        return self._read("instruments", [spec])

    def positions(self) -> object:
        return self._read("positions", [Position(SYMBOL, Decimal("0.25"), Decimal(60000))])

    def ticker(self, symbol: str) -> object:
        return self._read("ticker", Ticker(symbol, Decimal(61000)))

    def account(self) -> object:
        return self._read("account", AccountSummary("USD", Decimal(1000), Decimal(900)))


@pytest.fixture(autouse=True)
def _no_cached_instruments() -> Iterator[None]:
    forget_instruments()
    yield
    forget_instruments()


def _read(make_route, account, exchange: Reads) -> Snapshot:
    base = Snapshot(
        taken_at=timezone.now(), account_connected=True, credentials_readable=True, live=True, live_access=True
    )
    return read_snapshot(base, make_route(), account, exchange)  # type: ignore[arg-type]


def test_reads_of_a_network_transport_are_made_at_once(make_route, account):
    exchange = Reads(concurrent=True, meet=True)
    snapshot = _read(make_route, account, exchange)
    assert snapshot.read_error == "" and snapshot.read_warnings == ""
    assert snapshot.position == Decimal("0.25")
    assert snapshot.mark_price == Decimal(61000)
    assert snapshot.equity == Decimal(1000) and snapshot.available_margin == Decimal(900)
    assert snapshot.instrument is not None and snapshot.instrument.tick_size == Decimal("0.5")
    caller = threading.current_thread().name
    assert all(name != caller for name in exchange.threads.values())


def test_reads_of_a_local_transport_stay_in_the_callers_thread(make_route, account):
    exchange = Reads(concurrent=False)
    snapshot = _read(make_route, account, exchange)
    assert snapshot.position == Decimal("0.25") and snapshot.read_error == ""
    assert set(exchange.threads.values()) == {threading.current_thread().name}


@pytest.mark.parametrize("concurrent", [True, False])
@pytest.mark.parametrize("failing", ["positions", "instruments"])
def test_a_failing_position_or_instrument_read_is_a_read_error(make_route, account, concurrent, failing):
    snapshot = _read(make_route, account, Reads(concurrent=concurrent, fail=(failing,)))
    assert snapshot.read_error == f"Unavailable: {failing} down"
    assert snapshot.instrument is None and snapshot.mark_price is None


def test_when_both_fail_the_instrument_is_named_as_it_was_read_first(make_route, account):
    snapshot = _read(make_route, account, Reads(concurrent=True, fail=("positions", "instruments")))
    assert snapshot.read_error == "Unavailable: instruments down"


@pytest.mark.parametrize("concurrent", [True, False])
def test_a_failing_ticker_or_account_read_is_a_warning_and_an_empty_value(make_route, account, concurrent):
    snapshot = _read(make_route, account, Reads(concurrent=concurrent, fail=("ticker", "account")))
    assert snapshot.read_error == ""
    assert snapshot.read_warnings == "mark price: Unavailable: ticker down; account: Unavailable: account down"
    assert snapshot.mark_price is None and snapshot.equity is None and snapshot.available_margin is None
    assert snapshot.position == Decimal("0.25") and snapshot.instrument is not None


def test_an_error_that_is_not_the_exchanges_is_raised_not_classified(make_route, account):
    class Broken(Reads):
        def account(self) -> object:
            raise RuntimeError("a bug in the adapter")

    with pytest.raises(RuntimeError):
        _read(make_route, account, Broken(concurrent=True))
