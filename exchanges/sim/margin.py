"""Position and margin arithmetic for linear contracts: pure functions of Decimals, no state.

Linear (PF_) contracts: size is in base units, P&L and margin are in USD, notional = |size| x price x contractSize.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from exchanges.base import InstrumentSpec

ZERO = Decimal(0)


def sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


def apply_fill(
    size: Decimal, average: Decimal, signed_qty: Decimal, price: Decimal, contract_size: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """The position after a fill: (new size, new average entry, realised P&L).

    Increasing keeps a size-weighted average; reducing realises P&L against the average and keeps it; a flip closes
    the whole position and opens the remainder at the fill price, as Kraken's single net position does.
    """
    new_size = size + signed_qty
    if size == 0 or sign(size) == sign(signed_qty):
        new_average = (abs(size) * average + abs(signed_qty) * price) / abs(new_size)
        return new_size, new_average, ZERO
    closing = min(abs(signed_qty), abs(size))
    realized = closing * (price - average) * sign(size) * contract_size
    if new_size == 0:
        return ZERO, ZERO, realized
    if sign(new_size) == sign(size):
        return new_size, average, realized
    return new_size, price, realized


def increasing_part(position: Decimal, signed_qty: Decimal) -> Decimal:
    """How much of an order adds exposure: all of it from flat or the same side, only the excess past a flip."""
    if position == 0 or sign(position) == sign(signed_qty):
        return abs(signed_qty)
    return max(abs(signed_qty) - abs(position), ZERO)


def reducing_part(position: Decimal, signed_qty: Decimal) -> Decimal:
    return abs(signed_qty) - increasing_part(position, signed_qty)


def notional(size: Decimal, price: Decimal, spec: InstrumentSpec) -> Decimal:
    return abs(size) * price * spec.contract_size


def unrealized_pnl(size: Decimal, average: Decimal, mark: Decimal, spec: InstrumentSpec) -> Decimal:
    return size * (mark - average) * spec.contract_size


def initial_margin(size: Decimal, price: Decimal, spec: InstrumentSpec) -> Decimal:
    return notional(size, price, spec) * spec.initial_margin_rate(abs(size))


def maintenance_margin(size: Decimal, price: Decimal, spec: InstrumentSpec) -> Decimal:
    return notional(size, price, spec) * spec.maintenance_margin_rate(abs(size))


def fee(size: Decimal, price: Decimal, rate: Decimal, spec: InstrumentSpec) -> Decimal:
    return notional(size, price, spec) * rate


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step > 0 and value % step == 0


def round_to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * tick
