"""Public market data: ``instruments[]`` and ``tickers[]`` rows -> ``InstrumentSpec`` / ``Ticker``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from exchanges.base import InstrumentSpec, MarginLevel, Ticker
from exchanges.kraken import decoding as d
from exchanges.kraken.errors import MalformedResponse

log = logging.getLogger(__name__)

# Index rows (``in_xbtusd``, ``rr_xbtusd``, type "spot index") are not contracts and carry no tick or size rules.
CONTRACT_TYPES = ("flexible_futures", "futures_inverse", "futures_vanilla")


def size_step(precision: Any, where: str) -> Decimal:
    """``10 ** -contractValueTradePrecision``; negative precisions give steps of 10, 100, 1000..."""
    value = d.to_decimal(precision, f"{where}.contractValueTradePrecision")
    if value != value.to_integral_value():
        raise MalformedResponse(f"{where}: contractValueTradePrecision {precision!r} is not an integer")
    return Decimal(10) ** -int(value)  # exact: Decimal('0.0001'), Decimal('1000')


def _margin_levels(row: Mapping[str, Any], where: str) -> tuple[MarginLevel, ...]:
    levels = []
    for index, level in enumerate(row.get("marginLevels") or []):
        here = f"{where}.marginLevels[{index}]"
        # Flex contracts count tiers in base units (numNonContractUnits), inverse ones in contracts.
        start = level.get("numNonContractUnits", level.get("contracts"))
        levels.append(
            MarginLevel(
                from_size=d.to_decimal(start, f"{here}.from") if start is not None else Decimal(0),
                initial_margin=d.decimal_field(level, "initialMargin", here),
                maintenance_margin=d.decimal_field(level, "maintenanceMargin", here),
            )
        )
    return tuple(sorted(levels, key=lambda level: level.from_size))


def parse_instrument(row: Mapping[str, Any], ticker: Mapping[str, Any] | None) -> InstrumentSpec:
    where = f"instrument {row.get('symbol')!r}"
    max_position = d.optional_decimal(row, "maxPositionSize", where)
    return InstrumentSpec(
        symbol=d.symbol(d.require(row, "symbol", where), where),
        kind=d.require_str(row, "type", where),
        tick_size=d.decimal_field(row, "tickSize", where),
        size_step=size_step(d.require(row, "contractValueTradePrecision", where), where),
        contract_size=d.decimal_field(row, "contractSize", where),
        tradeable=bool(row.get("tradeable", False)),
        # Suspension is published on the ticker, not the instrument; a missing ticker row reads as not
        # suspended here, and the missing mark price stops any order at the snapshot step instead.
        suspended=bool((ticker or {}).get("suspended", False)),
        post_only=bool(row.get("postOnly", False)) or bool((ticker or {}).get("postOnly", False)),
        max_position_size=max_position,
        margin_levels=_margin_levels(row, where),
        base=str(row.get("base") or "").upper(),
        quote=str(row.get("quote") or "").upper(),
    )


def parse_instruments(rows: list[Any], tickers: list[Any]) -> list[InstrumentSpec]:
    """Contract rows only. A row we cannot read is left out (logged), so one odd contract cannot blind us to all."""
    by_symbol = {str(t.get("symbol", "")).upper(): t for t in tickers if isinstance(t, Mapping)}
    specs = []
    for row in rows:
        if not isinstance(row, Mapping) or row.get("type") not in CONTRACT_TYPES:
            continue
        try:
            specs.append(parse_instrument(row, by_symbol.get(str(row.get("symbol", "")).upper())))
        except MalformedResponse as exc:
            log.warning("kraken: skipping unreadable instrument row: %s", exc)
    return specs


def parse_ticker(row: Mapping[str, Any], server_time: datetime | None) -> Ticker:
    where = f"ticker {row.get('symbol')!r}"
    return Ticker(
        symbol=d.symbol(d.require(row, "symbol", where), where),
        mark_price=d.decimal_field(row, "markPrice", where),
        index_price=d.optional_decimal(row, "indexPrice", where),
        last_price=d.optional_decimal(row, "last", where),
        bid=d.optional_decimal(row, "bid", where),
        ask=d.optional_decimal(row, "ask", where),
        suspended=bool(row.get("suspended", False)),
        # When Kraken produced this snapshot (serverTime); lastTime is only the last trade's time.
        time=server_time,
    )
