"""The worst-case stop a position needs: pure arithmetic, no ORM, no exchange."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from exchanges.base import Side


@dataclass(frozen=True)
class StopPlan:
    side: Side
    size: Decimal
    stop_price: Decimal
    # The configured level was already through the mark price (the position has lost more than the stop's distance):
    # the stop sits one tick on the safe side of the mark instead, so it rests rather than firing on arrival.
    clamped_from: Decimal | None = None


def plan_stop(
    position: Decimal, entry: Decimal, distance_pct: Decimal, tick: Decimal, mark: Decimal | None = None
) -> StopPlan | None:
    """The stop for `position` (signed) entered at `entry`: `distance_pct` away, rounded to the tick *toward* the
    entry so the loss it allows never exceeds the distance. With `mark`, a level already through it is moved to the
    nearest price on the safe side: a stop that would trigger the moment it lands is not placed blindly."""
    if not position or entry <= 0 or distance_pct <= 0 or tick <= 0:
        return None
    fraction = distance_pct / Decimal(100)
    if position > 0:
        raw, rounding, side = entry * (1 - fraction), ROUND_CEILING, Side.SELL
    else:
        raw, rounding, side = entry * (1 + fraction), ROUND_FLOOR, Side.BUY
    price = (raw / tick).to_integral_value(rounding=rounding) * tick
    clamped_from = None
    if mark is not None and mark > 0:
        if side is Side.SELL and price >= mark:
            clamped_from, price = price, ((mark / tick).to_integral_value(rounding=ROUND_CEILING) - 1) * tick
        elif side is Side.BUY and price <= mark:
            clamped_from, price = price, ((mark / tick).to_integral_value(rounding=ROUND_FLOOR) + 1) * tick
    if price <= 0:
        return None
    return StopPlan(side=side, size=abs(position), stop_price=price, clamped_from=clamped_from)
