"""Invariants of the engine over random order sequences (hypothesis).

* the position always equals the signed sum of its fills;
* a reduce-only fill never grows or flips a position;
* money adds up: collateral == funding + sum(realised P&L) - sum(fees), and so does the account log;
* the same sequence always gives the same state, also across a snapshot round trip.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_testkit import ACCOUNT, T0, D, at, engine, order

from exchanges.sim import OrderKind, SimEngine
from exchanges.sim.margin import sign

SYMBOLS = {"PF_XBTUSD": (D("0.001"), D(1), D(60000)), "PF_PEPEUSD": (D(1000), D("0.000000001"), D("0.00001"))}

sizes = st.integers(min_value=1, max_value=40)
# Basis points of the price. Spread out on purpose: hypothesis favours small integers, which would leave every
# limit marketable and no resting order ever crossed.
moves = st.sampled_from([-250, -120, -60, -25, -5, 0, 5, 25, 60, 120, 250])
distances = st.sampled_from([-120, -60, -25, -5, 0, 5, 25, 60, 120])  # of limits and stops, inside the moves
submit = st.tuples(
    st.just("submit"),
    st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from(["buy", "sell"]),
    sizes,
    st.sampled_from([OrderKind.MARKET, OrderKind.LIMIT, OrderKind.STOP, OrderKind.TAKE_PROFIT, OrderKind.IOC]),
    distances,  # limit/stop distance from the mark
    st.booleans(),  # reduce only
    st.booleans(),  # with a limit price (stops)
)
price = st.tuples(st.just("price"), st.sampled_from(sorted(SYMBOLS)), moves, moves, moves)
cancel = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50))
# Weighted by drawing the kind first (one_of would weigh the three alike): cancels rare, so that resting orders
# live long enough for a later price to cross them.
step = st.sampled_from(["submit"] * 4 + ["price"] * 4 + ["cancel"]).flatmap(
    lambda kind: {"submit": submit, "price": price, "cancel": cancel}[kind]
)
operations = st.lists(step, min_size=8, max_size=60)
# Every run starts from open positions, so that reduce-only orders have something to reduce (or to lapse on).
PRELUDE: list[tuple[Any, ...]] = [
    ("submit", "PF_XBTUSD", "buy", 20, OrderKind.MARKET, 0, False, False),
    ("submit", "PF_PEPEUSD", "sell", 20, OrderKind.MARKET, 0, False, False),
]


def tick_round(value: Decimal, tick: Decimal) -> Decimal:
    return max((value / tick).to_integral_value() * tick, tick)


def run(ops: list[tuple[Any, ...]], *, check_each_step: bool = True) -> SimEngine:
    e = engine(collateral="100000")
    for step, op in enumerate(PRELUDE + ops):
        now = at(step + 1)
        if op[0] == "submit":
            _, symbol, side, steps, kind, move, reduce_only, with_limit = op
            size_step, tick, _ = SYMBOLS[symbol]
            mark = e.price(symbol).mark
            away = tick_round(mark * (1 + Decimal(move) / 10000), tick)
            limit = stop = None
            if kind in (OrderKind.LIMIT, OrderKind.IOC):
                limit = str(away)
            elif kind.is_trigger:
                stop = str(away)
                limit = str(away) if with_limit else None
            e.submit(
                ACCOUNT,
                order(
                    side, str(size_step * steps), kind, symbol=symbol, limit=limit, stop=stop, reduce_only=reduce_only
                ),
                now=now,
            )
        elif op[0] == "price":
            _, symbol, mark_move, index_move, last_move = op
            _, tick, _ = SYMBOLS[symbol]
            mark = e.price(symbol).mark
            e.set_price(
                symbol,
                tick_round(mark * (1 + Decimal(mark_move) / 10000), tick),
                index=tick_round(mark * (1 + Decimal(index_move) / 10000), tick),
                last=tick_round(mark * (1 + Decimal(last_move) / 10000), tick),
                now=now,
            )
        else:
            live = e.open_orders(ACCOUNT)
            if live:
                e.cancel(ACCOUNT, order_id=live[op[1] % len(live)].order_id, now=now)
        if check_each_step:
            check_invariants(e)
    return e


def check_invariants(e: SimEngine) -> None:
    fills = e.fills(ACCOUNT)
    for symbol in SYMBOLS:
        signed = sum((f.side.sign * f.size for f in fills if f.symbol == symbol), D(0))
        assert e.position(ACCOUNT, symbol) == signed
    for fill in fills:
        if fill.reduce_only:
            assert abs(fill.position_after) < abs(fill.position_before)
            assert fill.position_after == 0 or sign(fill.position_after) == sign(fill.position_before)
        assert fill.size > 0
    realized = sum((f.realized_pnl for f in fills), D(0))
    fees = sum((f.fee for f in fills), D(0))
    collateral = e.margin(ACCOUNT).collateral
    funded = sum((r.new_balance - r.old_balance for r in e.ledger(ACCOUNT) if r.info != "futures trade"), D(0))
    assert collateral == funded + realized - fees
    cash = [r for r in e.ledger(ACCOUNT) if r.asset == "usd"]
    assert sum((r.new_balance - r.old_balance for r in cash), D(0)) == collateral
    assert sum((r.fee or 0 for r in cash), D(0)) == fees
    for o in e.orders(ACCOUNT):
        assert 0 <= o.filled <= o.size <= o.requested_size


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_positions_fees_pnl_and_reduce_only_invariants_hold_after_every_step(ops: list[tuple[Any, ...]]) -> None:
    run(ops)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_the_same_sequence_always_gives_the_same_state(ops: list[tuple[Any, ...]]) -> None:
    first = run(ops, check_each_step=False).to_dict()
    second = run(ops, check_each_step=False).to_dict()
    assert first == second


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(operations, operations)
def test_a_restored_snapshot_continues_exactly_like_the_original(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
) -> None:
    original = run(before, check_each_step=False)
    restored = SimEngine.from_dict(json.loads(json.dumps(original.to_dict())))
    assert restored.to_dict() == original.to_dict()
    for e in (original, restored):
        for step, op in enumerate(after):
            if op[0] == "price":
                _, symbol, move, _, _ = op
                _, tick, _ = SYMBOLS[symbol]
                mark = e.price(symbol).mark
                e.set_price(symbol, tick_round(mark * (1 + Decimal(move) / 10000), tick), now=at(1000 + step))
            elif op[0] == "submit":
                _, symbol, side, steps, *_ = op
                e.submit(ACCOUNT, order(side, str(SYMBOLS[symbol][0] * steps), symbol=symbol), now=at(1000 + step))
    assert restored.to_dict() == original.to_dict()
    check_invariants(restored)


def test_a_reduce_only_storm_never_flips_a_position() -> None:
    """A hand-written worst case: many reduce-only stops and limits racing one position down."""
    e = engine(collateral="1000000")
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    for i in range(10):
        e.submit(ACCOUNT, order("sell", "0.3", OrderKind.STOP, stop=str(59900 - i * 10), reduce_only=True), now=T0)
        e.submit(ACCOUNT, order("sell", "0.3", OrderKind.LIMIT, limit=str(60100 + i * 10), reduce_only=True), now=T0)
    e.set_price("PF_XBTUSD", D(59000), now=at(1))
    e.set_price("PF_XBTUSD", D(61000), now=at(2))
    assert e.position(ACCOUNT, "PF_XBTUSD") == 0
    assert e.open_orders(ACCOUNT) == []  # the rest lapsed: nothing left to reduce
    assert sum(f.size for f in e.fills(ACCOUNT) if f.reduce_only) == 1
    check_invariants(e)
