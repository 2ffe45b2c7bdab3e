"""The ``/api/history/v2|v3`` endpoints: account log, executions, orders, triggers, positions.

Shapes follow the SPEC history schemas (krakenfx/api-specs ``futures-rest/history``): these responses carry no
``result`` field, decimals are strings (except the account log, whose fields are JSON numbers), timestamps are Unix
milliseconds, and history calls the client order id ``clientId`` ("" when unset) and the side ``direction``
("Buy"/"Sell"). Event ``reason`` words are the lower-cased OrderUpdateReason; the real values are not documented.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from exchanges.base import Side, TriggerSignal
from exchanges.fake.wire import EPOCH, from_millis, iso, millis, text, triggers_above
from exchanges.sim.engine import SimEngine
from exchanges.sim.margin import notional, sign
from exchanges.sim.model import LedgerRow, OrderRevision, SimFill, SimOrder
from exchanges.sim.vocabulary import FillType, OrderKind

T = TypeVar("T")

# The counterparty of every execution: the market itself, which the engine does not model as an account.
MARKET_ACCOUNT_UID = "00000000-0000-0000-0000-000000000000"
_NS = uuid.UUID("6c1a4f5e-1b7d-4e0a-9a7e-0f4b3c2d1e0f")


class BadParam(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _direction(side: Side) -> str:
    return "Buy" if side is Side.BUY else "Sell"


def _history_order_type(order: SimOrder, rev: OrderRevision) -> str:
    kind = rev.kind
    if kind.is_trigger:
        return "Limit" if rev.limit_price is not None else "Market"
    return {OrderKind.MARKET: "Market", OrderKind.LIMIT: "Limit", OrderKind.POST: "Post", OrderKind.IOC: "IoC"}[kind]


def historical_order(order: SimOrder, rev: OrderRevision, account_uid: str) -> dict[str, Any]:
    limit = rev.limit_price if rev.limit_price is not None else order.protection_price
    return {
        "uid": order.order_id,
        "accountUid": account_uid,
        "tradeable": order.symbol,
        "direction": _direction(order.side),
        "quantity": text(rev.quantity),
        "filled": text(rev.filled),
        "timestamp": millis(order.received_time),
        "limitPrice": text(limit),
        "orderType": _history_order_type(order, rev),
        "clientId": order.client_order_id or "",
        "reduceOnly": rev.reduce_only,
        "lastUpdateTimestamp": millis(rev.time),
        "spotData": None,
    }


def historical_trigger(order: SimOrder, rev: OrderRevision, account_uid: str) -> dict[str, Any]:
    signal = {TriggerSignal.MARK: "MarkPrice", TriggerSignal.INDEX: "SpotPrice", TriggerSignal.LAST: "LastPrice"}
    return {
        "uid": order.order_id,
        "accountId": 1,
        "accountUid": account_uid,
        "tradeable": order.symbol,
        "direction": _direction(order.side),
        "quantity": text(rev.quantity),
        "timestamp": millis(order.received_time),
        "limitPrice": text(rev.limit_price),
        "orderType": "Limit" if rev.limit_price is not None else "Market",
        "clientId": order.client_order_id or "",
        "reduceOnly": rev.reduce_only,
        "lastUpdateTimestamp": millis(rev.time),
        "triggerOptions": {
            "triggerPrice": text(rev.stop_price),
            "triggerSignal": signal[order.trigger_signal or TriggerSignal.MARK],
            "triggerSide": "Above" if triggers_above(order) else "Below",
            "trailingStopOptions": None,
            "limitPriceOffset": None,
        },
    }


def _entry_uid(order: SimOrder, index: int) -> str:
    return str(uuid.uuid5(_NS, f"{order.order_id}:{index}"))


# -- pagination -------------------------------------------------------------------------------------------------------


def _int_param(params: dict[str, str | None], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadParam(name) from None


def page(
    items: Sequence[T],
    params: dict[str, str | None],
    *,
    time_of: Callable[[T], datetime],
    default_count: int = 1000,
) -> tuple[list[T], str | None]:
    """Filter by since/before (ms), sort (asc|desc, default desc), then cut a page; returns (page, next token)."""
    since = _int_param(params, "since")
    before = _int_param(params, "before")
    count = _int_param(params, "count") or default_count
    sort = params.get("sort") or "desc"
    if sort not in ("asc", "desc") or count < 1:
        raise BadParam("sort" if sort not in ("asc", "desc") else "count")
    chosen = [
        i
        for i in items
        if (since is None or millis(time_of(i)) >= since) and (before is None or millis(time_of(i)) < before)
    ]
    if sort == "desc":
        chosen.reverse()
    offset = 0
    token = params.get("continuation_token")
    if token:
        try:
            offset = int(base64.b64decode(token).decode())
        except (ValueError, binascii.Error):
            raise BadParam("continuation_token") from None
    result = chosen[offset : offset + count]
    more = offset + count < len(chosen)
    return result, base64.b64encode(str(offset + count).encode()).decode() if more else None


# -- account log -------------------------------------------------------------------------------------------------------


def account_log_row(row: LedgerRow) -> dict[str, Any]:
    return {
        "asset": row.asset,
        "booking_uid": row.booking_uid,
        "collateral": row.collateral,
        "contract": row.contract,
        "date": iso(row.time),
        "execution": row.execution,
        "fee": row.fee,
        "funding_rate": None,
        "id": row.id,
        "info": row.info,
        "margin_account": row.margin_account,
        "mark_price": row.mark_price,
        "new_average_entry_price": row.new_average_entry_price,
        "new_balance": row.new_balance,
        "old_average_entry_price": row.old_average_entry_price,
        "old_balance": row.old_balance,
        "realized_funding": row.realized_funding,
        "realized_pnl": row.realized_pnl,
        "trade_price": row.trade_price,
        "conversion_spread_percentage": None,
        "liquidation_fee": None,
    }


def account_log(engine: SimEngine, account_id: str, params: dict[str, str | None]) -> dict[str, Any]:
    rows = engine.ledger(account_id)
    first = _int_param(params, "from")
    last = _int_param(params, "to")
    info = params.get("info")
    rows = [
        r
        for r in rows
        if (first is None or r.id >= first) and (last is None or r.id <= last) and (info is None or r.info == info)
    ]
    chosen, _ = page(rows, {**params, "continuation_token": None}, time_of=lambda r: r.time, default_count=500)
    return {"accountUid": account_id, "logs": [account_log_row(r) for r in chosen]}


def account_log_csv(engine: SimEngine, account_id: str) -> str:
    out = io.StringIO()
    rows = [account_log_row(r) for r in reversed(engine.ledger(account_id))]
    fields = list(account_log_row(LedgerRow(0, "", EPOCH, "", "", Decimal(0), Decimal(0))))
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else v for k, v in r.items()})
    return out.getvalue()


# -- executions -------------------------------------------------------------------------------------------------------


def _counterparty(fill: SimFill) -> dict[str, Any]:
    return {
        "uid": str(uuid.uuid5(_NS, f"counterparty:{fill.fill_id}")),
        "accountUid": MARKET_ACCOUNT_UID,
        "tradeable": fill.symbol,
        "direction": _direction(fill.side.opposite),
        "quantity": text(fill.size),
        "filled": text(fill.size),
        "timestamp": millis(fill.time),
        "limitPrice": text(fill.price),
        "orderType": "Limit",
        "clientId": "",
        "reduceOnly": False,
        "lastUpdateTimestamp": millis(fill.time),
        "spotData": None,
    }


def execution_element(engine: SimEngine, fill: SimFill, account_uid: str) -> dict[str, Any]:
    order = engine.state.orders[fill.order_id]
    after = OrderRevision(**{**vars(fill.order_before), "filled": fill.order_before.filled + fill.size})
    ours = historical_order(order, after, account_uid)
    spec = engine.instrument(fill.symbol)
    rate = engine.config.maker_fee if fill.fill_type is FillType.MAKER else engine.config.taker_fee
    data = {
        "fee": text(fill.fee),
        "positionSize": text(fill.position_after),
        "feeCalculationInfo": [
            {"percentageFee": text(rate * 100), "userFeeDiscountApplied": None, "marketShareRebateCredited": None}
        ],
    }
    maker = fill.fill_type is FillType.MAKER
    execution = {
        "uid": fill.fill_id,
        "makerOrder": ours if maker else _counterparty(fill),
        "takerOrder": _counterparty(fill) if maker else ours,
        "timestamp": millis(fill.time),
        "quantity": text(fill.size),
        "price": text(fill.price),
        "markPrice": text(fill.mark_price),
        "limitFilled": maker and after.filled == after.quantity,
        "usdValue": text(notional(fill.size, fill.price, spec)),
        "makerOrderData": data if maker else None,
        "takerOrderData": None if maker else data,
    }
    return {
        "uid": fill.fill_id,
        "timestamp": millis(fill.time),
        "event": {"Execution": {"execution": execution, "takerReducedQuantity": ""}},
    }


def executions(
    engine: SimEngine, account_id: str, params: dict[str, str | None], server_time: datetime
) -> tuple[dict[str, Any], str | None]:
    fills = engine.fills(account_id)
    if params.get("tradeable"):
        fills = [f for f in fills if f.symbol.lower() == (params["tradeable"] or "").lower()]
    chosen, token = page(fills, params, time_of=lambda f: f.time)
    elements = [execution_element(engine, f, account_id) for f in chosen]
    return _envelope(account_id, elements, token, server_time), token


# -- orders and triggers -----------------------------------------------------------------------------------------------


def _reason(word: str) -> str:
    return word.lower()


def _activated_before(order: SimOrder, index: int) -> bool:
    """Whether a trigger order had become a live order before its history entry ``index``."""
    return not order.kind.is_trigger or any(e.event == "TRIGGER_ACTIVATED" for e in order.history[:index])


def _order_event(order: SimOrder, index: int, uid: str) -> dict[str, Any] | None:
    """The order-history view: what happened to the order on the book (a trigger only once it fired)."""
    entry = order.history[index]
    reason = _reason(entry.reason)
    after = historical_order(order, entry.after, uid)
    if entry.event in ("PLACED", "TRIGGER_ACTIVATED"):
        return {"OrderPlaced": {"order": after, "reason": reason, "reducedQuantity": ""}}
    if entry.event == "REJECTED" and not order.kind.is_trigger:
        return {"OrderRejected": {"order": after, "orderError": entry.error or "", "reason": reason}}
    if not _activated_before(order, index):
        return None
    if entry.event in ("EXECUTED", "EDITED") and entry.before is not None:
        old = historical_order(order, entry.before, uid)
        reduced = text(order.reduced_quantity or Decimal(0))
        return {"OrderUpdated": {"oldOrder": old, "newOrder": after, "reason": reason, "reducedQuantity": reduced}}
    if entry.event == "CANCELLED":
        return {"OrderCancelled": {"order": after, "reason": reason}}
    return None


def _trigger_event(order: SimOrder, index: int, uid: str) -> dict[str, Any] | None:
    """The trigger-history view: a stop's life until it fired (or lapsed, failed or was cancelled)."""
    if not order.kind.is_trigger or (
        _activated_before(order, index) and order.history[index].event != "TRIGGER_ACTIVATED"
    ):
        return None
    entry = order.history[index]
    reason = _reason(entry.reason)
    after = historical_trigger(order, entry.after, uid)
    if entry.event == "TRIGGER_PLACED":
        return {"OrderTriggerPlaced": {"order": after, "reason": reason}}
    if entry.event == "TRIGGER_ACTIVATED":
        assert entry.before is not None
        return {"OrderTriggerActivated": {"order": historical_trigger(order, entry.before, uid)}}
    if entry.event == "EDITED" and entry.before is not None:
        old = historical_trigger(order, entry.before, uid)
        return {"OrderTriggerUpdated": {"oldOrderTrigger": old, "newOrderTrigger": after, "reason": reason}}
    if entry.event in ("CANCELLED", "TRIGGER_FAILED"):
        return {"OrderTriggerCancelled": {"order": after, "reason": reason}}
    return None


def _events(
    engine: SimEngine,
    account_id: str,
    render: Callable[[SimOrder, int, str], dict[str, Any] | None],
    tradeable: str | None,
) -> list[dict[str, Any]]:
    items: list[tuple[datetime, int, dict[str, Any]]] = []
    for order in engine.orders(account_id):
        if tradeable and order.symbol.lower() != tradeable.lower():
            continue
        for index, entry in enumerate(order.history):
            event = render(order, index, account_id)
            if event is not None:
                element = {"uid": _entry_uid(order, index), "timestamp": millis(entry.time), "event": event}
                items.append((entry.time, order.seq * 1000 + index, element))
    items.sort(key=lambda item: (item[0], item[1]))
    return [element for _, _, element in items]


def order_events(
    engine: SimEngine, account_id: str, params: dict[str, str | None], server_time: datetime, *, triggers: bool
) -> tuple[dict[str, Any], str | None]:
    elements = _events(engine, account_id, _trigger_event if triggers else _order_event, params.get("tradeable"))
    chosen, token = page(elements, params, time_of=lambda e: from_millis(e["timestamp"]))
    return _envelope(account_id, chosen, token, server_time), token


# -- positions --------------------------------------------------------------------------------------------------------


def _position_change(before: Decimal, after: Decimal) -> str:
    if before == 0:
        return "open"
    if after == 0:
        return "close"
    if sign(before) != sign(after):
        return "reverse"
    return "increase" if abs(after) > abs(before) else "decrease"


def position_element(fill: SimFill, account_uid: str) -> dict[str, Any]:
    return {
        "accountUid": account_uid,
        "tradeable": fill.symbol,
        "oldPosition": text(fill.position_before),
        "oldAverageEntryPrice": text(fill.average_before) if fill.position_before else None,
        "newPosition": text(fill.position_after),
        "newAverageEntryPrice": text(fill.average_after),
        "fillTime": millis(fill.time),
        "fee": text(fill.fee),
        "feeCurrency": "USD",
        "realizedPnL": text(fill.realized_pnl),
        "positionChange": _position_change(fill.position_before, fill.position_after),
        "executionUid": fill.fill_id,
        "executionPrice": text(fill.price),
        "executionSize": text(fill.size),
        "tradeType": "userExecution",
        "timestamp": millis(fill.time),
        "updateReason": "trade",
    }


def positions(
    engine: SimEngine, account_id: str, params: dict[str, str | None], server_time: datetime
) -> tuple[dict[str, Any], str | None]:
    fills = engine.fills(account_id)
    if params.get("tradeable"):
        fills = [f for f in fills if f.symbol.lower() == (params["tradeable"] or "").lower()]
    chosen, token = page(fills, params, time_of=lambda f: f.time)
    return _envelope(account_id, [position_element(f, account_id) for f in chosen], token, server_time), token


def _envelope(account_id: str, elements: list[Any], token: str | None, server_time: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "accountUid": account_id,
        "len": len(elements),
        "serverTime": iso(server_time),
        "elements": elements,
    }
    if token:
        body["continuationToken"] = token
    return body
