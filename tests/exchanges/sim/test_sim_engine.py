"""The engine's matching, positions, fees, ledger and reduce-only rules, example by example."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_testkit import ACCOUNT, T0, XBT, D, at, engine, order

from exchanges.base import OrderRequest, OrderState, OrderType, Side, TriggerSignal
from exchanges.sim import EngineConfig, FillType, OrderKind, SimEngine, SimOrderState, Status


def test_a_market_order_fills_at_once_at_mark_as_taker_and_pays_the_taker_fee() -> None:
    e = engine()
    result = e.submit(ACCOUNT, order("buy", "0.1", cid="m1"), now=T0)
    assert result.status == Status.PLACED  # Kraken says "placed" even though it filled
    assert result.order is not None and result.order.state is SimOrderState.FILLED
    (fill,) = result.fills
    assert (fill.size, fill.price, fill.fill_type) == (D("0.1"), D(60000), FillType.TAKER)
    assert fill.fee == D("0.1") * 60000 * D("0.0005") == D(3)
    assert e.position(ACCOUNT, "PF_XBTUSD") == D("0.1")
    assert e.margin(ACCOUNT).collateral == D(9997)
    # Kraken shows a market order as an IOC with a 1% protection limit.
    assert result.order.protection_price == D(60600)


def test_a_marketable_limit_fills_at_mark_and_a_passive_one_rests_then_fills_as_maker_at_its_price() -> None:
    e = engine()
    taker = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="60500"), now=T0)
    assert taker.fills[0].price == D(60000) and taker.fills[0].fill_type is FillType.TAKER

    resting = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="59000"), now=T0)
    assert resting.fills == [] and resting.order is not None and resting.order.state is SimOrderState.OPEN
    assert e.set_price("PF_XBTUSD", D(59500), now=at(1)) == []
    events = e.set_price("PF_XBTUSD", D(58800), now=at(2))
    (event,) = events
    assert event.kind == "fill" and event.fill is not None
    assert (event.fill.price, event.fill.fill_type) == (D(59000), FillType.MAKER)
    assert event.fill.fee == D("0.1") * 59000 * D("0.0002")
    assert e.position(ACCOUNT, "PF_XBTUSD") == D("0.2")
    (held,) = e.positions(ACCOUNT)
    assert held.average_price == D(59500)  # (60000 + 59000) / 2


def test_realised_pnl_on_a_reduction_and_a_flip_opens_the_remainder_at_the_fill_price() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    e.set_price("PF_XBTUSD", D(61000), now=at(1))
    reduce = e.submit(ACCOUNT, order("sell", "0.4"), now=at(2))
    assert reduce.fills[0].realized_pnl == D(400)
    assert e.position(ACCOUNT, "PF_XBTUSD") == D("0.6")
    flip = e.submit(ACCOUNT, order("sell", "1"), now=at(3))
    assert flip.fills[0].realized_pnl == D(600)  # the closing 0.6, at +1000 each
    (held,) = e.positions(ACCOUNT)
    assert (held.size, held.average_price) == (D("-0.4"), D(61000))


def test_the_ledger_has_kraken_account_log_rows_per_fill_and_they_add_up() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    e.set_price("PF_XBTUSD", D(59000), now=at(1))
    e.submit(ACCOUNT, order("sell", "1"), now=at(2))
    rows = e.ledger(ACCOUNT)
    assert [r.info for r in rows] == ["cross-exchange transfer"] + ["futures trade"] * 4
    cash = [r for r in rows if r.asset == "usd"]
    assert sum((r.new_balance - r.old_balance for r in cash), D(0)) == e.margin(ACCOUNT).collateral
    last_cash = [r for r in rows if r.asset == "usd"][-1]
    assert last_cash.realized_pnl == D(-1000) and last_cash.fee == D("29.5")
    assert last_cash.execution == e.fills(ACCOUNT)[-1].fill_id
    position_leg = rows[-1]
    assert (position_leg.asset, position_leg.old_balance, position_leg.new_balance) == ("pf_xbtusd", D(1), D(0))
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[1].to_ledger_entry().fee == D(30)


def test_a_sell_stop_triggers_on_the_mark_and_becomes_a_market_order() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "0.5"), now=T0)
    stop = e.submit(ACCOUNT, order("sell", "0.5", OrderKind.STOP, stop="59000", reduce_only=True, cid="wcs"), now=T0)
    assert stop.status == Status.PLACED and stop.order is not None
    assert stop.order.state is SimOrderState.TRIGGER_PLACED and stop.fills == []
    assert e.set_price("PF_XBTUSD", D(59001), now=at(1)) == []
    events = e.set_price("PF_XBTUSD", D(58950), now=at(2))
    assert [ev.kind for ev in events] == ["triggered", "fill"]
    assert events[1].fill is not None and events[1].fill.price == D(58950)  # market: at the mark, not the stop
    assert e.position(ACCOUNT, "PF_XBTUSD") == 0
    assert stop.order.state is SimOrderState.FILLED


def test_a_stop_on_index_or_last_ignores_the_mark() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    idx = e.submit(ACCOUNT, order("sell", "1", OrderKind.STOP, stop="59000", signal=TriggerSignal.INDEX), now=T0)
    assert e.set_price("PF_XBTUSD", D(58000), index=D(59500), now=at(1)) == []
    events = e.set_price("PF_XBTUSD", D(59600), index=D(58999), now=at(2))
    assert [ev.kind for ev in events] == ["triggered", "fill"] and events[0].order_id == idx.order.order_id  # type: ignore[union-attr]
    last = e.submit(ACCOUNT, order("buy", "1", OrderKind.STOP, stop="61000", signal=TriggerSignal.LAST), now=at(3))
    assert e.set_price("PF_XBTUSD", D(62000), last=D(60900), now=at(4)) == []
    assert e.set_price("PF_XBTUSD", D(60000), last=D(61000), now=at(5))[0].order_id == last.order.order_id  # type: ignore[union-attr]


def test_buy_stops_wait_for_a_rise_and_take_profits_the_other_way_round() -> None:
    e = engine()
    buy_stop = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.STOP, stop="61000"), now=T0)
    buy_tp = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.TAKE_PROFIT, stop="59000"), now=T0)
    fired = {ev.order_id for ev in e.set_price("PF_XBTUSD", D(61000), now=at(1)) if ev.kind == "triggered"}
    assert fired == {buy_stop.order.order_id}  # type: ignore[union-attr]
    fired = {ev.order_id for ev in e.set_price("PF_XBTUSD", D(58999), now=at(2)) if ev.kind == "triggered"}
    assert fired == {buy_tp.order.order_id}  # type: ignore[union-attr]


def test_a_stop_limit_that_is_not_marketable_when_it_fires_rests_as_a_limit() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    stop = e.submit(ACCOUNT, order("sell", "1", OrderKind.STOP, stop="59000", limit="58900"), now=T0)
    events = e.set_price("PF_XBTUSD", D(58950), now=at(1))
    assert [ev.kind for ev in events] == ["triggered", "fill"]  # sell limit 58900 <= mark 58950: fills at mark
    assert events[1].fill is not None and events[1].fill.price == D(58950)
    e.submit(ACCOUNT, order("buy", "1"), now=at(2))
    stop2 = e.submit(ACCOUNT, order("sell", "1", OrderKind.STOP, stop="58700", limit="58700"), now=at(2))
    assert [ev.kind for ev in e.set_price("PF_XBTUSD", D(58650), now=at(3))] == ["triggered"]
    assert stop2.order is not None and stop2.order.state is SimOrderState.OPEN  # resting sell limit at 58700
    (fill_event,) = e.set_price("PF_XBTUSD", D(58750), now=at(4))
    assert fill_event.fill is not None and fill_event.fill.price == D(58700)
    assert fill_event.fill.fill_type is FillType.MAKER
    assert stop.order is not None and stop.order.state is SimOrderState.FILLED


def test_a_stop_already_through_its_price_triggers_when_placed() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    result = e.submit(ACCOUNT, order("sell", "1", OrderKind.STOP, stop="60500", reduce_only=True), now=T0)
    assert result.status == Status.PLACED and len(result.fills) == 1
    assert e.position(ACCOUNT, "PF_XBTUSD") == 0


def test_reduce_only_larger_than_the_position_is_shrunk_to_it() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "0.3"), now=T0)
    result = e.submit(ACCOUNT, order("sell", "1", reduce_only=True), now=T0)
    assert result.status == Status.PLACED
    assert result.reduced_quantity == D("0.7")
    assert result.fills[0].size == D("0.3") and result.fills[0].taker_reduced_quantity == D("0.7")
    assert e.position(ACCOUNT, "PF_XBTUSD") == 0


def test_a_resting_reduce_only_stop_is_clamped_to_the_position_when_it_fires() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    stop = e.submit(ACCOUNT, order("sell", "1", OrderKind.STOP, stop="59000", reduce_only=True), now=T0)
    e.submit(ACCOUNT, order("sell", "0.6"), now=at(1))  # the strategy sold most of it meanwhile
    events = e.set_price("PF_XBTUSD", D(58000), now=at(2))
    fill = next(ev.fill for ev in events if ev.fill)
    assert fill.size == D("0.4") and fill.taker_reduced_quantity == D("0.6")
    assert e.position(ACCOUNT, "PF_XBTUSD") == 0
    assert stop.order is not None and stop.order.reduced_quantity == D("0.6")


@pytest.mark.parametrize("then", ["flat", "flipped"])
def test_a_resting_reduce_only_stop_lapses_when_the_position_is_gone_or_on_its_side(then: str) -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    stop = e.submit(ACCOUNT, order("sell", "1", OrderKind.STOP, stop="59000", reduce_only=True), now=T0)
    e.submit(ACCOUNT, order("sell", "1" if then == "flat" else "2"), now=at(1))
    position = e.position(ACCOUNT, "PF_XBTUSD")
    (event,) = e.set_price("PF_XBTUSD", D(58000), now=at(2))
    assert event.kind == "cancelled" and event.reason == "WOULD_NOT_REDUCE_POSITION"
    assert e.position(ACCOUNT, "PF_XBTUSD") == position  # never grows or flips
    assert stop.order is not None and stop.order.state is SimOrderState.CANCELLED


def test_a_resting_reduce_only_limit_is_clamped_at_fill_time() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    e.submit(ACCOUNT, order("sell", "1", OrderKind.LIMIT, limit="61000", reduce_only=True), now=T0)
    e.submit(ACCOUNT, order("sell", "0.75"), now=at(1))
    (event,) = e.set_price("PF_XBTUSD", D(61500), now=at(2))
    assert event.fill is not None and event.fill.size == D("0.25")
    assert e.position(ACCOUNT, "PF_XBTUSD") == 0


def test_limited_liquidity_gives_partial_fills_an_ioc_remainder_is_cancelled_a_limit_rests() -> None:
    e = engine()
    e.set_liquidity("PF_XBTUSD", D("0.4"))
    market = e.submit(ACCOUNT, order("buy", "1"), now=T0)
    assert market.fills[0].size == D("0.4")
    assert market.order is not None and market.order.state is SimOrderState.CANCELLED
    assert market.order.to_order_status().state is OrderState.CANCELLED
    limit = e.submit(ACCOUNT, order("buy", "1", OrderKind.LIMIT, limit="60000"), now=T0)
    assert limit.order is not None and limit.order.state is SimOrderState.PARTIALLY_FILLED
    assert limit.order.to_order_status().state is OrderState.PARTIALLY_FILLED
    e.set_price("PF_XBTUSD", D(59999), now=at(1))
    e.set_price("PF_XBTUSD", D(59998), now=at(2))
    assert limit.order.filled == D(1)  # 0.4 at once, then 0.4 and 0.2 as the mark crossed it
    assert limit.order.state is SimOrderState.FILLED
    cancel = e.cancel(ACCOUNT, order_id=limit.order.order_id, now=at(3))
    assert cancel.status == Status.FILLED


def test_cancel_answers_cancelled_filled_or_not_found() -> None:
    e = engine()
    resting = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="50000", cid="c1"), now=T0)
    filled = e.submit(ACCOUNT, order("buy", "0.1", cid="c2"), now=T0)
    assert e.cancel(ACCOUNT, client_order_id="c1", now=at(1)).status == Status.CANCELLED
    assert e.cancel(ACCOUNT, client_order_id="c1", now=at(2)).status == Status.NOT_FOUND
    assert e.cancel(ACCOUNT, order_id=filled.order.order_id, now=at(2)).status == Status.FILLED  # type: ignore[union-attr]
    assert e.cancel(ACCOUNT, order_id="no-such-order", now=at(2)).status == Status.NOT_FOUND
    e.add_account("other", D(1000), now=T0)
    assert e.cancel("other", order_id=resting.order.order_id, now=at(2)).status == Status.NOT_FOUND  # type: ignore[union-attr]


def test_cancel_all_takes_resting_orders_and_stops_optionally_of_one_symbol() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="50000"), now=T0)
    e.submit(ACCOUNT, order("buy", "0.1", OrderKind.STOP, stop="70000"), now=T0)
    e.submit(ACCOUNT, order("buy", "1000", OrderKind.LIMIT, symbol="PF_PEPEUSD", limit="0.000009"), now=T0)
    assert len(e.cancel_all(ACCOUNT, "PF_XBTUSD", now=at(1))) == 2
    assert [o.symbol for o in e.open_orders(ACCOUNT)] == ["PF_PEPEUSD"]
    assert len(e.cancel_all(ACCOUNT, now=at(1))) == 1 and e.open_orders(ACCOUNT) == []


def test_edit_changes_a_resting_order_and_an_edit_that_crosses_executes_as_taker_after_edit() -> None:
    e = engine()
    placed = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="59000", cid="e1"), now=T0)
    outcome = e.edit(ACCOUNT, client_order_id="e1", size=D("0.2"), limit_price=D(59500), now=at(1))
    assert outcome.status == Status.EDITED and outcome.fills == []
    assert placed.order is not None and (placed.order.size, placed.order.limit_price) == (D("0.2"), D(59500))
    crossed = e.edit(ACCOUNT, client_order_id="e1", limit_price=D(60100), now=at(2))
    assert crossed.fills[0].fill_type is FillType.TAKER_AFTER_EDIT and crossed.fills[0].order_prior_edit is not None
    assert e.edit(ACCOUNT, client_order_id="e1", limit_price=D(60200), now=at(3)).status == "orderForEditNotFound"
    stop = e.submit(ACCOUNT, order("sell", "0.2", OrderKind.STOP, stop="55000"), now=at(4))
    moved = e.edit(ACCOUNT, order_id=stop.order.order_id, stop_price=D(56000), now=at(5))  # type: ignore[union-attr]
    assert moved.status == Status.EDITED and stop.order.stop_price == D(56000)  # type: ignore[union-attr]
    limit = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="50000"), now=at(6))
    not_a_stop = e.edit(ACCOUNT, order_id=limit.order.order_id, stop_price=D(1), now=at(7))  # type: ignore[union-attr]
    assert not_a_stop.status == "orderForEditNotAStop"
    bad_tick = e.edit(ACCOUNT, order_id=limit.order.order_id, limit_price=D("50000.5"), now=at(7))  # type: ignore[union-attr]
    assert bad_tick.status == Status.INVALID_PRICE and limit.order.limit_price == D(50000)  # type: ignore[union-attr]


def test_client_order_ids_stay_taken_after_the_order_is_finished_but_not_after_a_rejection() -> None:
    e = engine(collateral="100")
    rejected = e.submit(ACCOUNT, order("buy", "1", cid="again"), now=T0)
    assert rejected.status == Status.INSUFFICIENT_AVAILABLE_FUNDS
    assert e.order_by_client_id(ACCOUNT, "again") is rejected.order  # findable, for reconciliation
    e.fund(ACCOUNT, D(100000), now=at(1))
    accepted = e.submit(ACCOUNT, order("buy", "1", cid="again"), now=at(2))
    assert accepted.status == Status.PLACED
    assert e.order_by_client_id(ACCOUNT, "again") is accepted.order
    assert e.submit(ACCOUNT, order("buy", "1", cid="again"), now=at(3)).status == Status.CLIENT_ORDER_ID_ALREADY_EXIST


def test_available_margin_counts_resting_orders_that_add_exposure() -> None:
    e = engine(collateral="10000")
    e.submit(ACCOUNT, order("buy", "1", OrderKind.LIMIT, limit="50000"), now=T0)
    m = e.margin(ACCOUNT)
    assert m.order_margin == D(1000) and m.available_margin == D(9000)
    e.submit(ACCOUNT, order("sell", "0.5", OrderKind.LIMIT, limit="70000", reduce_only=False), now=T0)
    assert e.margin(ACCOUNT).order_margin == D(1700)
    summary = e.account_summary(ACCOUNT)
    assert summary.initial_margin == D(1700) and summary.equity == D(10000)


def test_the_venue_neutral_views_for_paper_trading() -> None:
    e = engine()
    placed = e.submit(ACCOUNT, OrderRequest("PF_XBTUSD", Side.BUY, D("0.1"), OrderType.MARKET, "or-1"), now=T0)
    assert placed.status == Status.PLACED
    status = e.order_by_client_id(ACCOUNT, "or-1").to_order_status()  # type: ignore[union-attr]
    assert (status.order_type, status.state, status.filled_size) == (OrderType.MARKET, OrderState.FILLED, D("0.1"))
    (fill,) = [f.to_fill() for f in e.fills(ACCOUNT)]
    assert fill.client_order_id == "or-1" and fill.price == D(60000)
    (position,) = [p.to_position() for p in e.positions(ACCOUNT)]
    assert position.size == D("0.1")
    stop = e.submit(
        ACCOUNT,
        OrderRequest("PF_XBTUSD", Side.SELL, D("0.1"), OrderType.STOP, "or-2", stop_price=D(55000), reduce_only=True),
        now=T0,
    )
    assert stop.order is not None and stop.order.to_order_status().order_type is OrderType.STOP


def test_the_state_round_trips_through_a_json_snapshot_and_carries_on_identically() -> None:
    import json

    e = engine()
    e.submit(ACCOUNT, order("buy", "0.3", cid="s1"), now=T0)
    e.submit(ACCOUNT, order("sell", "0.3", OrderKind.STOP, stop="59000", reduce_only=True), now=T0)
    snapshot = json.loads(json.dumps(e.to_dict()))
    restored = SimEngine.from_dict(snapshot)
    assert restored.to_dict() == e.to_dict()
    for engine_ in (e, restored):
        engine_.set_price("PF_XBTUSD", D(58000), now=at(1))
        engine_.submit(ACCOUNT, order("buy", "0.1", cid="s2"), now=at(2))
    assert restored.to_dict() == e.to_dict()


def test_ids_are_uuid_shaped_deterministic_and_seeded() -> None:
    import uuid

    a, b = engine(), engine()
    ra = a.submit(ACCOUNT, order("buy", "0.1"), now=T0)
    rb = b.submit(ACCOUNT, order("buy", "0.1"), now=T0)
    assert ra.order.order_id == rb.order.order_id  # type: ignore[union-attr]
    uuid.UUID(ra.order.order_id)  # type: ignore[union-attr]
    other = SimEngine(EngineConfig(id_seed="another"))
    other.add_instrument(XBT, D(60000), now=T0)
    other.add_account(ACCOUNT, D(10000), now=T0)
    rc = other.submit(ACCOUNT, order("buy", "0.1"), now=T0)
    assert rc.order.order_id != ra.order.order_id  # type: ignore[union-attr]


def test_time_must_be_timezone_aware() -> None:
    from datetime import datetime

    e = engine()
    with pytest.raises(ValueError, match="timezone-aware"):
        e.submit(ACCOUNT, order("buy", "0.1"), now=datetime(2026, 1, 1))


def test_trigger_activation_failure_when_margin_is_gone_at_trigger_time() -> None:
    e = engine(collateral="1000")
    stop = e.submit(ACCOUNT, order("buy", "1", OrderKind.STOP, stop="61000"), now=T0)  # stops hold no margin
    assert stop.status == Status.PLACED
    (event,) = e.set_price("PF_XBTUSD", D(61000), now=at(1))
    assert event.kind == "trigger_failed" and event.reason == Status.INSUFFICIENT_AVAILABLE_FUNDS
    assert stop.order is not None and stop.order.state is SimOrderState.TRIGGER_FAILED
    assert stop.order.error == "INSUFFICIENT_MARGIN"
    assert e.position(ACCOUNT, "PF_XBTUSD") == Decimal(0)


def test_nonsense_market_settings_are_refused() -> None:
    e = engine()
    with pytest.raises(ValueError, match="positive"):
        e.set_price("PF_XBTUSD", D(0), now=T0)
    with pytest.raises(ValueError, match="positive"):
        e.set_liquidity("PF_XBTUSD", D(0))
    with pytest.raises(KeyError):
        e.set_price("PF_NOPEUSD", D(1), now=T0)
