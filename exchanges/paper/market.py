"""Real prices for paper accounts: a venue's public instruments and tickers, cached briefly per process.

Tickers are kept for a few seconds (``PAPER_MARK_TTL_SECONDS``), instrument specs for a minute: every paper account
in a worker process prices from the same read, so a burst of alerts costs one request, not one each. A failed read
raises (``Unavailable``); an expired cache is never served in its place - a paper fill at a stale price would be a
guess.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from exchanges.base import InstrumentSpec, Ticker

INSTRUMENT_TTL_SECONDS = 60.0


class MarketFeed(Protocol):
    """Public market data of one venue (``exchanges.kraken.public.KrakenPublicMarket``)."""

    def instruments(self) -> list[InstrumentSpec]: ...

    def tickers(self) -> list[Ticker]: ...


@dataclass(frozen=True)
class MarketView:
    """One consistent read: specs and tickers by symbol (upper case), and when the tickers were fetched."""

    specs: Mapping[str, InstrumentSpec]
    tickers: Mapping[str, Ticker]
    fetched_at: datetime

    def spec(self, symbol: str) -> InstrumentSpec | None:
        """The spec with the ticker's (fresher) suspension folded in."""
        spec = self.specs.get(symbol)
        ticker = self.tickers.get(symbol)
        if spec is None or ticker is None or spec.suspended == ticker.suspended:
            return spec
        return dataclasses.replace(spec, suspended=ticker.suspended)

    def mark_time(self, symbol: str) -> datetime:
        """When the venue produced this symbol's mark (its serverTime), else when we read it."""
        ticker = self.tickers.get(symbol)
        return (ticker.time if ticker is not None else None) or self.fetched_at


class CachedMarket:
    def __init__(
        self,
        feed: MarketFeed,
        *,
        ticker_ttl: float,
        instrument_ttl: float = INSTRUMENT_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.feed = feed
        self.ticker_ttl = ticker_ttl
        self.instrument_ttl = instrument_ttl
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._tickers: tuple[float, dict[str, Ticker], datetime] | None = None
        self._specs: tuple[float, dict[str, InstrumentSpec]] | None = None

    def __repr__(self) -> str:
        return f"CachedMarket({self.feed!r}, ticker_ttl={self.ticker_ttl})"

    def view(self) -> MarketView:
        """Fresh-enough specs and tickers; raises what the feed raised when a read is due and fails."""
        # One reader at a time: concurrent callers in a process wait for the read in flight instead of repeating it.
        with self._lock:
            now = self._monotonic()
            if self._specs is None or now - self._specs[0] >= self.instrument_ttl:
                self._specs = (now, {s.symbol.upper(): s for s in self.feed.instruments()})
            if self._tickers is None or now - self._tickers[0] >= self.ticker_ttl:
                self._tickers = (now, {t.symbol.upper(): t for t in self.feed.tickers()}, self._wall_clock())
            return MarketView(specs=self._specs[1], tickers=self._tickers[1], fetched_at=self._tickers[2])

    def forget(self) -> None:
        with self._lock:
            self._tickers = None
            self._specs = None
