"""The markets the fake lists unless told otherwise, shaped like Kraken's PF_ perpetuals.

Tick sizes and trade precisions follow the reference (§10, §12.2): PF_XBTUSD tick 1 / cvtp 4, and one market with a
negative contractValueTradePrecision (PF_PEPEUSD, step 1000) because that is where sizing code breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchanges.base import InstrumentSpec, MarginLevel


@dataclass(frozen=True)
class FakeInstrument:
    spec: InstrumentSpec
    mark: Decimal


def linear_perpetual(
    base: str,
    *,
    tick: str,
    cvtp: int,
    initial_margin: str = "0.02",
    maintenance_margin: str = "0.01",
    max_position: str = "1000000",
) -> InstrumentSpec:
    return InstrumentSpec(
        symbol=f"PF_{base}USD",
        kind="flexible_futures",
        tick_size=Decimal(tick),
        size_step=Decimal(10) ** -cvtp,
        contract_size=Decimal(1),
        tradeable=True,
        max_position_size=Decimal(max_position),
        # One tier from zero. Kraken's flex tiers are keyed by USD notional (numNonContractUnits) while
        # base.MarginLevel keys them by size, so a single tier keeps both readings identical.
        margin_levels=(MarginLevel(Decimal(0), Decimal(initial_margin), Decimal(maintenance_margin)),),
        base=base,
        quote="USD",
    )


DEFAULT_INSTRUMENTS: tuple[FakeInstrument, ...] = (
    FakeInstrument(linear_perpetual("XBT", tick="1", cvtp=4), Decimal("60000")),
    FakeInstrument(linear_perpetual("ETH", tick="0.1", cvtp=3), Decimal("3000")),
    FakeInstrument(linear_perpetual("SOL", tick="0.01", cvtp=2), Decimal("150")),
    FakeInstrument(
        linear_perpetual(
            "PEPE",
            tick="0.000000001",
            cvtp=-3,
            initial_margin="0.1",
            maintenance_margin="0.05",
            max_position="10000000000",
        ),
        Decimal("0.00001"),
    ),
)


def trade_precision(spec: InstrumentSpec) -> int:
    """contractValueTradePrecision from the size step (10 ** -cvtp); negative for steps of 10 and more."""
    exponent = spec.size_step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent
