"""Risk evaluation: every reason it can give, the order of its checks, exits never blocked, determinism."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.reasons import Reason
from routing.domain import (
    Action,
    AlertIntent,
    InstrumentSnapshot,
    OrderLeg,
    RouteConfig,
    SidePolicy,
    SizingMode,
    Snapshot,
    Verdict,
    VerdictAction,
    intent_from_json,
    route_config_from_json,
    snapshot_from_json,
    to_json,
)
from routing.risk import EXPOSURE_REASONS, REASONS, evaluate

D = Decimal
NOW = datetime(2026, 12, 1, 18, 30, 10, tzinfo=UTC)
FIRED = NOW - timedelta(seconds=10)

INSTRUMENT = InstrumentSnapshot(
    symbol="PF_XBTUSD", tick_size=D("0.5"), size_step=D("0.0001"), contract_size=D(1), tradeable=True
)
SNAPSHOT = Snapshot(
    taken_at=NOW,
    account_connected=True,
    credentials_readable=True,
    live=True,
    live_access=True,
    instrument=INSTRUMENT,
    mark_price=D(50000),
    position=D(0),
    equity=D(100000),
    available_margin=D(90000),
    orders_last_hour=0,
    realized_pnl_today=D(0),
)
ROUTE = RouteConfig(route_id=1, symbol="PF_XBTUSD", tv_alias="XBTUSD.P")
ALERT = AlertIntent(action=Action.BUY, fired_at=FIRED, position=D("0.5"), symbol="XBTUSD.P", price=D(50000))


def run(
    alert: dict[str, Any] | None = None,
    route: dict[str, Any] | None = None,
    snapshot: dict[str, Any] | None = None,
    instrument: dict[str, Any] | None = None,
    now: datetime = NOW,
) -> Verdict:
    snap = replace(SNAPSHOT, **(snapshot or {}))
    if instrument is not None:
        snap = replace(snap, instrument=replace(INSTRUMENT, **instrument))
    return evaluate(replace(ALERT, **(alert or {})), replace(ROUTE, **(route or {})), snap, now)


def names(verdict: Verdict) -> list[str]:
    return [c.name for c in verdict.checks]


# --- every reason, from a table -----------------------------------------------------------------------------------

# (id, alert changes, route changes, snapshot changes, instrument changes, reason, action, failing check)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any] | None, Reason, str, str]] = [
    ("disabled", {}, {"enabled": False}, {}, None, Reason.ROUTE_DISABLED, "skip", "route_enabled"),
    ("no-account", {}, {}, {"account_connected": False}, None, Reason.NO_EXCHANGE_ACCOUNT, "skip", "exchange_account"),
    ("keys-unreadable", {}, {}, {"credentials_readable": False}, None, Reason.CREDENTIALS_UNREADABLE, "skip",
     "credentials"),
    ("live-no-subscription", {}, {}, {"live_access": False}, None, Reason.LIVE_ACCESS_REQUIRED, "skip", "live_access"),
    ("older-than-the-newest-decided", {}, {}, {"last_fired_at": FIRED + timedelta(seconds=1)}, None,
     Reason.SUPERSEDED, "skip", "not_superseded"),
    ("order-in-flight", {}, {}, {"orders_in_flight": ("or-abc",)}, None, Reason.ORDER_IN_FLIGHT, "skip",
     "no_order_in_flight"),
    ("inverse-contract", {}, {}, {}, {"kind": "futures_inverse"}, Reason.INSTRUMENT_UNSUPPORTED, "skip",
     "instrument_supported"),
    ("eur-quoted", {}, {}, {}, {"quote": "EUR"}, Reason.INSTRUMENT_UNSUPPORTED, "skip", "instrument_supported"),
    ("other-symbol", {"symbol": "ETHUSD.P"}, {}, {}, None, Reason.SYMBOL_MISMATCH, "skip", "symbol"),
    ("spot-ticker-for-perp", {"symbol": "XBTUSD"}, {}, {}, None, Reason.SYMBOL_MISMATCH, "skip", "symbol"),
    ("exchange-prefix", {"symbol": "KRAKEN:XBTUSD.P"}, {}, {}, None, Reason.SYMBOL_MISMATCH, "skip", "symbol"),
    ("too-old", {"fired_at": NOW - timedelta(seconds=61)}, {}, {}, None, Reason.STALE_ALERT, "skip", "alert_age"),
    ("from-the-future", {"fired_at": NOW + timedelta(seconds=6)}, {}, {}, None, Reason.STALE_ALERT, "skip",
     "alert_not_from_future"),
    ("exchange-unreadable", {}, {}, {"read_error": "timeout reading openpositions"}, None,
     Reason.EXCHANGE_UNAVAILABLE, "skip", "exchange_readable"),
    ("position-not-a-number", {}, {}, {"position": D("NaN")}, None, Reason.EXCHANGE_UNAVAILABLE, "skip",
     "exchange_readable"),
    ("no-instrument", {}, {}, {"instrument": None}, None, Reason.INSTRUMENT_NOT_TRADEABLE, "skip", "instrument"),
    ("not-tradeable", {}, {}, {}, {"tradeable": False}, Reason.INSTRUMENT_NOT_TRADEABLE, "skip", "instrument"),
    ("suspended", {}, {}, {}, {"suspended": True}, Reason.INSTRUMENT_NOT_TRADEABLE, "skip", "instrument"),
    ("snapshot-of-other-instrument", {}, {}, {}, {"symbol": "PF_ETHUSD"}, Reason.INSTRUMENT_NOT_TRADEABLE, "skip",
     "instrument"),
    ("zero-step", {}, {}, {}, {"size_step": D(0)}, Reason.INSTRUMENT_NOT_TRADEABLE, "skip", "instrument"),
    ("guard-without-price", {"price": None}, {"price_deviation_pct": D(1)}, {}, None, Reason.INVALID_PAYLOAD, "skip",
     "price_present"),
    ("guard-without-mark", {}, {"price_deviation_pct": D(1)}, {"mark_price": None}, None,
     Reason.EXCHANGE_UNAVAILABLE, "skip", "mark_price"),
    ("price-away-from-mark", {"price": D(50501)}, {"price_deviation_pct": D(1)}, {}, None, Reason.PRICE_DEVIATION,
     "skip", "price_deviation"),
    ("target-without-position", {"position": None}, {}, {}, None, Reason.INVALID_PAYLOAD, "skip", "position_change"),
    ("contracts-without-contracts", {}, {"sizing_mode": SizingMode.CONTRACTS}, {}, None, Reason.INVALID_PAYLOAD,
     "skip", "position_change"),
    ("fixed-without-size", {}, {"sizing_mode": SizingMode.FIXED}, {}, None, Reason.SIZE_BELOW_MINIMUM, "skip",
     "position_change"),
    ("at-target", {}, {}, {"position": D("0.5")}, None, Reason.ALREADY_AT_TARGET, "skip", "position_change"),
    ("close-when-flat", {"action": Action.CLOSE}, {}, {}, None, Reason.ALREADY_AT_TARGET, "skip", "position_change"),
    ("target-below-step", {"position": D("0.00005")}, {}, {}, None, Reason.SIZE_BELOW_MINIMUM, "skip", "size_step"),
    ("contracts-below-step", {"contracts": D("0.00009")}, {"sizing_mode": SizingMode.CONTRACTS}, {}, None,
     Reason.SIZE_BELOW_MINIMUM, "skip", "size_step"),
    ("frozen-route-adding", {}, {"frozen": True}, {}, None, Reason.ROUTE_FROZEN, "skip", "route_not_frozen"),
    ("long-only-opening-short", {"action": Action.SELL, "position": D("-0.5")}, {"side_policy": SidePolicy.LONG_ONLY},
     {}, None, Reason.SIDE_NOT_ALLOWED, "skip", "side_allowed"),
    ("short-only-opening-long", {}, {"side_policy": SidePolicy.SHORT_ONLY}, {}, None, Reason.SIDE_NOT_ALLOWED, "skip",
     "side_allowed"),
    ("order-too-big", {}, {"max_order_size": D("0.4999")}, {}, None, Reason.MAX_ORDER_SIZE, "skip", "max_order_size"),
    ("position-too-big", {}, {"max_position": D("0.4")}, {"position": D("0.1")}, None, Reason.MAX_POSITION_SIZE,
     "skip", "max_position"),
    ("notional-too-big", {}, {"max_notional": D(24999)}, {}, None, Reason.MAX_NOTIONAL, "skip", "max_notional"),
    ("notional-without-mark", {}, {"max_notional": D(10**9)}, {"mark_price": None}, None,
     Reason.EXCHANGE_UNAVAILABLE, "skip", "mark_price"),
    ("leverage-too-high", {}, {"max_leverage": D(2)}, {"equity": D(12000)}, None, Reason.MAX_LEVERAGE, "skip",
     "max_leverage"),
    ("leverage-without-equity", {}, {"max_leverage": D(100)}, {"equity": None}, None, Reason.EXCHANGE_UNAVAILABLE,
     "skip", "max_leverage"),
    ("breaker-open", {}, {}, {"breaker_open_until": NOW + timedelta(seconds=30)}, None, Reason.EXCHANGE_UNAVAILABLE,
     "skip", "breaker_closed"),
    ("leverage-with-negative-equity", {}, {"max_leverage": D(100)}, {"equity": D(-5)}, None, Reason.MAX_LEVERAGE,
     "skip", "max_leverage"),
    ("too-many-orders", {}, {"orders_per_hour": 5}, {"orders_last_hour": 5}, None, Reason.ORDER_RATE_LIMIT, "skip",
     "orders_per_hour"),
    ("loss-at-limit", {}, {"daily_loss_limit": D(100)}, {"realized_pnl_today": D(-100)}, None,
     Reason.DAILY_LOSS_LIMIT, "skip", "daily_loss"),
    ("loss-beyond-limit", {}, {"daily_loss_limit": D(100)}, {"realized_pnl_today": D("-100.01")}, None,
     Reason.DAILY_LOSS_LIMIT, "skip", "daily_loss"),
    ("reversal-blocked-increase", {"action": Action.SELL, "position": D("-0.5")},
     {"side_policy": SidePolicy.LONG_ONLY}, {"position": D("0.3")}, None, Reason.ORDER_SENT, "send", "side_allowed"),
    ("all-clear", {}, {}, {}, None, Reason.ORDER_SENT, "send", ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("alert", "route", "snapshot", "instrument", "reason", "action", "failing"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_reason_comes_from_its_check(
    alert: dict[str, Any],
    route: dict[str, Any],
    snapshot: dict[str, Any],
    instrument: dict[str, Any] | None,
    reason: Reason,
    action: str,
    failing: str,
) -> None:
    verdict = run(alert, route, snapshot, instrument)
    assert verdict.reason == reason
    assert verdict.action == VerdictAction(action)
    failed = verdict.failed_check
    if failing:
        assert failed is not None and failed.name == failing
        # The first failure is the last check run: nothing after it ran.
        assert verdict.checks[-1] == failed
        assert all(c.passed for c in verdict.checks[:-1])
    else:
        assert failed is None
    if action == "skip":
        assert verdict.legs == ()
        assert failed is not None and failed.reason == reason
        assert verdict.detail


def test_the_table_covers_every_reason_evaluate_can_give() -> None:
    produced = {case[5] for case in CASES} | {Reason.SIDE_NOT_ALLOWED}  # blocked_reason of the reversal case
    assert produced == REASONS


# --- what a send looks like ---------------------------------------------------------------------------------------


def test_an_order_that_passes_everything_is_sent_with_every_check_recorded() -> None:
    verdict = run(
        route={
            "side_policy": SidePolicy.LONG_ONLY,
            "max_order_size": D(1),
            "max_position": D(1),
            "max_notional": D(25000),
            "max_leverage": D("0.25"),
            "orders_per_hour": 1,
            "daily_loss_limit": D(100),
            "price_deviation_pct": D(1),
        },
        snapshot={"realized_pnl_today": D("-99.99")},
    )
    assert verdict.action is VerdictAction.SEND
    assert verdict.reason is Reason.ORDER_SENT
    assert verdict.blocked_reason is None
    assert verdict.legs == (OrderLeg(side="buy", size=D("0.5"), reduce_only=False),)
    assert verdict.target_position == D("0.5")
    assert verdict.detail == "buy 0.5 PF_XBTUSD"
    assert names(verdict) == [
        "route_enabled",
        "exchange_account",
        "credentials",
        "symbol",
        "alert_not_from_future",
        "alert_age",
        "no_order_in_flight",
        "exchange_readable",
        "instrument",
        "instrument_supported",
        "price_present",
        "mark_price",
        "price_deviation",
        "position_change",
        "size_step",
        "live_access",
        "side_allowed",
        "max_order_size",
        "max_position",
        "mark_price",
        "max_notional",
        "max_leverage",
        "orders_per_hour",
        "daily_loss",
    ]
    assert all(c.passed for c in verdict.checks)


def test_checks_that_do_not_apply_are_not_recorded() -> None:
    verdict = run(alert={"symbol": None}, snapshot={"live": False, "live_access": False})
    assert verdict.action is VerdictAction.SEND
    assert names(verdict) == [
        "route_enabled",
        "exchange_account",
        "credentials",
        "alert_not_from_future",
        "alert_age",
        "no_order_in_flight",
        "exchange_readable",
        "instrument",
        "instrument_supported",
        "position_change",
        "size_step",
    ]


def test_observed_and_limit_are_exact_decimal_text() -> None:
    verdict = run(route={"max_notional": D("24999.99")})
    check = verdict.failed_check
    assert check is not None
    assert (check.observed, check.limit) == ("25000", "24999.99")
    age = next(c for c in verdict.checks if c.name == "alert_age")
    assert (age.observed, age.limit) == ("10", "60")


def test_a_reversal_sends_the_reducing_leg_first_then_the_increase() -> None:
    verdict = run(alert={"action": Action.SELL, "position": D("-1")}, snapshot={"position": D("0.5")})
    assert verdict.action is VerdictAction.SEND
    assert verdict.legs == (
        OrderLeg(side="sell", size=D("0.5"), reduce_only=True),
        OrderLeg(side="sell", size=D("1"), reduce_only=False),
    )
    assert verdict.target_position == D(-1)
    assert verdict.detail == "sell 0.5 PF_XBTUSD reduce-only, then sell 1"


@pytest.mark.parametrize(
    ("route", "snapshot", "blocked"),
    [
        ({}, {"live_access": False}, Reason.LIVE_ACCESS_REQUIRED),
        ({"side_policy": SidePolicy.LONG_ONLY}, {}, Reason.SIDE_NOT_ALLOWED),
        ({"max_order_size": D("0.5")}, {}, Reason.MAX_ORDER_SIZE),
        ({"max_position": D("0.9")}, {}, Reason.MAX_POSITION_SIZE),
        ({"max_notional": D(1000)}, {}, Reason.MAX_NOTIONAL),
        ({"max_notional": D(1000)}, {"mark_price": None}, Reason.EXCHANGE_UNAVAILABLE),
        ({"max_leverage": D("0.1")}, {}, Reason.MAX_LEVERAGE),
        ({"orders_per_hour": 3}, {"orders_last_hour": 3}, Reason.ORDER_RATE_LIMIT),
        ({"daily_loss_limit": D(50)}, {"realized_pnl_today": D(-60)}, Reason.DAILY_LOSS_LIMIT),
    ],
)
def test_a_reversal_whose_increase_is_blocked_still_sends_the_reducing_leg_alone(
    route: dict[str, Any], snapshot: dict[str, Any], blocked: Reason
) -> None:
    verdict = run(
        alert={"action": Action.SELL, "position": D("-1")},
        route=route,
        snapshot={"position": D("0.5"), **snapshot},
    )
    assert verdict.action is VerdictAction.SEND
    assert verdict.reason is Reason.ORDER_SENT
    assert verdict.blocked_reason is blocked
    assert verdict.legs == (OrderLeg(side="sell", size=D("0.5"), reduce_only=True),)
    assert verdict.target_position == 0
    failed = verdict.failed_check
    assert failed is not None and failed.reason is blocked
    assert verdict.detail.startswith("sell 0.5 PF_XBTUSD reduce-only; the increase (sell 1) was not sent")


def test_a_pure_increase_that_fails_an_exposure_check_is_skipped() -> None:
    verdict = run(route={"max_position": D("0.9")}, snapshot={"position": D("0.5")}, alert={"position": D(1)})
    assert verdict.action is VerdictAction.SKIP
    assert verdict.reason is Reason.MAX_POSITION_SIZE
    assert verdict.blocked_reason is None
    assert verdict.target_position is None


# --- ordering -----------------------------------------------------------------------------------------------------

# One failure per check, in the order the checks run. With all applied, the first wins; fixing it reveals the next.
ORDERED_FAILURES: list[tuple[Reason, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (Reason.ROUTE_DISABLED, "route_enabled", {}, {"enabled": False}, {}),
    (Reason.NO_EXCHANGE_ACCOUNT, "exchange_account", {}, {}, {"account_connected": False}),
    (Reason.CREDENTIALS_UNREADABLE, "credentials", {}, {}, {"credentials_readable": False}),
    (Reason.SYMBOL_MISMATCH, "symbol", {"symbol": "ETHUSD"}, {}, {}),
    (Reason.STALE_ALERT, "alert_age", {"fired_at": NOW - timedelta(hours=1)}, {}, {}),
    (Reason.SUPERSEDED, "not_superseded", {}, {}, {"last_fired_at": NOW}),
    (Reason.ORDER_IN_FLIGHT, "no_order_in_flight", {}, {}, {"orders_in_flight": ("or-1",)}),
    (Reason.EXCHANGE_UNAVAILABLE, "exchange_readable", {}, {}, {"read_error": "503"}),
    # (The snapshot's instrument is one value: the earlier failure carries the later one's change too.)
    (
        Reason.INSTRUMENT_NOT_TRADEABLE,
        "instrument",
        {},
        {},
        {"instrument": replace(INSTRUMENT, suspended=True, quote="EUR")},
    ),
    (Reason.INSTRUMENT_UNSUPPORTED, "instrument_supported", {}, {}, {"instrument": replace(INSTRUMENT, quote="EUR")}),
    (Reason.INVALID_PAYLOAD, "price_present", {"price": None}, {"price_deviation_pct": D(1)}, {}),
]
# After the structural ones, the exposure checks in their order (applied on a clean structural state).
ORDERED_EXPOSURE: list[tuple[Reason, str, dict[str, Any], dict[str, Any]]] = [
    (Reason.LIVE_ACCESS_REQUIRED, "live_access", {}, {"live_access": False}),
    (Reason.SIDE_NOT_ALLOWED, "side_allowed", {"side_policy": SidePolicy.SHORT_ONLY}, {}),
    (Reason.MAX_ORDER_SIZE, "max_order_size", {"max_order_size": D("0.1")}, {}),
    (Reason.MAX_POSITION_SIZE, "max_position", {"max_position": D("0.1")}, {}),
    (Reason.EXCHANGE_UNAVAILABLE, "mark_price", {"max_notional": D(1)}, {"mark_price": None}),
    (Reason.MAX_NOTIONAL, "max_notional", {"max_notional": D(1)}, {}),
    (Reason.MAX_LEVERAGE, "max_leverage", {"max_leverage": D("0.01")}, {}),
    (Reason.ORDER_RATE_LIMIT, "orders_per_hour", {"orders_per_hour": 1}, {"orders_last_hour": 1}),
    (Reason.DAILY_LOSS_LIMIT, "daily_loss", {"daily_loss_limit": D(1)}, {"realized_pnl_today": D(-1)}),
]


@pytest.mark.parametrize("first", range(len(ORDERED_FAILURES)))
def test_the_first_failing_structural_check_wins_over_every_later_one(first: int) -> None:
    alert: dict[str, Any] = {}
    route: dict[str, Any] = {}
    snapshot: dict[str, Any] = {}
    for _, _, a, r, s in reversed(ORDERED_FAILURES[first:]):  # an earlier failure's change wins a shared key
        alert |= a
        route |= r
        snapshot |= s
    for reason, _, r, s in ORDERED_EXPOSURE:
        if reason is not Reason.EXCHANGE_UNAVAILABLE:
            route |= r
            snapshot |= s
    verdict = run(alert, route, snapshot)
    reason, check, *_ = ORDERED_FAILURES[first]
    assert verdict.reason is reason
    assert verdict.checks[-1].name == check


@pytest.mark.parametrize("first", range(len(ORDERED_EXPOSURE)))
def test_the_first_failing_exposure_check_wins_over_every_later_one(first: int) -> None:
    route: dict[str, Any] = {}
    snapshot: dict[str, Any] = {}
    for _, _, r, s in reversed(ORDERED_EXPOSURE[first:]):
        route |= r
        snapshot |= s
    if ORDERED_EXPOSURE[first][0] is not Reason.EXCHANGE_UNAVAILABLE:
        snapshot.pop("mark_price", None)
    verdict = run(route=route, snapshot=snapshot)
    reason, check, *_ = ORDERED_EXPOSURE[first]
    assert verdict.reason is reason
    assert verdict.checks[-1].name == check


def test_a_stale_exit_is_still_skipped_because_structural_checks_apply_to_every_order() -> None:
    verdict = run(alert={"action": Action.CLOSE, "fired_at": NOW - timedelta(minutes=5)}, snapshot={"position": D(1)})
    assert verdict.reason is Reason.STALE_ALERT


def test_the_exchange_is_not_consulted_before_the_cheap_checks() -> None:
    # A stale alert on an unreadable exchange is stale: the freshness check runs before the exchange data is used.
    verdict = run(
        alert={"fired_at": NOW - timedelta(minutes=5)}, snapshot={"read_error": "timeout", "instrument": None}
    )
    assert verdict.reason is Reason.STALE_ALERT


# --- boundaries ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fired_at", "reason"),
    [
        (NOW - timedelta(seconds=60), Reason.ORDER_SENT),
        (NOW - timedelta(seconds=60, microseconds=1), Reason.STALE_ALERT),
        (NOW + timedelta(seconds=5), Reason.ORDER_SENT),
        (NOW + timedelta(seconds=5, microseconds=1), Reason.STALE_ALERT),
        (NOW, Reason.ORDER_SENT),
    ],
)
def test_freshness_limits_are_inclusive_to_the_microsecond(fired_at: datetime, reason: Reason) -> None:
    assert run(alert={"fired_at": fired_at}).reason is reason


def test_a_future_alert_records_its_negative_age() -> None:
    check = run(alert={"fired_at": NOW + timedelta(seconds=7, milliseconds=500)}).failed_check
    assert check is not None
    assert (check.name, check.observed, check.limit) == ("alert_not_from_future", "-7.5", "-5")


@pytest.mark.parametrize(
    ("price", "reason"),
    [(D(50500), Reason.ORDER_SENT), (D(49500), Reason.ORDER_SENT), (D("50500.01"), Reason.PRICE_DEVIATION)],
)
def test_the_price_guard_is_inclusive_and_exact(price: Decimal, reason: Reason) -> None:
    assert run(alert={"price": price}, route={"price_deviation_pct": D(1)}).reason is reason


def test_a_failing_ratio_never_displays_as_its_limit() -> None:
    check = run(alert={"price": D("50500.000001")}, route={"price_deviation_pct": D(1)}).failed_check
    assert check is not None
    assert D(check.observed) > D(check.limit)


@pytest.mark.parametrize(
    ("symbol", "reason"),
    [
        ("PF_XBTUSD", Reason.ORDER_SENT),
        ("pf_xbtusd", Reason.ORDER_SENT),
        ("XBTUSD.P", Reason.ORDER_SENT),
        ("xbtusd.p", Reason.ORDER_SENT),
        ("XBTUSD", Reason.SYMBOL_MISMATCH),
        ("XBTUSD.P ", Reason.SYMBOL_MISMATCH),
        (None, Reason.ORDER_SENT),
    ],
)
def test_symbol_matches_the_route_or_its_alias_case_insensitively(symbol: str | None, reason: Reason) -> None:
    assert run(alert={"symbol": symbol}).reason is reason


def test_without_an_alias_only_the_symbol_itself_matches() -> None:
    assert run(alert={"symbol": "XBTUSD.P"}, route={"tv_alias": ""}).reason is Reason.SYMBOL_MISMATCH
    assert run(alert={"symbol": ""}, route={"tv_alias": ""}).reason is Reason.SYMBOL_MISMATCH


def test_a_repeated_off_step_target_is_already_at_target() -> None:
    route = {"multiplier": D("0.5")}
    first = run(alert={"position": D("0.0003")}, route=route)
    assert first.legs == (OrderLeg(side="buy", size=D("0.0001"), reduce_only=False),)
    assert first.target_position is not None
    repeat = run(alert={"position": D("0.0003")}, route=route, snapshot={"position": first.target_position})
    assert repeat.reason is Reason.ALREADY_AT_TARGET


def test_contract_size_enters_notional_and_leverage() -> None:
    verdict = run(route={"max_notional": D(2500)}, instrument={"contract_size": D("0.1")})
    assert verdict.reason is Reason.ORDER_SENT
    assert run(route={"max_notional": D(2499)}, instrument={"contract_size": D("0.1")}).reason is Reason.MAX_NOTIONAL


def test_leverage_is_notional_over_equity() -> None:
    verdict = run(route={"max_leverage": D("2.5")}, snapshot={"equity": D(10000)})
    assert verdict.reason is Reason.ORDER_SENT
    check = next(c for c in verdict.checks if c.name == "max_leverage")
    assert (check.observed, check.limit) == ("2.5", "2.5")


def test_counts_are_read_only_for_the_limits_a_route_has_and_a_missing_one_fails_closed() -> None:
    """The snapshot counts orders and today's loss only for a route that limits them (two queries an alert saved
    otherwise); without a limit the missing count decides nothing, with one it can never wave an order through."""
    unread = {"orders_last_hour": None, "realized_pnl_today": None}
    assert run(snapshot=unread).reason is Reason.ORDER_SENT
    assert run(route={"orders_per_hour": 5}, snapshot=unread).reason is Reason.ORDER_RATE_LIMIT
    assert run(route={"daily_loss_limit": D(100)}, snapshot=unread).reason is Reason.DAILY_LOSS_LIMIT


def test_a_daily_profit_never_blocks() -> None:
    assert run(route={"daily_loss_limit": D(0)}, snapshot={"realized_pnl_today": D(5)}).reason is Reason.ORDER_SENT


# --- exits and reductions are never blocked by exposure limits ----------------------------------------------------

limits = st.fixed_dictionaries(
    {
        "side_policy": st.sampled_from(list(SidePolicy)),
        "max_order_size": st.none() | st.decimals(min_value=0, max_value=10, places=4),
        "max_position": st.none() | st.decimals(min_value=0, max_value=10, places=4),
        "max_notional": st.none() | st.decimals(min_value=0, max_value=10**6, places=2),
        "max_leverage": st.none() | st.decimals(min_value=0, max_value=50, places=2),
        "orders_per_hour": st.none() | st.integers(min_value=0, max_value=10),
        "daily_loss_limit": st.none() | st.decimals(min_value=0, max_value=1000, places=2),
    }
)
exposure_state = st.fixed_dictionaries(
    {
        "equity": st.none() | st.decimals(min_value=-1000, max_value=10**6, places=2),
        "mark_price": st.none() | st.decimals(min_value="0.01", max_value=10**5, places=2),
        "orders_last_hour": st.integers(min_value=0, max_value=100),
        "realized_pnl_today": st.decimals(min_value=-(10**4), max_value=10**4, places=2),
        "live_access": st.booleans(),  # a lapsed subscription stops new exposure only
    }
)


@given(
    limits,
    exposure_state,
    st.integers(min_value=1, max_value=100_000),  # |position| in steps
    st.booleans(),  # short?
    st.floats(min_value=0, max_value=1).map(lambda f: D(str(round(f, 4)))),  # fraction of the position kept
    st.sampled_from(list(SizingMode)),
)
def test_a_reduction_or_exit_is_never_stopped_by_an_exposure_limit(
    route_limits: dict[str, Any],
    state: dict[str, Any],
    steps: int,
    short: bool,
    kept: Decimal,
    mode: SizingMode,
) -> None:
    step = INSTRUMENT.size_step
    position = steps * step * (-1 if short else 1)
    reducing_side = Action.BUY if short else Action.SELL
    cut = position - position * kept  # how much the alert takes off, signed like the position
    if mode is SizingMode.TARGET:
        alert = {"action": reducing_side, "position": position * kept}
    elif mode is SizingMode.CONTRACTS:
        alert = {"action": reducing_side, "contracts": abs(cut)}
    else:
        route_limits = {**route_limits, "fixed_size": abs(cut) if cut else step}
        alert = {"action": reducing_side}
    if kept == 0:
        alert = {"action": Action.CLOSE}
    verdict = run(alert=alert, route={"sizing_mode": mode, **route_limits}, snapshot={"position": position, **state})
    assert verdict.reason not in EXPOSURE_REASONS
    assert verdict.blocked_reason is None
    assert verdict.reason in {Reason.ORDER_SENT, Reason.ALREADY_AT_TARGET, Reason.SIZE_BELOW_MINIMUM}
    assert all(leg.reduce_only for leg in verdict.legs)
    if verdict.target_position is not None:
        assert abs(verdict.target_position) <= abs(position)
        assert verdict.target_position == 0 or (verdict.target_position > 0) == (position > 0)
    assert not any(c.name in _EXPOSURE_CHECKS for c in verdict.checks)


_EXPOSURE_CHECKS = {
    "live_access",
    "side_allowed",
    "max_order_size",
    "max_position",
    "max_notional",
    "max_leverage",
    "orders_per_hour",
    "daily_loss",
}


def test_a_lapsed_subscription_stops_new_live_exposure_only() -> None:
    lapsed = {"live": True, "live_access": False, "position": D("0.5")}
    # An exit, a reduction and a close go out reduce-only, without even consulting live access.
    for alert in (
        {"action": Action.SELL, "position": D(0)},
        {"action": Action.SELL, "position": D("0.2")},
        {"action": Action.CLOSE, "position": None},
    ):
        verdict = run(alert=alert, snapshot=lapsed)
        assert verdict.reason is Reason.ORDER_SENT, alert
        assert all(leg.reduce_only for leg in verdict.legs)
        assert "live_access" not in names(verdict)
    # Growing the position is refused, with the check on the record.
    grow = run(alert={"position": D(1)}, snapshot=lapsed)
    assert (grow.action, grow.reason) == (VerdictAction.SKIP, Reason.LIVE_ACCESS_REQUIRED)
    assert grow.failed_check is not None and grow.failed_check.name == "live_access"
    # A paper account never needs it.
    paper = run(alert={"position": D(1)}, snapshot={**lapsed, "live": False})
    assert paper.reason is Reason.ORDER_SENT and "live_access" not in names(paper)


def test_close_flattens_a_position_even_with_every_limit_at_zero() -> None:
    verdict = run(
        alert={"action": Action.CLOSE, "position": None},
        route={
            "side_policy": SidePolicy.SHORT_ONLY,
            "max_order_size": D(0),
            "max_position": D(0),
            "max_notional": D(0),
            "max_leverage": D(0),
            "orders_per_hour": 0,
            "daily_loss_limit": D(0),
            "multiplier": D(0),
        },
        snapshot={"position": D("2.5"), "equity": None, "mark_price": None, "realized_pnl_today": D(-(10**6))},
    )
    assert verdict.action is VerdictAction.SEND
    assert verdict.legs == (OrderLeg(side="sell", size=D("2.5"), reduce_only=True),)
    assert verdict.target_position == 0


# --- determinism and no clock -------------------------------------------------------------------------------------


def test_the_same_inputs_give_an_equal_verdict() -> None:
    args = {
        "alert": {"action": Action.SELL, "position": D("-1")},
        "route": {"max_position": D("0.7")},
        "snapshot": {"position": D("0.5")},
    }
    assert run(**args) == run(**args)
    assert to_json(run(**args)) == to_json(run(**args))


def test_a_verdict_replays_from_its_stored_json() -> None:
    alert = replace(ALERT, action=Action.SELL, position=D("-1"))
    route = replace(ROUTE, max_leverage=D("0.3"), price_deviation_pct=D("0.5"))
    snapshot = replace(SNAPSHOT, position=D("0.5"))
    verdict = evaluate(alert, route, snapshot, NOW)
    replayed = evaluate(
        intent_from_json(to_json(alert)),
        route_config_from_json(to_json(route)),
        snapshot_from_json(to_json(snapshot)),
        NOW,
    )
    assert to_json(replayed) == to_json(verdict)


def test_the_verdict_does_not_depend_on_the_thread_s_decimal_context() -> None:
    args = {"route": {"max_leverage": D(3), "max_notional": D("25000.0001")}, "snapshot": {"equity": D(7)}}
    expected = run(**args)
    with localcontext() as ctx:
        ctx.prec = 3
        assert run(**args) == expected


@pytest.mark.parametrize(
    "shift",
    [timedelta(0), -timedelta(days=365 * 56), timedelta(days=365 * 170), timedelta(microseconds=1)],
    ids=["today", "1970", "2196", "one-microsecond"],
)
def test_evaluate_reads_no_clock_only_the_now_it_is_given(shift: timedelta) -> None:
    # Shifting `now` and the alert's time together cannot change anything if no clock is read.
    for fired_offset in (timedelta(seconds=-10), timedelta(seconds=-61), timedelta(seconds=6)):
        base = run(alert={"fired_at": NOW + fired_offset})
        moved = run(alert={"fired_at": NOW + fired_offset + shift}, now=NOW + shift)
        assert moved == base


def test_now_in_another_timezone_is_the_same_instant() -> None:
    from datetime import timezone

    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    assert run(now=tokyo) == run()


def test_naive_datetimes_are_refused_loudly() -> None:
    with pytest.raises(ValueError, match="now"):
        run(now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="fired_at"):
        run(alert={"fired_at": FIRED.replace(tzinfo=None)})


def test_a_frozen_route_still_exits() -> None:
    from datetime import UTC, datetime

    from routing.domain import AlertIntent, InstrumentSnapshot, RouteConfig, Snapshot
    from routing.risk import evaluate

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    snapshot = Snapshot(
        taken_at=now,
        account_connected=True,
        credentials_readable=True,
        live=True,
        live_access=True,
        instrument=InstrumentSnapshot("PF_XBTUSD", D(1), D("0.0001"), D(1), True),
        mark_price=D(60000),
        position=D("0.5"),
        equity=D(100000),
    )
    route = RouteConfig(route_id=1, symbol="PF_XBTUSD", frozen=True)
    exit_verdict = evaluate(AlertIntent(Action.SELL, now, position=D(0)), route, snapshot, now)
    assert exit_verdict.reason == Reason.ORDER_SENT
    assert [(leg.size, leg.reduce_only) for leg in exit_verdict.legs] == [(D("0.5"), True)]
    add_verdict = evaluate(AlertIntent(Action.BUY, now, position=D(1)), route, snapshot, now)
    assert add_verdict.reason == Reason.ROUTE_FROZEN
