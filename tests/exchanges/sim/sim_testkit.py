"""Shared set-up for the engine tests (imported by name: this directory has no __init__.py, see ../kraken)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from exchanges.base import InstrumentSpec, MarginLevel, Side, TriggerSignal
from exchanges.sim import EngineConfig, OrderKind, SimEngine, SimOrderRequest

D = Decimal
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "acct-1"


def spec(
    symbol: str = "PF_XBTUSD",
    *,
    tick: str = "1",
    step: str = "0.0001",
    im: str = "0.02",
    mm: str = "0.01",
    max_position: str | None = "1000000",
    kind: str = "flexible_futures",
) -> InstrumentSpec:
    return InstrumentSpec(
        symbol=symbol,
        kind=kind,
        tick_size=D(tick),
        size_step=D(step),
        contract_size=D(1),
        tradeable=True,
        max_position_size=D(max_position) if max_position else None,
        margin_levels=(MarginLevel(D(0), D(im), D(mm)),),
        base=symbol.removeprefix("PF_").removesuffix("USD"),
        quote="USD",
    )


XBT = spec()
PEPE = spec("PF_PEPEUSD", tick="0.000000001", step="1000", im="0.1", mm="0.05", max_position="10000000000")
INVERSE = spec("PI_XBTUSD", tick="0.5", step="1", kind="futures_inverse")


def engine(collateral: str = "10000", config: EngineConfig | None = None) -> SimEngine:
    e = SimEngine(config)
    e.add_instrument(XBT, D(60000), now=T0)
    e.add_instrument(PEPE, D("0.00001"), now=T0)
    e.add_instrument(INVERSE, D(60000), now=T0)
    e.add_account(ACCOUNT, D(collateral), now=T0)
    return e


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def order(
    side: str,
    size: str,
    kind: OrderKind = OrderKind.MARKET,
    *,
    symbol: str = "PF_XBTUSD",
    limit: str | None = None,
    stop: str | None = None,
    signal: TriggerSignal = TriggerSignal.MARK,
    reduce_only: bool = False,
    cid: str | None = None,
) -> SimOrderRequest:
    return SimOrderRequest(
        symbol=symbol,
        side=Side(side),
        size=D(size),
        kind=kind,
        client_order_id=cid,
        limit_price=D(limit) if limit else None,
        stop_price=D(stop) if stop else None,
        trigger_signal=signal,
        reduce_only=reduce_only,
    )
