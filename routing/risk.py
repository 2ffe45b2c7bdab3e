"""Risk evaluation: (alert, route, snapshot, now) → Verdict. Pure and deterministic.

No ORM, no settings, no clock (`now` is an argument), no network, and all Decimal arithmetic under one explicit
context (`routing.sizing.CONTEXT`), so a stored decision replays bit for bit on any worker.

Checks run in this fixed order; each one that runs is recorded as a `Check`; the first failure decides and nothing
after it runs. A check that does not apply (a limit that is None, side policy `both`, live access on a paper
account, no symbol in the alert, no price guard) is not run and not recorded: the record lists exactly what ran.

Structural, for every order (exits included):
  route_enabled          ROUTE_DISABLED
  exchange_account       NO_EXCHANGE_ACCOUNT
  credentials            CREDENTIALS_UNREADABLE
  symbol                 SYMBOL_MISMATCH            (only when the alert carries a symbol)
  alert_not_from_future  STALE_ALERT                (age ≥ −future_skew_seconds)
  alert_age              STALE_ALERT                (age ≤ max_alert_age_seconds)
  not_superseded         SUPERSEDED                 (fired no earlier than the newest decided alert of the route)
  no_order_in_flight     ORDER_IN_FLIGHT            (no earlier order of the route still unconfirmed)
  exchange_readable      EXCHANGE_UNAVAILABLE       (first check that needs exchange data)
  instrument             INSTRUMENT_NOT_TRADEABLE
  instrument_supported   INSTRUMENT_UNSUPPORTED     (linear, USD-quoted contracts only)
  price_present          INVALID_PAYLOAD            (only with a price guard)
  mark_price             EXCHANGE_UNAVAILABLE       (only with a price guard)
  price_deviation        PRICE_DEVIATION            (only with a price guard)
Sizing:
  position_change        ALREADY_AT_TARGET, or INVALID_PAYLOAD / SIZE_BELOW_MINIMUM when it cannot be sized
  size_step              SIZE_BELOW_MINIMUM
Exposure, only when the order has an increasing leg:
  route_not_frozen       ROUTE_FROZEN
  live_access            LIVE_ACCESS_REQUIRED       (live accounts only: a lapsed subscription never blocks an exit)
  breaker_closed         EXCHANGE_UNAVAILABLE       (the account's circuit breaker; never blocks an exit)
  side_allowed           SIDE_NOT_ALLOWED
  max_order_size         MAX_ORDER_SIZE             (the increasing leg only)
  max_position           MAX_POSITION_SIZE          (|resulting position|)
  mark_price             EXCHANGE_UNAVAILABLE       (only when notional or leverage is limited)
  max_notional           MAX_NOTIONAL               (|resulting| × mark × contract size)
  max_leverage           MAX_LEVERAGE               (that notional / equity; no equity fails closed)
  orders_per_hour        ORDER_RATE_LIMIT
  daily_loss             DAILY_LOSS_LIMIT

Decisions:
- Symbol: equality of the normal forms (routing/symbols.py: ASCII upper case, nothing folded) with the route's
  symbol or its TradingView alias, nothing looser. No suffix is
  tolerated: `.P` marks a perpetual on TradingView (`XBTUSD` spot ≠ `XBTUSD.P` perp), and `_DL`/`_DLY` delayed-data
  suffixes appear only in `{{exchange}}`, never in `{{ticker}}`. A trader whose ticker differs sets `tv_alias`.
- A price guard without `price` in the alert is INVALID_PAYLOAD (the payload table makes `price` required when the
  route has a guard; the fix is in the message template), checked before the mark price is needed.
- The mark price is required only by checks that use it. A pure exit with no price guard therefore does not
  depend on the ticker; when an increase needs it and it is missing, the increase fails EXCHANGE_UNAVAILABLE
  (and a reversal still sends its reducing leg).
- Ratios (deviation %, leverage) are compared without dividing (|p − m| × 100 ≤ limit × m; notional ≤ limit ×
  equity), so the comparison is exact; the recorded ratio is rounded *up* to 6 places, so it never understates.
- A reversal whose increasing leg fails an exposure check sends the reducing leg alone: SEND / ORDER_SENT with
  `blocked_reason`, and the failing check stays in `checks` (so `Verdict.failed_check` points at it).
- Target mode rounds the *target* toward zero to the step (never hold more than the strategy asks; a repeat of
  an off-step target is "already at target"), except from flat: a non-zero target that rounds to 0 is
  SIZE_BELOW_MINIMUM, not "already at target".
- Sizing failures are recorded on the `position_change` check with the SizingError's reason: INVALID_PAYLOAD for
  a field the mode needs (`position`, `contracts`), SIZE_BELOW_MINIMUM for a route that cannot size (no fixed
  size, multiplier ≤ 0). `close` never fails sizing.
- `target_position` is set on SEND only: the position the sent legs lead to.
- Non-finite numbers in the snapshot (position, mark, equity, P&L, instrument spec) fail their check closed.
- Superseded: by TradingView's `time`, strictly earlier than the newest decided alert; equal times are not
  "older" (two alerts of one bar may share a second) and are taken in arrival order.
- In flight: an earlier order of the route with no definitive answer yet (the pipeline first looks it up, and
  settles it when it can no longer land) blocks every order, exits included - its fill would change what the exit
  must close. Skipped, not waited for: a market order sent late is a different trade, and target-mode strategies
  heal on their next alert. See routing/pipeline.py.
- Missing equity (the account could not be read) fails leverage as EXCHANGE_UNAVAILABLE, zero or negative
  equity as MAX_LEVERAGE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_UP, Decimal, localcontext

from audit.reasons import Reason
from routing.domain import (
    AlertIntent,
    Check,
    OrderLeg,
    RouteConfig,
    SidePolicy,
    Snapshot,
    Verdict,
    VerdictAction,
    number_text,
)
from routing.sizing import CONTEXT, SizingError, desired_delta, signed, split_legs
from routing.symbols import normalise_symbol

EXPOSURE_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.ROUTE_FROZEN,
        Reason.LIVE_ACCESS_REQUIRED,
        Reason.SIDE_NOT_ALLOWED,
        Reason.MAX_ORDER_SIZE,
        Reason.MAX_POSITION_SIZE,
        Reason.MAX_NOTIONAL,
        Reason.MAX_LEVERAGE,
        Reason.ORDER_RATE_LIMIT,
        Reason.DAILY_LOSS_LIMIT,
    }
)
# Every reason `evaluate` can put in `Verdict.reason` or `Verdict.blocked_reason`.
REASONS: frozenset[Reason] = EXPOSURE_REASONS | {
    Reason.ROUTE_DISABLED,
    Reason.NO_EXCHANGE_ACCOUNT,
    Reason.SUPERSEDED,
    Reason.ORDER_IN_FLIGHT,
    Reason.INSTRUMENT_UNSUPPORTED,
    Reason.CREDENTIALS_UNREADABLE,
    Reason.SYMBOL_MISMATCH,
    Reason.STALE_ALERT,
    Reason.EXCHANGE_UNAVAILABLE,
    Reason.INSTRUMENT_NOT_TRADEABLE,
    Reason.INVALID_PAYLOAD,
    Reason.PRICE_DEVIATION,
    Reason.ALREADY_AT_TARGET,
    Reason.SIZE_BELOW_MINIMUM,
    Reason.ORDER_SENT,
}

_MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class _Outcome:
    check: Check
    detail: str = ""  # fills the reason's {detail}; only used when the check failed


@dataclass(frozen=True)
class _Inputs:
    alert: AlertIntent
    route: RouteConfig
    snapshot: Snapshot
    now: datetime


@dataclass(frozen=True)
class _Exposure:
    """What the exposure checks look at: the leg that adds exposure and where the whole order leads."""

    inputs: _Inputs
    increase: OrderLeg
    resulting: Decimal


def evaluate(alert: AlertIntent, route: RouteConfig, snapshot: Snapshot, now: datetime) -> Verdict:
    # Naive datetimes are a programming error upstream, not an alert to skip: fail loudly.
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if alert.fired_at.utcoffset() is None:
        raise ValueError("alert.fired_at must be timezone-aware")
    with localcontext(CONTEXT):
        return _evaluate(_Inputs(alert=alert, route=route, snapshot=snapshot, now=now))


def _evaluate(inputs: _Inputs) -> Verdict:
    checks: list[Check] = []

    for structural in _STRUCTURAL:
        outcome = structural(inputs)
        if outcome is None:
            continue
        checks.append(outcome.check)
        if not outcome.check.passed:
            return _skip(checks, outcome)

    snapshot = inputs.snapshot
    instrument = snapshot.instrument
    assert instrument is not None  # the instrument check passed
    step = instrument.size_step
    position = snapshot.position

    try:
        delta = desired_delta(inputs.alert, inputs.route, position, step=step)
        if not delta and not position:
            # Flat is never "already at" a non-zero target: a target too small for the step is below the minimum.
            delta = desired_delta(inputs.alert, inputs.route, position)
    except SizingError as exc:
        outcome = _Outcome(Check("position_change", False, exc.observed, exc.limit, exc.reason), exc.message)
        checks.append(outcome.check)
        return _skip(checks, outcome)
    target = position + delta
    outcome = _Outcome(
        Check("position_change", bool(delta), _txt(position), _txt(target), Reason.ALREADY_AT_TARGET),
        f"the position is already {_txt(position)}, as the alert asks",
    )
    checks.append(outcome.check)
    if not delta:
        return _skip(checks, outcome)

    legs = split_legs(position, delta, step)
    outcome = _Outcome(
        Check("size_step", bool(legs), _txt(abs(delta)), _txt(step), Reason.SIZE_BELOW_MINIMUM),
        f"an order of {_txt(abs(delta))} rounds to 0 on the size step {_txt(step)}",
    )
    checks.append(outcome.check)
    if not legs:
        return _skip(checks, outcome)

    resulting = position + sum((signed(leg) for leg in legs), Decimal(0))
    increase = next((leg for leg in legs if not leg.reduce_only), None)
    if increase is not None:
        exposure = _Exposure(inputs=inputs, increase=increase, resulting=resulting)
        for exposure_check in _EXPOSURE:
            outcome = exposure_check(exposure)
            if outcome is None:
                continue
            checks.append(outcome.check)
            if outcome.check.passed:
                continue
            reducing = tuple(leg for leg in legs if leg.reduce_only)
            if not reducing:
                return _skip(checks, outcome)
            # A reversal: the exit part is never blocked by an exposure limit; only the increase is dropped.
            assert outcome.check.reason is not None
            return Verdict(
                action=VerdictAction.SEND,
                reason=Reason.ORDER_SENT,
                checks=tuple(checks),
                legs=reducing,
                target_position=position + sum((signed(leg) for leg in reducing), Decimal(0)),
                blocked_reason=outcome.check.reason,
                detail=f"{_describe(reducing, inputs.route.symbol)}; the increase "
                f"({increase.side} {_txt(increase.size)}) was not sent: {outcome.detail}",
            )

    return Verdict(
        action=VerdictAction.SEND,
        reason=Reason.ORDER_SENT,
        checks=tuple(checks),
        legs=legs,
        target_position=resulting,
        detail=_describe(legs, inputs.route.symbol),
    )


def _skip(checks: list[Check], outcome: _Outcome) -> Verdict:
    assert outcome.check.reason is not None
    return Verdict(
        action=VerdictAction.SKIP,
        reason=outcome.check.reason,
        checks=tuple(checks),
        detail=outcome.detail,
    )


def _describe(legs: tuple[OrderLeg, ...], symbol: str) -> str:
    parts = []
    for index, leg in enumerate(legs):
        text = f"{leg.side} {_txt(leg.size)}"
        if index == 0:
            text += f" {symbol}"
        if leg.reduce_only:
            text += " reduce-only"
        parts.append(text)
    return ", then ".join(parts)


# --- structural checks ------------------------------------------------------------------------------------------


def _route_enabled(i: _Inputs) -> _Outcome:
    enabled = i.route.enabled
    return _Outcome(
        Check("route_enabled", enabled, "enabled" if enabled else "disabled", "enabled", Reason.ROUTE_DISABLED),
        "the route is disabled",
    )


def _exchange_account(i: _Inputs) -> _Outcome:
    ok = i.snapshot.account_connected
    return _Outcome(
        Check("exchange_account", ok, "connected" if ok else "not connected", "connected", Reason.NO_EXCHANGE_ACCOUNT),
        "no exchange account is connected",
    )


def _credentials(i: _Inputs) -> _Outcome:
    ok = i.snapshot.credentials_readable
    return _Outcome(
        Check("credentials", ok, "readable" if ok else "unreadable", "readable", Reason.CREDENTIALS_UNREADABLE),
        "the API key could not be decrypted",
    )


def _symbol(i: _Inputs) -> _Outcome | None:
    symbol = i.alert.symbol
    if symbol is None:
        return None
    route = i.route
    accepted = {normalise_symbol(route.symbol)}
    if route.tv_alias:
        accepted.add(normalise_symbol(route.tv_alias))
    limit = f"{route.symbol} (alias {route.tv_alias})" if route.tv_alias else route.symbol
    matches = normalise_symbol(symbol) in accepted - {None}
    return _Outcome(
        Check("symbol", matches, symbol, limit, Reason.SYMBOL_MISMATCH),
        f"the alert is for {symbol}",
    )


def _age_seconds(i: _Inputs) -> Decimal:
    age = i.now - i.alert.fired_at
    # Exact: whole microseconds scaled, never a float of total_seconds().
    micros = (age.days * 86_400 + age.seconds) * 1_000_000 + age.microseconds
    return Decimal(micros).scaleb(-6)


def _not_from_future(i: _Inputs) -> _Outcome:
    age = _age_seconds(i)
    skew = i.route.future_skew_seconds
    return _Outcome(
        Check("alert_not_from_future", age >= -skew, _txt(age), _txt(Decimal(-skew)), Reason.STALE_ALERT),
        f"the alert's time is {_txt(-age)} s in the future; clocks may differ by at most {skew} s",
    )


def _alert_age(i: _Inputs) -> _Outcome:
    age = _age_seconds(i)
    limit = i.route.max_alert_age_seconds
    return _Outcome(
        Check("alert_age", age <= limit, _txt(age), str(limit), Reason.STALE_ALERT),
        f"the alert is {_txt(age)} s old, the limit is {limit} s",
    )


def _not_superseded(i: _Inputs) -> _Outcome | None:
    newest = i.snapshot.last_fired_at
    if newest is None:
        return None
    fired = i.alert.fired_at
    return _Outcome(
        Check("not_superseded", fired >= newest, fired.isoformat(), newest.isoformat(), Reason.SUPERSEDED),
        f"the alert fired at {fired.isoformat()}, before the newest decided alert ({newest.isoformat()})",
    )


def _no_order_in_flight(i: _Inputs) -> _Outcome:
    pending = i.snapshot.orders_in_flight
    observed = ", ".join(pending) if pending else "none"
    return _Outcome(
        Check("no_order_in_flight", not pending, observed, "none", Reason.ORDER_IN_FLIGHT),
        observed,
    )


def _exchange_readable(i: _Inputs) -> _Outcome:
    snapshot = i.snapshot
    if snapshot.read_error:
        observed, ok = snapshot.read_error, False
    elif not snapshot.position.is_finite():
        observed, ok = f"position {snapshot.position}", False
    else:
        observed, ok = "read", True
    return _Outcome(Check("exchange_readable", ok, observed, "read", Reason.EXCHANGE_UNAVAILABLE), observed)


def _instrument(i: _Inputs) -> _Outcome:
    instrument = i.snapshot.instrument
    symbol = i.route.symbol
    if instrument is None:
        observed = "missing"
    elif instrument.symbol.casefold() != symbol.casefold():
        observed = f"snapshot is for {instrument.symbol}"  # a pipeline bug; never size one instrument by another
    elif instrument.suspended:
        observed = "suspended"
    elif not instrument.tradeable:
        observed = "not tradeable"
    elif not (instrument.size_step.is_finite() and instrument.size_step > 0):
        observed = f"size step {instrument.size_step}"
    elif not (instrument.contract_size.is_finite() and instrument.contract_size > 0):
        observed = f"contract size {instrument.contract_size}"
    else:
        observed = "tradeable"
    return _Outcome(
        Check("instrument", observed == "tradeable", observed, symbol, Reason.INSTRUMENT_NOT_TRADEABLE),
        f"{symbol}: {observed}",
    )


def _instrument_supported(i: _Inputs) -> _Outcome:
    instrument = i.snapshot.instrument
    assert instrument is not None  # the instrument check passed
    if instrument.kind != "flexible_futures":
        observed = f"a {instrument.kind.replace('_', ' ')} contract"
    elif instrument.quote != "USD":
        observed = f"quoted in {instrument.quote or 'an unknown currency'}"
    else:
        observed = "linear, USD"
    return _Outcome(
        Check(
            "instrument_supported", observed == "linear, USD", observed, i.route.symbol, Reason.INSTRUMENT_UNSUPPORTED
        ),
        f"{i.route.symbol} is {observed}; only linear USD-quoted contracts are supported",
    )


def _price_present(i: _Inputs) -> _Outcome | None:
    if i.route.price_deviation_pct is None:
        return None
    price = i.alert.price
    return _Outcome(
        Check(
            "price_present",
            price is not None,
            "missing" if price is None else _txt(price),
            "required by the price guard",
            Reason.INVALID_PAYLOAD,
        ),
        "field 'price' is required: this route compares the alert's price ({{close}}) with the mark price",
    )


def _mark_price(snapshot: Snapshot, symbol: str) -> _Outcome:
    mark = snapshot.mark_price
    ok = mark is not None and mark.is_finite() and mark > 0
    observed = "missing" if mark is None else _txt(mark)
    return _Outcome(
        Check("mark_price", ok, observed, "> 0", Reason.EXCHANGE_UNAVAILABLE),
        f"no usable mark price for {symbol} ({observed})",
    )


def _mark_for_price_guard(i: _Inputs) -> _Outcome | None:
    if i.route.price_deviation_pct is None:
        return None
    return _mark_price(i.snapshot, i.route.symbol)


def _price_deviation(i: _Inputs) -> _Outcome | None:
    limit = i.route.price_deviation_pct
    if limit is None:
        return None
    price, mark = i.alert.price, i.snapshot.mark_price
    assert price is not None and mark is not None  # price_present and mark_price passed
    distance = abs(price - mark) * 100
    observed = _ratio_text(distance / mark)
    return _Outcome(
        Check("price_deviation", distance <= limit * mark, observed, _txt(limit), Reason.PRICE_DEVIATION),
        f"alert price {_txt(price)} is {observed}% from the mark price {_txt(mark)}, the limit is {_txt(limit)}%",
    )


_STRUCTURAL: tuple[Callable[[_Inputs], _Outcome | None], ...] = (
    _route_enabled,
    _exchange_account,
    _credentials,
    _symbol,
    _not_from_future,
    _alert_age,
    _not_superseded,
    _no_order_in_flight,
    _exchange_readable,
    _instrument,
    _instrument_supported,
    _price_present,
    _mark_for_price_guard,
    _price_deviation,
)


# --- exposure checks (the increasing leg only) ------------------------------------------------------------------


def _not_frozen(e: _Exposure) -> _Outcome | None:
    # Reconciliation froze the route (our books and the exchange disagree): nothing may add to the position
    # until a person looks; reductions and exits are not exposure and never reach this check.
    if not e.inputs.route.frozen:
        return None
    return _Outcome(
        Check("route_not_frozen", False, "frozen", "position drift under review", Reason.ROUTE_FROZEN),
        "the route is frozen for new exposure until the position drift is cleared",
    )


def _live_access(e: _Exposure) -> _Outcome | None:
    snapshot = e.inputs.snapshot
    if not snapshot.live:
        return None  # paper trading is free
    ok = snapshot.live_access
    return _Outcome(
        Check("live_access", ok, "active" if ok else "inactive", "active", Reason.LIVE_ACCESS_REQUIRED),
        "live trading needs an active subscription",
    )


def _breaker_closed(e: _Exposure) -> _Outcome | None:
    until = e.inputs.snapshot.breaker_open_until
    if until is None or until <= e.inputs.now:
        return None
    return _Outcome(
        Check("breaker_closed", False, f"open until {until.isoformat()}", "closed", Reason.EXCHANGE_UNAVAILABLE),
        f"circuit breaker open until {until:%H:%M:%S} UTC after repeated exchange failures",
    )


def _side_allowed(e: _Exposure) -> _Outcome | None:
    policy = e.inputs.route.side_policy
    if policy is SidePolicy.BOTH:
        return None
    direction = "long" if e.increase.side == "buy" else "short"
    allowed = "long" if policy is SidePolicy.LONG_ONLY else "short"
    return _Outcome(
        Check("side_allowed", direction == allowed, direction, policy.value, Reason.SIDE_NOT_ALLOWED),
        f"the route is {policy.value.replace('_', '-')}; the order would add to a {direction} position",
    )


def _max_order_size(e: _Exposure) -> _Outcome | None:
    limit = e.inputs.route.max_order_size
    if limit is None:
        return None
    size = e.increase.size
    return _Outcome(
        Check("max_order_size", size <= limit, _txt(size), _txt(limit), Reason.MAX_ORDER_SIZE),
        f"the increasing order is {_txt(size)}, the limit is {_txt(limit)}",
    )


def _max_position(e: _Exposure) -> _Outcome | None:
    limit = e.inputs.route.max_position
    if limit is None:
        return None
    return _Outcome(
        Check("max_position", abs(e.resulting) <= limit, _txt(e.resulting), _txt(limit), Reason.MAX_POSITION_SIZE),
        f"the position would be {_txt(e.resulting)}, the limit is {_txt(limit)}",
    )


def _mark_for_exposure(e: _Exposure) -> _Outcome | None:
    route = e.inputs.route
    if route.max_notional is None and route.max_leverage is None:
        return None
    return _mark_price(e.inputs.snapshot, route.symbol)


def _notional(e: _Exposure) -> Decimal:
    snapshot = e.inputs.snapshot
    assert snapshot.mark_price is not None and snapshot.instrument is not None  # mark_price and instrument passed
    return abs(e.resulting) * snapshot.mark_price * snapshot.instrument.contract_size


def _max_notional(e: _Exposure) -> _Outcome | None:
    limit = e.inputs.route.max_notional
    if limit is None:
        return None
    notional = _notional(e)
    return _Outcome(
        Check("max_notional", notional <= limit, _txt(notional), _txt(limit), Reason.MAX_NOTIONAL),
        f"the position would be worth {_txt(notional)}, the limit is {_txt(limit)}",
    )


def _max_leverage(e: _Exposure) -> _Outcome | None:
    limit = e.inputs.route.max_leverage
    if limit is None:
        return None
    equity = e.inputs.snapshot.equity
    if equity is None:
        return _Outcome(
            Check("max_leverage", False, "equity missing", _txt(limit), Reason.EXCHANGE_UNAVAILABLE),
            e.inputs.snapshot.read_warnings or "the account's equity could not be read",
        )
    if not equity.is_finite() or equity <= 0:
        # Without positive equity any leverage is unbounded: fail closed.
        shown = "missing" if equity is None else _txt(equity)
        return _Outcome(
            Check("max_leverage", False, f"equity {shown}", _txt(limit), Reason.MAX_LEVERAGE),
            f"leverage cannot be computed: account equity is {shown}",
        )
    notional = _notional(e)
    observed = _ratio_text(notional / equity)
    return _Outcome(
        Check("max_leverage", notional <= limit * equity, observed, _txt(limit), Reason.MAX_LEVERAGE),
        f"leverage would be {observed}x (notional {_txt(notional)} on equity {_txt(equity)}), "
        f"the limit is {_txt(limit)}x",
    )


def _orders_per_hour(e: _Exposure) -> _Outcome | None:
    limit = e.inputs.route.orders_per_hour
    if limit is None:
        return None
    count = e.inputs.snapshot.orders_last_hour
    if count is None:  # the route limits them, so they are counted: a snapshot without the count fails closed
        count = limit
    return _Outcome(
        Check("orders_per_hour", count < limit, str(count), str(limit), Reason.ORDER_RATE_LIMIT),
        f"{count} orders in the last hour, the limit is {limit}",
    )


def _daily_loss(e: _Exposure) -> _Outcome | None:
    limit = e.inputs.route.daily_loss_limit
    if limit is None:
        return None
    pnl = e.inputs.snapshot.realized_pnl_today
    if pnl is None:  # the route limits it, so it is read: a snapshot without it fails closed
        pnl = Decimal("NaN")
    ok = pnl.is_finite() and pnl > -limit  # a loss exactly at the limit already blocks
    loss = _txt(0 - pnl) if pnl.is_finite() else str(pnl)
    return _Outcome(
        Check("daily_loss", ok, loss, _txt(limit), Reason.DAILY_LOSS_LIMIT),
        f"today's realised loss is {loss}, the limit is {_txt(limit)}",
    )


_EXPOSURE: tuple[Callable[[_Exposure], _Outcome | None], ...] = (
    _not_frozen,
    _live_access,
    _breaker_closed,
    _side_allowed,
    _max_order_size,
    _max_position,
    _mark_for_exposure,
    _max_notional,
    _max_leverage,
    _orders_per_hour,
    _daily_loss,
)


# --- text -------------------------------------------------------------------------------------------------------


_txt = number_text  # legs keep their on-step Decimal (0.2000) for the exchange; only the text is trimmed


def _ratio_text(ratio: Decimal) -> str:
    # Rounded up so a failing value never displays as equal to its limit; huge ratios are shown as they are.
    if ratio.adjusted() < 60:
        ratio = ratio.quantize(_MICRO, rounding=ROUND_UP)
    return _txt(ratio)
