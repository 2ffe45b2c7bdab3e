"""Sizing: how much to buy or sell for an alert, on the instrument's step, split into reducing and increasing legs.

Pure Decimal arithmetic under one explicit context, so the result never depends on the thread's decimal context
(a replayed decision must come out the same on another worker).

Decisions:
- `close` always means "flatten this route's instrument" (−position), in every mode, and is computed before any
  route setting is looked at: an exit must not depend on the multiplier or the fixed size being configured.
- In `target` mode `action` only matters for `close`; buy/sell are implied by the target (`{{strategy.position_size}}`
  is the truth, which is what lets missed and repeated alerts heal themselves).
- `fixed` mode ignores the multiplier (the fixed size *is* the size); `contracts` mode applies it.
- A field the mode needs but the alert lacks is `INVALID_PAYLOAD` (fix the message template). A route setting that
  makes sizing impossible (no or non-positive fixed size, non-positive multiplier) is `SIZE_BELOW_MINIMUM`: there is
  no "route misconfigured" reason yet, and "the order would be 0" is the honest consequence.
- A payload number times the multiplier that no order could be (|size| ≥ 10^18, beyond the order table) is
  `INVALID_PAYLOAD`, naming the field: bounded here, not discovered as an overflow while the decision is stored.
- The position handed in is assumed to be on the step (the exchange only holds such positions); if it is not, each
  leg is still rounded toward zero on its own, so no leg is ever off-step or larger than asked.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext

from audit.reasons import Reason
from routing.domain import Action, AlertIntent, OrderLeg, RouteConfig, SizingMode

# Inputs are bounded by the parser (≤ 40 digits, |x| < 10^21, ≤ 30 places); 100 digits keeps products of them exact.
# Traps turn a nonsensical input into an exception instead of a silent NaN or Infinity.
CONTEXT = Context(prec=100, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


# What an order's size column holds (30 digits, 12 of them decimal places: below 10^18). The payload bounds each
# number below 10^15, but the route's multiplier scales it: a product beyond this is refused by name here, never sent
# (SQLite would store it rounded) nor left to overflow the order table (PostgreSQL) mid-decision.
RECORDABLE_SIZE = Decimal(10) ** 18


class SizingError(Exception):
    """The alert cannot be sized for this route. `observed` and `limit` are check-record text."""

    def __init__(self, reason: Reason, field: str, observed: str, limit: str, message: str) -> None:
        super().__init__(reason, field, observed, limit, message)
        self.reason = reason
        self.field = field
        self.observed = observed
        self.limit = limit
        self.message = message

    def __str__(self) -> str:
        return self.message


def round_toward_zero(size: Decimal, step: Decimal) -> Decimal:
    """`size` rounded toward zero to a multiple of `step` (which may be ≥ 1, e.g. 1000)."""
    if not step.is_finite() or step <= 0:
        raise ValueError(f"size step must be a positive number, got {step}")
    if not size.is_finite():
        raise ValueError(f"size must be a finite number, got {size}")
    with localcontext(CONTEXT):
        # Decimal's `//` truncates toward zero (unlike int's floor), which is exactly the rounding we want:
        # never send more than asked, in either direction.
        units = size // step
        if not units:
            units = Decimal(0)  # no "-0" sizes
        return units * step


def desired_delta(
    intent: AlertIntent, config: RouteConfig, position: Decimal, *, step: Decimal | None = None
) -> Decimal:
    """The signed quantity to trade (before rounding the order): > 0 buy, < 0 sell, 0 nothing to do.

    With `step`, target mode rounds the *target position* toward zero to the step before subtracting, so that a
    repeated alert whose target × multiplier is off-step comes out as exactly 0 ("already at target") rather than a
    sub-step remainder ("size below minimum").

    Raises `SizingError` when the alert lacks what the route's sizing mode needs, or the route cannot size at all.
    Never returns None: the missing input is named in the error instead.
    """
    with localcontext(CONTEXT):
        if intent.action is Action.CLOSE:
            return -position

        multiplier = config.multiplier
        mode = config.sizing_mode
        if mode is not SizingMode.FIXED and (not multiplier.is_finite() or multiplier <= 0):
            # 0 would make every target alert a flatten; a negative one would trade against the strategy.
            raise SizingError(
                Reason.SIZE_BELOW_MINIMUM,
                "multiplier",
                _text(multiplier),
                "> 0",
                f"the route's multiplier is {_text(multiplier)}; it must be greater than 0",
            )

        if mode is SizingMode.TARGET:
            if intent.position is None:
                raise SizingError(
                    Reason.INVALID_PAYLOAD,
                    "position",
                    "position missing",
                    "required in target sizing",
                    "field 'position' is required: this route sizes to the strategy's position "
                    "({{strategy.position_size}})",
                )
            target = _recordable(intent.position * multiplier, "position")
            if step is not None:
                target = round_toward_zero(target, step)
            return target - position

        sign = 1 if intent.action is Action.BUY else -1
        if mode is SizingMode.CONTRACTS:
            if intent.contracts is None:
                raise SizingError(
                    Reason.INVALID_PAYLOAD,
                    "contracts",
                    "contracts missing",
                    "required in contracts sizing",
                    "field 'contracts' is required: this route sizes by the strategy's order size "
                    "({{strategy.order.contracts}})",
                )
            size = _recordable(intent.contracts * multiplier, "contracts")
            return within_market_position(intent.market_position, position, sign * size)

        fixed = config.fixed_size
        if fixed is None or not fixed.is_finite() or fixed <= 0:
            shown = "none" if fixed is None else _text(fixed)
            raise SizingError(
                Reason.SIZE_BELOW_MINIMUM,
                "fixed_size",
                f"fixed size {shown}",
                "> 0",
                f"the route sizes by a fixed size but its fixed size is {shown}",
            )
        return within_market_position(intent.market_position, position, sign * fixed)


def _recordable(size: Decimal, field: str) -> Decimal:
    if abs(size) < RECORDABLE_SIZE:
        return size
    raise SizingError(
        Reason.INVALID_PAYLOAD,
        field,
        f"{field} x multiplier = {_text(size)}",
        f"< {_text(RECORDABLE_SIZE)}",
        f"field '{field}' times the route's multiplier is {_text(size)}, more than any order can be "
        f"(below {_text(RECORDABLE_SIZE)})",
    )


def within_market_position(market_position: str | None, position: Decimal, delta: Decimal) -> Decimal:
    """`delta`, cut so the resulting position agrees with what the strategy says its position is now.

    In contracts and fixed modes the order size comes from the strategy's order, not its position, so after a
    stop-out or a partial fill the two disagree: "sell 0.1, flat" after the worst-case stop closed the long would
    open a short, and "sell 0.3, flat" after 0.1 of a 0.3 entry filled would leave a 0.2 short. An exit stays an
    exit: `flat` only ever reduces towards 0, `long` never grows a short (or crosses below 0), `short` never grows a
    long. Without `market_position` the order is taken as it is.
    """
    if market_position is None:
        return delta
    resulting = position + delta
    if market_position == "flat":
        resulting = min(max(resulting, min(position, Decimal(0))), max(position, Decimal(0)))
    elif market_position == "long" and delta < 0:
        resulting = max(resulting, min(position, Decimal(0)))
    elif market_position == "short" and delta > 0:
        resulting = min(resulting, max(position, Decimal(0)))
    return resulting - position


def split_legs(position: Decimal, delta: Decimal, step: Decimal) -> tuple[OrderLeg, ...]:
    """The orders for `delta`: a reduce-only leg (at most |position|) first, then the leg that adds exposure.

    |delta| is rounded toward zero to the step first; an empty tuple means it rounded to nothing. A reversal
    (long → short or short → long) gives both legs, on the same side.
    """
    total = round_toward_zero(abs(delta), step)
    if not total:
        return ()
    side = "buy" if delta > 0 else "sell"
    with localcontext(CONTEXT):
        opposite = position != 0 and (position > 0) != (delta > 0)
        reducing = round_toward_zero(min(total, abs(position)), step) if opposite else Decimal(0)
        increasing = total - reducing
    legs = []
    if reducing:
        legs.append(OrderLeg(side=side, size=reducing, reduce_only=True))
    if increasing:
        legs.append(OrderLeg(side=side, size=increasing, reduce_only=False))
    return tuple(legs)


def signed(leg: OrderLeg) -> Decimal:
    """The leg as a signed change of position."""
    return leg.size if leg.side == "buy" else -leg.size


def _text(number: Decimal) -> str:
    return format(number, "f")
