"""The stream state machine on its own: snapshots replace, updates move, gaps are seen, reads never guess."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from exchanges.base import OrderState, Position
from exchanges.kraken.uws import codec
from exchanges.kraken.uws.state import AccountState

T = "2026-12-04T12:00:00.000Z"


def row(**fields) -> codec.Execution:
    base = {
        "order_id": "o1",
        "cl_ord_id": "or-1",
        "symbol": "PF_XBTUSD",
        "side": "sell",
        "order_type": "stop-loss",
        "order_qty": Decimal("0.1"),
        "timestamp": T,
        "exec_type": "new",
        "order_status": "new",
    }
    base.update(fields)
    return codec.execution(base, "row")


def synced() -> AccountState:
    state = AccountState()
    state.begin_connection()
    state.apply_executions([], snapshot=True)
    state.apply_positions({}, snapshot=True)
    state.apply_margin(codec.margin([{"type": "multi_collateral", "margin_equity": 1, "available_margin": 1}]))
    return state


def test_reads_wait_for_all_three_snapshots():
    state = AccountState()
    state.begin_connection()
    state.apply_executions([], snapshot=True)
    assert not state.wait_synced(0.01)
    state.apply_positions({}, snapshot=True)
    state.apply_margin(codec.margin([{"type": "multi_collateral", "margin_equity": 1, "available_margin": 1}]))
    assert state.wait_synced(0.01)
    state.lost()
    assert not state.is_synced


def test_a_trade_that_completes_the_order_makes_it_filled_even_if_it_says_partially_filled():
    state = synced()
    state.apply_executions([row()], snapshot=False)
    state.apply_executions(
        [
            row(
                exec_type="trade",
                order_status="partially_filled",
                exec_id="e1",
                last_qty=Decimal("0.1"),
                last_price=Decimal(54000),
                cum_qty=Decimal("0.1"),
            )
        ],
        snapshot=False,
    )
    status = state.order_by_client_id("or-1")
    assert status.state is OrderState.FILLED and status.filled_size == Decimal("0.1")
    assert [f.fill_id for f in state.fills_since(datetime(2026, 1, 1, tzinfo=UTC))] == ["e1"]


def test_an_open_order_missing_from_a_new_snapshot_ended_during_the_gap():
    state = synced()
    state.apply_executions([row(), row(order_id="o2", cl_ord_id="or-2")], snapshot=False)
    state.begin_connection()  # reconnect: the fresh snapshot lists neither; or-2's trade is among its last trades
    trade = row(
        order_id="o2",
        cl_ord_id="or-2",
        exec_type="trade",
        order_status="filled",
        exec_id="e9",
        last_qty=Decimal("0.1"),
        last_price=Decimal(54000),
    )
    state.apply_executions([trade], snapshot=True)
    assert state.order_by_client_id("or-1").state is OrderState.CANCELLED
    assert state.order_by_client_id("or-2").state is OrderState.FILLED
    assert state.open_orders() == []


def test_sequence_gaps_and_steps_back_are_detected_per_channel():
    state = synced()
    assert state.check_sequence("executions", 1) and state.check_sequence("executions", 2)
    assert state.check_sequence("positions", 1)  # channels count separately
    assert not state.check_sequence("executions", 4)
    assert not state.check_sequence("executions", 3)
    assert state.check_sequence("margin", None)  # no sequence field: nothing to check


def test_positions_snapshot_then_deltas_and_zero_closes():
    state = synced()
    state.apply_positions({"PF_XBTUSD": Position("PF_XBTUSD", Decimal("0.1"), Decimal(60000))}, snapshot=True)
    state.apply_positions({"PF_ETHUSD": Position("PF_ETHUSD", Decimal(-1), Decimal(3000))}, snapshot=False)
    state.apply_positions({"PF_XBTUSD": Position("PF_XBTUSD", Decimal(0), Decimal(60000))}, snapshot=False)
    assert state.position_list() == [Position("PF_ETHUSD", Decimal(-1), Decimal(3000))]
