"""Every check, answered with Kraken's own sendStatus word, and no trace of the order in the position."""

from __future__ import annotations

import pytest
from sim_testkit import ACCOUNT, T0, D, at, engine, order, spec

from exchanges.sim import EngineConfig, OrderKind, SimOrderState, Status


def rejected(result, status: str) -> None:  # type: ignore[no-untyped-def]
    assert result.status == status
    assert not result.accepted and result.fills == []
    if result.order is not None:
        assert result.order.state is SimOrderState.REJECTED and result.order.reject_status == status


@pytest.mark.parametrize("flag", ["suspended", "tradeable"])
def test_market_suspended(flag: str) -> None:
    e = engine()
    e.update_instrument("PF_XBTUSD", **{flag: flag == "suspended"})
    rejected(e.submit(ACCOUNT, order("buy", "0.1"), now=T0), Status.MARKET_SUSPENDED)


@pytest.mark.parametrize(
    ("symbol", "size"),
    [
        ("PF_XBTUSD", "0"),
        ("PF_XBTUSD", "-0.1"),
        ("PF_XBTUSD", "0.00015"),  # cvtp 4: steps of 0.0001
        ("PF_PEPEUSD", "98123"),  # cvtp -3: steps of 1000
        ("PF_PEPEUSD", "500"),
    ],
)
def test_invalid_size(symbol: str, size: str) -> None:
    e = engine()
    result = e.submit(ACCOUNT, order("buy", size, symbol=symbol), now=T0)
    rejected(result, Status.INVALID_SIZE)
    assert result.order is not None and result.order.error == "INVALID_QUANTITY"


def test_a_negative_trade_precision_accepts_whole_steps() -> None:
    e = engine()
    assert e.submit(ACCOUNT, order("buy", "98000", symbol="PF_PEPEUSD"), now=T0).status == Status.PLACED


@pytest.mark.parametrize(
    "request_",
    [
        order("buy", "0.1", OrderKind.LIMIT, limit="60000.5"),
        order("buy", "0.1", OrderKind.LIMIT),
        order("buy", "0.1", OrderKind.POST, limit="-1"),
        order("sell", "0.1", OrderKind.STOP, stop="59000.3"),
        order("sell", "0.1", OrderKind.STOP),
        order("sell", "0.1", OrderKind.STOP, stop="59000", limit="58999.9"),
    ],
)
def test_invalid_price(request_) -> None:  # type: ignore[no-untyped-def]
    rejected(engine().submit(ACCOUNT, request_, now=T0), Status.INVALID_PRICE)


def test_insufficient_available_funds_for_the_exposure_increasing_part_only() -> None:
    e = engine(collateral="1500")
    rejected(e.submit(ACCOUNT, order("buy", "2"), now=T0), Status.INSUFFICIENT_AVAILABLE_FUNDS)
    assert e.submit(ACCOUNT, order("buy", "1"), now=T0).status == Status.PLACED  # IM 1200 of 1470 left
    # Selling 1 closes the position: no exposure added, never refused for margin.
    e.set_price("PF_XBTUSD", D(59000), now=at(1))
    assert e.margin(ACCOUNT).available_margin < 1000
    assert e.submit(ACCOUNT, order("sell", "1"), now=at(2)).status == Status.PLACED


def test_insufficient_available_funds_counts_resting_orders() -> None:
    e = engine(collateral="1500")
    assert e.submit(ACCOUNT, order("buy", "1", OrderKind.LIMIT, limit="55000"), now=T0).status == Status.PLACED
    rejected(e.submit(ACCOUNT, order("buy", "0.5"), now=T0), Status.INSUFFICIENT_AVAILABLE_FUNDS)


def test_would_cause_liquidation_when_a_fill_worse_than_mark_leaves_equity_under_maintenance() -> None:
    # 1% slippage: buying 0.1 fills at 60600 and loses 60 at once. 123 of collateral covers the margin judged at
    # mark (3 fee + 120 IM) but leaves 123 - 3.03 - 60 = 59.97 of equity, under the 60 of maintenance.
    e = engine(collateral="123", config=EngineConfig(taker_slippage=D("0.01")))
    result = e.submit(ACCOUNT, order("buy", "0.1"), now=T0)
    rejected(result, Status.WOULD_CAUSE_LIQUIDATION)
    e.fund(ACCOUNT, D(3), now=at(1))
    assert e.submit(ACCOUNT, order("buy", "0.1"), now=at(2)).fills[0].price == D(60600)


def test_an_account_already_under_maintenance_can_still_reduce() -> None:
    e = engine(collateral="1300")
    e.submit(ACCOUNT, order("buy", "1"), now=T0)
    e.set_price("PF_XBTUSD", D(59000), now=at(1))
    m = e.margin(ACCOUNT)
    assert m.equity < m.maintenance_margin
    assert e.submit(ACCOUNT, order("sell", "0.5"), now=at(2)).status == Status.PLACED


def test_max_position_violation() -> None:
    e = engine()
    e.add_instrument(spec("PF_ETHUSD", tick="0.1", step="0.001", max_position="2"), D(3000), now=T0)
    assert e.submit(ACCOUNT, order("buy", "1.5", symbol="PF_ETHUSD"), now=T0).status == Status.PLACED
    rejected(e.submit(ACCOUNT, order("buy", "0.6", symbol="PF_ETHUSD"), now=T0), Status.MAX_POSITION_VIOLATION)
    rejected(
        e.submit(ACCOUNT, order("buy", "1", OrderKind.LIMIT, symbol="PF_ETHUSD", limit="2000"), now=T0),
        Status.MAX_POSITION_VIOLATION,
    )
    # Reducing past the limit on the other side is judged by the resulting position: -2.5 is too much.
    rejected(e.submit(ACCOUNT, order("sell", "4", symbol="PF_ETHUSD"), now=T0), Status.MAX_POSITION_VIOLATION)
    assert e.submit(ACCOUNT, order("sell", "3.5", symbol="PF_ETHUSD"), now=T0).status == Status.PLACED


def test_client_order_id_already_exist_covers_finished_orders() -> None:
    e = engine()
    e.submit(ACCOUNT, order("buy", "0.1", cid="dup"), now=T0)  # filled at once
    result = e.submit(ACCOUNT, order("buy", "0.1", cid="dup"), now=at(1))
    assert result.status == Status.CLIENT_ORDER_ID_ALREADY_EXIST and result.order is None
    cancelled = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="1000", cid="gone"), now=at(2))
    e.cancel(ACCOUNT, order_id=cancelled.order.order_id, now=at(3))  # type: ignore[union-attr]
    again = e.submit(ACCOUNT, order("buy", "0.1", OrderKind.LIMIT, limit="1000", cid="gone"), now=at(4))
    assert again.status == Status.CLIENT_ORDER_ID_ALREADY_EXIST
    assert e.position(ACCOUNT, "PF_XBTUSD") == D("0.1")


def test_client_order_id_too_big() -> None:
    result = engine().submit(ACCOUNT, order("buy", "0.1", cid="x" * 101), now=T0)
    assert result.status == Status.CLIENT_ORDER_ID_TOO_BIG and result.order is None


@pytest.mark.parametrize("position", ["0", "0.5"])
def test_would_not_reduce_position_when_flat_or_on_the_same_side(position: str) -> None:
    e = engine()
    if position != "0":
        e.submit(ACCOUNT, order("buy", position), now=T0)
    for request_ in (
        order("buy", "0.1", reduce_only=True),
        order("buy", "0.1", OrderKind.STOP, stop="61000", reduce_only=True),
    ):
        rejected(e.submit(ACCOUNT, request_, now=T0), Status.WOULD_NOT_REDUCE_POSITION)
    assert e.position(ACCOUNT, "PF_XBTUSD") == D(position)


def test_post_would_execute_and_ioc_would_not_execute() -> None:
    e = engine()
    rejected(e.submit(ACCOUNT, order("buy", "0.1", OrderKind.POST, limit="60000"), now=T0), Status.POST_WOULD_EXECUTE)
    assert e.submit(ACCOUNT, order("buy", "0.1", OrderKind.POST, limit="59999"), now=T0).status == Status.PLACED
    rejected(e.submit(ACCOUNT, order("buy", "0.1", OrderKind.IOC, limit="59999"), now=T0), Status.IOC_WOULD_NOT_EXECUTE)
    ioc = e.submit(ACCOUNT, order("sell", "0.1", OrderKind.IOC, limit="59000"), now=T0)
    assert ioc.status == Status.PLACED and ioc.fills[0].price == D(60000)


def test_market_is_post_only() -> None:
    e = engine()
    e.update_instrument("PF_XBTUSD", post_only=True)
    rejected(e.submit(ACCOUNT, order("buy", "0.1"), now=T0), Status.MARKET_IS_POST_ONLY)
    assert e.submit(ACCOUNT, order("buy", "0.1", OrderKind.POST, limit="50000"), now=T0).status == Status.PLACED


def test_an_unknown_market_creates_no_order() -> None:
    e = engine()
    result = e.submit(ACCOUNT, order("buy", "0.1", symbol="PF_NOPEUSD"), now=T0)
    assert result.status == Status.UNKNOWN_MARKET == "invalidArgument" and result.order is None


def test_inverse_contracts_are_listed_but_not_simulated() -> None:
    e = engine()
    assert "PI_XBTUSD" in {s.symbol for s in e.instruments()}
    rejected(e.submit(ACCOUNT, order("buy", "100", symbol="PI_XBTUSD"), now=T0), Status.UNSUPPORTED_INSTRUMENT)
