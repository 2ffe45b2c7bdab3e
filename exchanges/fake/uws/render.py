"""Engine objects in the Unified WebSocket's shapes. Every shape says where it comes from:

* envelope ``{"method","req_id","result"|"error","success","time_in","time_out"}``, ``{"channel","type","data"}``,
  ``status``, ``heartbeat``, ``pong``, ``Already subscribed to ... channel``: **Kraken's UWS pages** (reference §1,
  §3.3, §4.1, §5);
* ``positions`` ``data.futures[]`` with ``symbol``/``size``/``entry_price`` as numbers, one snapshot then deltas,
  size 0 when closed; ``instrument`` ``price_increment``/``qty_increment``/``qty_min``; ``margin`` whole on every
  message, section ``type: multi_collateral``: **Kraken's UWS pages**;
* ``executions`` rows (``exec_type``, ``order_status``, ``cum_qty``, ``last_qty``, ``liquidity_ind``,
  ``fees[{asset,qty}]`` ...), a top-level ``sequence`` on private channel messages, ``add_order`` result
  ``order_id``/``cl_ord_id``: **Spot WebSocket v2** (the UWS pages were silent or cut off);
* ``margin`` field names, ticker ``mark_price``/``index_price``, instrument ``status``/``contract_size``,
  ``realized_pnl`` on trades, every error text of an order refusal: **ours** (nothing published) - the client
  keeps its own copy of these bets in ``exchanges/kraken/uws/assumptions.py`` and the probe checks them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from exchanges.base import InstrumentSpec, TriggerSignal
from exchanges.fake.wire import iso
from exchanges.sim.model import OrderHistoryEntry, SimFill, SimOrder
from exchanges.sim.vocabulary import OrderKind, SimOrderState, Status

ORDER_TYPE_WORDS = {
    OrderKind.MARKET: "market",
    OrderKind.LIMIT: "limit",
    OrderKind.POST: "limit",
    OrderKind.IOC: "limit",
    OrderKind.STOP: "stop-loss",
    OrderKind.TAKE_PROFIT: "take-profit",
}
KINDS_BY_WORD = {"market": OrderKind.MARKET, "limit": OrderKind.LIMIT, "stop-loss": OrderKind.STOP}
REFERENCES = {"index": TriggerSignal.INDEX, "last": TriggerSignal.LAST}  # no mark on UWS (reference §3.2, C)
REFERENCE_WORDS = {TriggerSignal.INDEX: "index", TriggerSignal.LAST: "last", TriggerSignal.MARK: "mark"}

# The engine's (Kraken REST) refusal words as the fake's UWS error texts. Ours: no derivatives texts are published.
REJECTION_TEXTS = {
    Status.INSUFFICIENT_AVAILABLE_FUNDS: "Insufficient available funds",
    Status.WOULD_CAUSE_LIQUIDATION: "Order would cause liquidation",
    Status.INVALID_SIZE: "Invalid order quantity",
    Status.INVALID_PRICE: "Invalid price",
    Status.MARKET_SUSPENDED: "Market suspended",
    Status.MARKET_INACTIVE: "Market inactive",
    Status.MARKET_IS_POST_ONLY: "Market is post only",
    Status.MAX_POSITION_VIOLATION: "Max position exceeded",
    Status.WOULD_NOT_REDUCE_POSITION: "Order would not reduce position",
    Status.POST_WOULD_EXECUTE: "Post only order would execute",
    Status.IOC_WOULD_NOT_EXECUTE: "IOC order would not execute",
    Status.CLIENT_ORDER_ID_ALREADY_EXIST: "Duplicate cl_ord_id",
    Status.CLIENT_ORDER_ID_TOO_BIG: "Invalid cl_ord_id",
    Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME: "Deadline elapsed",
    Status.UNKNOWN_MARKET: "Unknown symbol",
    Status.UNSUPPORTED_INSTRUMENT: "Unknown symbol",
    Status.ORDER_FOR_EDIT_NOT_FOUND: "Order not found",
    Status.ORDER_FOR_EDIT_NOT_A_STOP: "Invalid trigger_price: the order is not an untriggered stop",
    "tooManySmallOrders": "Too many small orders",
    "selfFill": "Self fill prevented",
    "outsidePriceCollar": "Price outside collar",
}
TOKEN_EXPIRED = "Token expired"
INTERNAL_ERROR = "Internal server error"
RATE_LIMITED = "Exceeded msg rate"
UNAVAILABLE = "Service unavailable"
CANCEL_NOT_FOUND = "Order not found"


def rejection_text(status: str) -> str:
    return REJECTION_TEXTS.get(status, f"Order rejected: {status}")


def answer(
    method: str, req_id: Any, time_in: datetime, time_out: datetime, *, result: Any = None, error: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"method": method}
    if req_id is not None:
        body["req_id"] = req_id
    if error is None:
        body["result"] = result if result is not None else {}
        body["success"] = True
    else:
        body["success"] = False
        body["error"] = error
    body["time_in"] = iso(time_in)
    body["time_out"] = iso(time_out)
    return body


def _order_fields(order: SimOrder) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_id": order.order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "order_type": ORDER_TYPE_WORDS[order.kind],
        "order_qty": order.size,
    }
    if order.client_order_id:
        row["cl_ord_id"] = order.client_order_id
    if order.limit_price is not None and order.kind is not OrderKind.MARKET:
        row["limit_price"] = order.limit_price
    if order.kind.is_trigger and order.stop_price is not None:
        row["triggers"] = {
            "reference": REFERENCE_WORDS[order.trigger_signal or TriggerSignal.MARK],
            "price": order.stop_price,
            "price_type": "static",
            "status": "triggered" if order.triggered else "untriggered",
        }
    row["reduce_only"] = order.reduce_only
    row["time_in_force"] = "gtc" if order.kind.rests or order.kind.is_trigger else "ioc"
    return row


def order_status_word(order: SimOrder, filled: Decimal | None = None) -> str:
    done = order.filled if filled is None else filled
    if order.state is SimOrderState.FILLED:
        return "filled"
    if order.state in (SimOrderState.CANCELLED, SimOrderState.TRIGGER_FAILED):
        return "canceled"
    if order.state is SimOrderState.REJECTED:
        return "rejected"
    if done > 0:
        return "partially_filled"
    return "new"


def open_order_row(order: SimOrder) -> dict[str, Any]:
    """An open order in the executions snapshot."""
    return {
        **_order_fields(order),
        "exec_type": "new",
        "order_status": order_status_word(order),
        "cum_qty": order.filled,
        "timestamp": iso(order.last_update_time),
    }


def trade_row(fill: SimFill, order: SimOrder) -> dict[str, Any]:
    cum = fill.order_before.filled + fill.size
    status = "filled" if cum >= order.size else "partially_filled"
    return {
        **_order_fields(order),
        "exec_type": "trade",
        "order_status": status,
        "exec_id": fill.fill_id,
        "last_qty": fill.size,
        "last_price": fill.price,
        "cum_qty": cum,
        "liquidity_ind": "m" if fill.liquidity.value == "maker" else "t",
        "fees": [{"asset": "USD", "qty": fill.fee}],
        "realized_pnl": fill.realized_pnl,
        "timestamp": iso(fill.time),
    }


def history_rows(order: SimOrder, entries: list[OrderHistoryEntry], fills: dict[str, SimFill]) -> list[dict]:
    """The executions updates for new history entries of one order."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        base = {**_order_fields(order), "timestamp": iso(entry.time), "cum_qty": entry.after.filled}
        if entry.event in ("PLACED", "TRIGGER_PLACED"):
            rows.append({**base, "exec_type": "new", "order_status": "new"})
        elif entry.event == "TRIGGER_ACTIVATED":
            rows.append({**base, "exec_type": "status", "order_status": "triggered"})
        elif entry.event == "EXECUTED" and entry.execution_id in fills:
            rows.append(trade_row(fills[entry.execution_id], order))
            if entry.after.filled >= entry.after.quantity:
                rows.append({**base, "exec_type": "filled", "order_status": "filled"})
        elif entry.event == "EDITED":
            rows.append({**base, "exec_type": "amended", "order_status": order_status_word(order, entry.after.filled)})
        elif entry.event in ("CANCELLED", "TRIGGER_FAILED") or (entry.event == "REJECTED" and rows):
            rows.append({**base, "exec_type": "canceled", "order_status": "canceled", "reason": entry.reason})
    return rows


def position_row(symbol: str, size: Decimal, entry: Decimal) -> dict[str, Any]:
    return {"symbol": symbol, "size": size, "entry_price": entry}


def margin_rows(
    *margin: Decimal,
) -> list[dict[str, Any]]:
    equity, available, initial, maintenance, collateral, unrealized = margin
    return _margin_rows(equity, available, initial, maintenance, collateral, unrealized)


def _margin_rows(  # noqa: PLR0917
    equity: Decimal,
    available: Decimal,
    initial: Decimal,
    maintenance: Decimal,
    collateral: Decimal,
    unrealized: Decimal,
) -> list[dict[str, Any]]:
    return [
        {
            "type": "multi_collateral",
            "margin_equity": equity,
            "available_margin": available,
            "initial_margin": initial,
            "maintenance_margin": maintenance,
            "balance_value": collateral,
            "unrealized_pnl": unrealized,
            "currency": "USD",
        },
        {"type": "single_collateral", "accounts": []},
    ]


def instrument_row(spec: InstrumentSpec) -> dict[str, Any]:
    if not spec.tradeable:
        status = "disabled"
    elif spec.suspended:
        status = "maintenance"
    elif spec.post_only:
        status = "post_only"
    else:
        status = "online"
    row: dict[str, Any] = {
        "symbol": spec.symbol,
        "base": spec.base,
        "quote": spec.quote,
        "status": status,
        "price_increment": spec.tick_size,
        "qty_increment": spec.size_step,
        "qty_min": spec.size_step,
        "contract_size": spec.contract_size,
        "marginable": True,
    }
    if spec.max_position_size is not None:
        row["max_position_size"] = spec.max_position_size
    return row


def ticker_row(  # noqa: PLR0917
    symbol: str, mark: Decimal, index: Decimal, last: Decimal, tick: Decimal, when: datetime
) -> dict:
    bid = (mark / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    if bid == mark:
        bid -= tick
    return {
        "symbol": symbol,
        "bid": bid,
        "ask": bid + tick if bid + tick > mark else bid + 2 * tick,
        "last": last,
        "mark_price": mark,
        "index_price": index,
        "timestamp": iso(when),
    }
