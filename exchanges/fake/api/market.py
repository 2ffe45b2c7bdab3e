"""Public market data: instruments (and their status), tickers and the order book."""

from __future__ import annotations

import bisect
import itertools
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from exchanges.fake.api.endpoints import Call
from exchanges.fake.api.envelope import Reply, classic_error, success
from exchanges.fake.api.params import ParamError
from exchanges.fake.api.venue import Area, Venue
from exchanges.fake.instruments import trade_precision
from exchanges.fake.wire import iso, text
from exchanges.sim.model import SimFill

ZERO = Decimal(0)


class _SymbolFills:
    __slots__ = ("fills", "ordered", "quote", "start", "summed_to", "times", "volume")

    def __init__(self) -> None:
        self.fills: list[SimFill] = []
        self.times: list[datetime] = []
        self.ordered = True  # times never decrease along the list
        self.start = -1  # the running sums cover fills[start:summed_to]
        self.summed_to = 0
        self.volume = ZERO
        self.quote = ZERO


class DayStats:
    """Each symbol's fills of the last 24 hours (last fill, volume, quote volume) for the tickers, without
    rescanning every fill of every symbol on each request.

    The engine's fill list only grows, so each new fill is indexed once, under its symbol. While a symbol's fill
    times are in order (the clock did not step back), its window is a suffix of that index, found by bisection;
    its sums are carried forward by adding the new fills in order - the very additions, in the very order, that
    summing the window afresh performs - and recomputed when the window's start moves. Fills out of time order, or
    a different fill list, fall back to filtering as a full scan would."""

    def __init__(self) -> None:
        self._source: list[SimFill] | None = None
        self._seen = 0
        self._symbols: dict[str, _SymbolFills] = {}

    def of(self, fills: list[SimFill], symbol: str, cutoff: datetime) -> tuple[SimFill | None, Decimal, Decimal]:
        """Like ``day = [f for f in fills if f.symbol == symbol and f.time >= cutoff]``: its last fill (or None),
        ``sum(size)`` and ``sum(size * price)``, both starting from ZERO."""
        if fills is not self._source or len(fills) < self._seen:
            self._source, self._seen, self._symbols = fills, 0, {}
        for fill in itertools.islice(fills, self._seen, None):
            entry = self._symbols.get(fill.symbol)
            if entry is None:
                entry = self._symbols[fill.symbol] = _SymbolFills()
            if entry.times and fill.time < entry.times[-1]:
                entry.ordered = False
            entry.fills.append(fill)
            entry.times.append(fill.time)
        self._seen = len(fills)
        entry = self._symbols.get(symbol)
        if entry is None:
            return None, ZERO, ZERO
        if not entry.ordered:
            day = [f for f in entry.fills if f.time >= cutoff]
            volume = sum((f.size for f in day), ZERO)
            return (day[-1] if day else None), volume, sum((f.size * f.price for f in day), ZERO)
        start = bisect.bisect_left(entry.times, cutoff)
        if start != entry.start:
            entry.start, entry.volume, entry.quote, summed = start, ZERO, ZERO, start
        else:
            summed = entry.summed_to
        for fill in itertools.islice(entry.fills, summed, None):
            entry.volume = entry.volume + fill.size
            entry.quote = entry.quote + fill.size * fill.price
        entry.summed_to = len(entry.fills)
        return (entry.fills[-1] if start < len(entry.fills) else None), entry.volume, entry.quote


class MarketApi(Area):
    def __init__(self, venue: Venue) -> None:
        super().__init__(venue)
        self._day_stats = DayStats()

    def instruments(self, call: Call) -> Reply:
        return success(call.now, instruments=[self._instrument_json(s) for s in self.engine.instruments()])

    def _instrument_json(self, spec: Any) -> dict[str, Any]:
        levels = [
            {
                "numNonContractUnits": level.from_size,
                "initialMargin": level.initial_margin,
                "maintenanceMargin": level.maintenance_margin,
            }
            for level in spec.margin_levels
        ]
        row: dict[str, Any] = {
            "symbol": spec.symbol,
            "pair": f"{spec.base}:{spec.quote}",
            "base": spec.base,
            "quote": spec.quote,
            "type": spec.kind,
            "tickSize": spec.tick_size,
            "contractSize": spec.contract_size,
            "tradeable": spec.tradeable,
            "impactMidSize": Decimal(1),
            "openingDate": "2022-01-01T00:00:00.000Z",
            "marginLevels": levels,
            "fundingRateCoefficient": Decimal(8),
            "maxRelativeFundingRate": Decimal("0.001"),
            "contractValueTradePrecision": trade_precision(spec),
            "postOnly": spec.post_only,
            "retailMarginLevels": levels,
            "category": "Layer 1",
            "tags": [],
            "tradfi": False,
            "mtf": False,
        }
        if spec.max_position_size is not None:
            row["maxPositionSize"] = spec.max_position_size
        return row

    def instruments_status(self, call: Call) -> Reply:
        rows = [_instrument_status(s.symbol) for s in self.engine.instruments()]
        return success(call.now, instrumentStatus=rows)

    def instrument_status(self, call: Call) -> Reply:
        symbol = self.venue.symbol(call.request.path_args["symbol"])
        if symbol is None:
            return classic_error("notFound", call.now, status=404)
        return success(call.now, **_instrument_status(symbol))

    def tickers(self, call: Call) -> Reply:
        symbols = [s.symbol for s in self.engine.instruments()]
        open_interest = self._open_interest(symbols)
        return success(
            call.now, tickers=[self._ticker_json(symbol, call.now, open_interest[symbol]) for symbol in symbols]
        )

    def ticker(self, call: Call) -> Reply:
        symbol = self.venue.symbol(call.request.path_args["symbol"])
        if symbol is None:
            return classic_error("notFound", call.now, status=404)
        return success(call.now, ticker=self._ticker_json(symbol, call.now, self._open_interest([symbol])[symbol]))

    def _open_interest(self, symbols: list[str]) -> dict[str, Decimal]:
        """Sum of |position| over every account, per symbol, in one pass over the accounts instead of one per
        symbol: each symbol's total gets exactly the terms, in exactly the order, that a scan of its own would add."""
        totals = dict.fromkeys(symbols, ZERO)
        for account in self.engine.state.accounts.values():
            for position in account.positions.values():
                total = totals.get(position.symbol)
                if total is not None:
                    totals[position.symbol] = total + abs(position.size)
        return totals

    def _ticker_json(self, symbol: str, now: datetime, open_interest: Decimal) -> dict[str, Any]:
        spec = self.engine.instrument(symbol)
        prices = self.engine.price(symbol)
        last, volume, quote_volume = self._day_stats.of(self.engine.state.fills, symbol, now - timedelta(days=1))
        bid, ask = _touch(prices.mark, spec.tick_size)
        # Recent Kraken responses send ticker numbers as strings (reference §3.2, CCXT 2026 fixture).
        return {
            "tag": "perpetual",
            "pair": f"{spec.base}:{spec.quote}",
            "symbol": symbol,
            "markPrice": text(prices.mark),
            "bid": text(bid),
            "bidSize": text(spec.size_step * 10),
            "ask": text(ask),
            "askSize": text(spec.size_step * 10),
            "vol24h": text(volume),
            "volumeQuote": text(quote_volume),
            "openInterest": text(open_interest),
            "open24h": text(prices.mark),
            "high24h": text(prices.mark),
            "low24h": text(prices.mark),
            "indexPrice": text(prices.index),
            "last": text(prices.last),
            "lastTime": iso(last.time if last else (prices.time or now)),
            "lastSize": text(last.size if last else ZERO),
            "suspended": spec.suspended or not spec.tradeable,
            "fundingRate": "0",
            "fundingRatePrediction": "0",
            "postOnly": spec.post_only,
            "change24h": "0",
        }

    def orderbook(self, call: Call) -> Reply:
        raw = call.request.one("symbol")
        if raw is None:
            raise ParamError("missing", "symbol")
        symbol = self.venue.symbol(raw)
        if symbol is None:
            return classic_error("invalidArgument", call.now)
        spec = self.engine.instrument(symbol)
        bid, ask = _touch(self.engine.price(symbol).mark, spec.tick_size)
        depth = range(5)
        book = {
            "bids": [[bid - i * spec.tick_size, spec.size_step * 10 * (i + 1)] for i in depth],
            "asks": [[ask + i * spec.tick_size, spec.size_step * 10 * (i + 1)] for i in depth],
        }
        return success(call.now, orderBook=book)


def _instrument_status(symbol: str) -> dict[str, Any]:
    return {
        "tradeable": symbol,
        "experiencingDislocation": False,
        "priceDislocationDirection": None,
        "experiencingExtremeVolatility": False,
        "extremeVolatilityInitialMarginMultiplier": 1,
    }


def _touch(mark: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
    """A one-tick spread around the mark: best bid below it, best ask above it, both on the tick grid."""
    bid = (mark / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    if bid == mark:
        bid -= tick
    return bid, bid + (tick if bid + tick > mark else 2 * tick)
