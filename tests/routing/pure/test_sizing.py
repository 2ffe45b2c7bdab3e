"""Sizing: the three modes, close, rounding toward zero, and the reducing/increasing split."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.reasons import Reason
from routing.domain import Action, AlertIntent, OrderLeg, RouteConfig, SizingMode
from routing.sizing import SizingError, desired_delta, round_toward_zero, signed, split_legs

D = Decimal
FIRED = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
TARGET = RouteConfig(route_id=1, symbol="PF_XBTUSD", sizing_mode=SizingMode.TARGET)
CONTRACTS = replace(TARGET, sizing_mode=SizingMode.CONTRACTS)
FIXED = replace(TARGET, sizing_mode=SizingMode.FIXED, fixed_size=D("0.25"))


def alert(action: Action = Action.BUY, **fields: Decimal) -> AlertIntent:
    return AlertIntent(action=action, fired_at=FIRED, **fields)


# --- round_toward_zero --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "step", "rounded"),
    [
        ("1.23456", "0.0001", "1.2345"),
        ("-1.23456", "0.0001", "-1.2345"),
        ("0.00009", "0.0001", "0"),
        ("-0.00009", "0.0001", "0"),
        ("2999", "1000", "2000"),
        ("-2999", "1000", "-2000"),
        ("999", "1000", "0"),
        ("3000", "1E+3", "3000"),
        ("7", "1", "7"),
        ("7.9", "1", "7"),
        ("0.9", "0.3", "0.9"),
        ("1", "0.3", "0.9"),
        ("5", "0.0001", "5"),
    ],
)
def test_sizes_round_toward_zero_to_the_step(size: str, step: str, rounded: str) -> None:
    result = round_toward_zero(D(size), D(step))
    assert result == D(rounded)
    assert not result.is_signed() or result != 0  # never "-0"


@pytest.mark.parametrize("step", ["0", "-0.1", "NaN", "Infinity"])
def test_a_non_positive_or_non_finite_step_is_a_programming_error(step: str) -> None:
    with pytest.raises(ValueError, match="step"):
        round_toward_zero(D(1), D(step))


def test_rounding_does_not_depend_on_the_thread_s_decimal_context() -> None:
    expected = round_toward_zero(D("123456789.123456789"), D("0.00000001"))
    with localcontext() as ctx:
        ctx.prec = 3
        assert round_toward_zero(D("123456789.123456789"), D("0.00000001")) == expected == D("123456789.12345678")


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=8),
    st.sampled_from([D("0.0001"), D("0.001"), D("1"), D("1000"), D("0.5")]),
)
def test_rounding_never_grows_the_size_and_lands_on_the_step(size: Decimal, step: Decimal) -> None:
    rounded = round_toward_zero(size, step)
    assert abs(rounded) <= abs(size)
    assert abs(size - rounded) < step
    assert rounded % step == 0
    assert rounded == 0 or (rounded > 0) == (size > 0)


# --- desired_delta ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "intent", "position", "delta"),
    [
        # target: desired − current
        (TARGET, alert(position=D("1.5")), D(0), D("1.5")),
        (TARGET, alert(position=D("1.5")), D("0.5"), D("1.0")),
        (TARGET, alert(Action.SELL, position=D("-1")), D("0.5"), D("-1.5")),
        (TARGET, alert(Action.SELL, position=D("-1")), D("-3"), D("2")),
        (TARGET, alert(position=D("1.5")), D("1.5"), D(0)),
        (replace(TARGET, multiplier=D("0.1")), alert(position=D("20")), D(0), D("2.0")),
        # contracts: contracts × multiplier, direction from action
        (CONTRACTS, alert(contracts=D("2")), D(0), D(2)),
        (CONTRACTS, alert(Action.SELL, contracts=D("2")), D(1), D(-2)),
        (CONTRACTS, alert(Action.SELL, contracts=D("2")), D(-1), D(-2)),
        (replace(CONTRACTS, multiplier=D("0.5")), alert(contracts=D("3")), D(0), D("1.5")),
        # fixed: fixed_size, direction from action, multiplier ignored
        (FIXED, alert(), D(0), D("0.25")),
        (FIXED, alert(Action.SELL), D(0), D("-0.25")),
        (replace(FIXED, multiplier=D(10)), alert(Action.SELL), D(-1), D("-0.25")),
    ],
)
def test_each_mode_gives_the_signed_order_quantity(
    config: RouteConfig, intent: AlertIntent, position: Decimal, delta: Decimal
) -> None:
    assert desired_delta(intent, config, position) == delta


@pytest.mark.parametrize("config", [TARGET, CONTRACTS, FIXED], ids=["target", "contracts", "fixed"])
@pytest.mark.parametrize("position", [D("1.5"), D("-2"), D(0)])
def test_close_flattens_in_every_mode(config: RouteConfig, position: Decimal) -> None:
    close = alert(Action.CLOSE, position=D(7), contracts=D(3))
    assert desired_delta(close, config, position) == -position


@pytest.mark.parametrize(
    "config",
    [
        replace(TARGET, multiplier=D(0)),
        replace(CONTRACTS, multiplier=D(-1)),
        replace(FIXED, fixed_size=None),
        replace(FIXED, fixed_size=D(0)),
    ],
    ids=["target-zero-multiplier", "contracts-negative-multiplier", "fixed-no-size", "fixed-zero-size"],
)
def test_close_needs_no_route_setting_to_be_usable(config: RouteConfig) -> None:
    # An exit must work even on a route whose sizing is misconfigured.
    assert desired_delta(alert(Action.CLOSE), config, D("-0.3")) == D("0.3")


def test_target_mode_without_position_names_the_missing_field() -> None:
    with pytest.raises(SizingError) as info:
        desired_delta(alert(contracts=D(1)), TARGET, D(0))
    assert info.value.reason == Reason.INVALID_PAYLOAD
    assert info.value.field == "position"
    assert "field 'position' is required" in info.value.message


def test_contracts_mode_without_contracts_names_the_missing_field() -> None:
    with pytest.raises(SizingError) as info:
        desired_delta(alert(position=D(1)), CONTRACTS, D(0))
    assert (info.value.reason, info.value.field) == (Reason.INVALID_PAYLOAD, "contracts")


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (replace(FIXED, fixed_size=None), "fixed_size"),
        (replace(FIXED, fixed_size=D("-1")), "fixed_size"),
        (replace(TARGET, multiplier=D(0)), "multiplier"),
        (replace(CONTRACTS, multiplier=D("-2")), "multiplier"),
    ],
)
def test_a_route_that_cannot_size_is_refused_not_guessed(config: RouteConfig, field: str) -> None:
    with pytest.raises(SizingError) as info:
        desired_delta(alert(position=D(1), contracts=D(1)), config, D(0))
    assert (info.value.reason, info.value.field) == (Reason.SIZE_BELOW_MINIMUM, field)


def test_target_mode_rounds_the_target_so_a_repeat_is_already_at_target() -> None:
    config = replace(TARGET, multiplier=D("0.5"))
    intent = alert(position=D("0.0003"))  # target 0.00015, off the 0.0001 step
    first = desired_delta(intent, config, D(0), step=D("0.0001"))
    assert first == D("0.0001")
    assert desired_delta(intent, config, first, step=D("0.0001")) == 0


def test_target_rounding_is_toward_zero_for_shorts_too() -> None:
    intent = alert(Action.SELL, position=D("-0.00019"))
    assert desired_delta(intent, TARGET, D(0), step=D("0.0001")) == D("-0.0001")


# --- split_legs ---------------------------------------------------------------------------------------------------


def leg(side: str, size: str, reduce_only: bool) -> OrderLeg:
    return OrderLeg(side=side, size=D(size), reduce_only=reduce_only)


@pytest.mark.parametrize(
    ("position", "delta", "step", "legs"),
    [
        # open from flat
        ("0", "1.5", "0.1", [leg("buy", "1.5", False)]),
        ("0", "-1.5", "0.1", [leg("sell", "1.5", False)]),
        # add to a position
        ("1", "0.5", "0.1", [leg("buy", "0.5", False)]),
        ("-1", "-0.5", "0.1", [leg("sell", "0.5", False)]),
        # reduce / exit
        ("1", "-0.4", "0.1", [leg("sell", "0.4", True)]),
        ("1", "-1", "0.1", [leg("sell", "1", True)]),
        ("-2", "2", "0.1", [leg("buy", "2", True)]),
        # reversal: reducing first, at most |position|, then the increase, same side
        ("0.5", "-1.5", "0.1", [leg("sell", "0.5", True), leg("sell", "1.0", False)]),
        ("-0.5", "1.5", "0.1", [leg("buy", "0.5", True), leg("buy", "1.0", False)]),
        ("-3000", "5999", "1000", [leg("buy", "3000", True), leg("buy", "2000", False)]),
        # rounding toward zero happens before the split
        ("0.5", "-1.55555", "0.0001", [leg("sell", "0.5", True), leg("sell", "1.0555", False)]),
        ("0", "0.00009", "0.0001", []),
        ("1", "-0.00009", "0.0001", []),
        ("0", "999", "1000", []),
        ("0", "0", "0.1", []),
    ],
)
def test_orders_split_into_a_reducing_and_an_increasing_leg(
    position: str, delta: str, step: str, legs: list[OrderLeg]
) -> None:
    assert split_legs(D(position), D(delta), D(step)) == tuple(legs)


def test_an_off_step_position_still_gives_on_step_legs_never_larger_than_asked() -> None:
    legs = split_legs(D("0.00015"), D("-0.00025"), D("0.0001"))
    assert all(leg.size % D("0.0001") == 0 for leg in legs)
    assert sum(leg.size for leg in legs) <= D("0.00025")
    assert legs[0].reduce_only
    assert legs[0].size <= D("0.00015")


@given(
    st.integers(min_value=-10_000, max_value=10_000),
    st.integers(min_value=-10_000, max_value=10_000),
    st.sampled_from([D("0.0001"), D("1"), D("1000")]),
)
def test_legs_add_up_to_the_rounded_delta_and_reduce_only_never_flips_the_position(
    position_units: int, delta_units: int, step: Decimal
) -> None:
    position = position_units * step
    delta = delta_units * step + step / 3  # off-step on purpose
    legs = split_legs(position, delta, step)
    assert sum((signed(x) for x in legs), D(0)) == round_toward_zero(delta, step)
    reducing = [x for x in legs if x.reduce_only]
    assert len(reducing) <= 1
    if reducing:
        assert legs[0].reduce_only
        assert reducing[0].size <= abs(position)
        after = position + signed(reducing[0])
        assert after == 0 or (after > 0) == (position > 0)
    assert all(x.size > 0 and x.size % step == 0 for x in legs)
    assert len({x.side for x in legs}) <= 1
