"""Kraken Futures' wire format: JSON with exact decimal numbers, ISO-ms timestamps, and the v3 object shapes.

Numbers: Kraken's v3 order/account objects carry JSON numbers, but newer responses (tickers; the order events of
cancelallorders) carry strings (reference §3.2, §12.2); each renderer follows the evidence for its endpoint. Decimals
are written as plain decimal text, never through float, so a client parsing with ``parse_float=Decimal`` gets the
engine's exact value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from exchanges.base import Side, TriggerSignal
from exchanges.sim.model import OrderRevision, SimFill, SimOrder, SubmitResult
from exchanges.sim.vocabulary import OrderKind, SimOrderState

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Raw(str):
    """A pre-formatted JSON number (used to emit Decimal-as-number without going through float)."""


def number(value: Decimal) -> Raw:
    if not value.is_finite():
        raise ValueError("non-finite number")
    if value == 0:
        return Raw("0")
    return Raw(format(value.normalize(), "f"))


def text(value: Decimal | None) -> str | None:
    """A Decimal as a JSON string, for the endpoints that send numbers as strings."""
    return None if value is None else str(number(value))


def dumps(obj: Any) -> str:
    out: list[str] = []
    _encode(obj, out)
    return "".join(out)


# What json.dumps writes for a str (ensure_ascii, the default): the C escaper itself, without json.dumps' set-up.
_string = json.encoder.encode_basestring_ascii


def _encode(obj: Any, out: list[str]) -> None:
    # The common exact types first, by identity of their type (a fraction of the cost of the isinstance chain below,
    # which still decides every subclass - StrEnum, Raw - exactly as before).
    kind = type(obj)
    if kind is str:
        out.append(_string(obj))
    elif kind is dict:
        out.append("{")
        first = True
        for k, v in obj.items():
            if first:
                first = False
            else:
                out.append(",")
            out.append(_string(k) if type(k) is str else json.dumps(str(k)))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif kind is list:
        out.append("[")
        first = True
        for v in obj:
            if first:
                first = False
            else:
                out.append(",")
            _encode(v, out)
        out.append("]")
    elif kind is Raw:
        out.append(str.__str__(obj))
    elif kind is Decimal:
        out.append(str.__str__(number(obj)))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(obj))
    else:
        _encode_other(obj, out)


def _encode_other(obj: Any, out: list[str]) -> None:
    if isinstance(obj, Raw):
        out.append(str.__str__(obj))
    elif isinstance(obj, Decimal):
        out.append(str.__str__(number(obj)))
    elif isinstance(obj, str):
        out.append(json.dumps(str(obj)))
    elif isinstance(obj, int | float):
        out.append(json.dumps(obj))
    elif isinstance(obj, Mapping):
        out.append("{")
        for i, (k, v) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(k)))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    else:
        raise TypeError(f"cannot render {type(obj).__name__}")


def iso(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def millis(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(milliseconds=1)


def from_millis(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


# -- order objects ---------------------------------------------------------------------------------------------------

TRIGGER_SIGNAL = {TriggerSignal.MARK: "mark_price", TriggerSignal.INDEX: "spot_price", TriggerSignal.LAST: "last_price"}
TRIGGER_SIGNAL_UPPER = {
    TriggerSignal.MARK: "MARK_PRICE",
    TriggerSignal.INDEX: "SPOT_PRICE",
    TriggerSignal.LAST: "LAST_PRICE",
}
# openorders uses its own words for the signal (reference §3.2: mark|last|spot).
TRIGGER_SIGNAL_SHORT = {TriggerSignal.MARK: "mark", TriggerSignal.INDEX: "spot", TriggerSignal.LAST: "last"}


def triggers_above(order: SimOrder) -> bool:
    return (order.kind is OrderKind.STOP) == (order.side is Side.BUY)


def order_type_word(order: SimOrder, rev: OrderRevision) -> str:
    """OrderJson.type: mkt shows as the IOC Kraken runs it as; a triggered stop as the order it became."""
    if rev.kind.is_trigger:
        return "lmt" if rev.limit_price is not None else "ioc"
    if rev.kind is OrderKind.MARKET:
        return "ioc"
    return rev.kind.value


def shown_limit(order: SimOrder, rev: OrderRevision) -> Decimal | None:
    if rev.limit_price is not None:
        return rev.limit_price
    return order.protection_price


def order_json(order: SimOrder, rev: OrderRevision | None = None, *, as_text: bool = False) -> dict[str, Any]:
    rev = rev or order.revision()
    num = text if as_text else (lambda v: v)
    return {
        "orderId": order.order_id,
        "cliOrdId": order.client_order_id,
        "type": order_type_word(order, rev),
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": num(rev.quantity),
        "filled": num(rev.filled),
        "limitPrice": num(shown_limit(order, rev)),
        "reduceOnly": rev.reduce_only,
        "timestamp": iso(order.received_time),
        "lastUpdateTimestamp": iso(rev.time),
    }


def order_trigger_json(order: SimOrder, rev: OrderRevision | None = None) -> dict[str, Any]:
    rev = rev or order.revision()
    return {
        "uid": order.order_id,
        "clientId": order.client_order_id,
        "type": "lmt" if rev.limit_price is not None else "ioc",
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": rev.quantity,
        "limitPrice": rev.limit_price,
        "triggerPrice": rev.stop_price,
        "triggerSide": "trigger_above" if triggers_above(order) else "trigger_below",
        "triggerSignal": TRIGGER_SIGNAL[order.trigger_signal or TriggerSignal.MARK],
        "reduceOnly": rev.reduce_only,
        "timestamp": iso(order.received_time),
        "lastUpdateTimestamp": iso(rev.time),
        "startTime": None,
    }


def _placed_revision(order: SimOrder) -> OrderRevision:
    for entry in order.history:
        if entry.event in ("PLACED", "TRIGGER_PLACED"):
            return entry.after
    return order.revision()


def execution_event(fill: SimFill, order: SimOrder) -> dict[str, Any]:
    return {
        "type": "EXECUTION",
        "executionId": fill.fill_id,
        "price": fill.price,
        "amount": fill.size,
        "orderPriorEdit": order_json(order, fill.order_prior_edit) if fill.order_prior_edit else None,
        "orderPriorExecution": order_json(order, fill.order_before),
        "takerReducedQuantity": fill.taker_reduced_quantity,
    }


def reject_event(order: SimOrder) -> dict[str, Any]:
    return {"type": "REJECT", "uid": order.order_id, "order": order_json(order), "reason": order.error}


def cancel_event(order: SimOrder, *, as_text: bool = False) -> dict[str, Any]:
    if order.kind.is_trigger and not order.triggered:
        return {"type": "CANCEL", "uid": order.order_id, "orderTrigger": order_trigger_json(order)}
    return {"type": "CANCEL", "uid": order.order_id, "order": order_json(order, as_text=as_text)}


def order_events(result: SubmitResult) -> list[dict[str, Any]]:
    order = result.order
    if order is None:
        return []
    if order.state is SimOrderState.REJECTED:
        return [reject_event(order)]
    events: list[dict[str, Any]] = []
    if order.kind.is_trigger:
        events.append({"type": "PLACE", "orderTrigger": order_trigger_json(order, _placed_revision(order))})
    events.extend(execution_event(f, order) for f in result.fills)
    if not order.kind.is_trigger and (not result.fills or order.state.is_live):
        # Kraken lists a PLACE for an order that went on the book; an order filled at once shows only EXECUTIONs.
        events.append({"type": "PLACE", "order": order_json(order), "reducedQuantity": result.reduced_quantity})
    return events


def send_status(result: SubmitResult, received: datetime, client_order_id: str | None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if result.order is not None:
        status["order_id"] = result.order.order_id
    if client_order_id is not None:
        status["cliOrdId"] = client_order_id
    status["status"] = result.status
    status["receivedTime"] = iso(received)
    status["orderEvents"] = order_events(result)
    return status


def open_order_json(order: SimOrder) -> dict[str, Any]:
    row: dict[str, Any] = {"order_id": order.order_id}
    if order.client_order_id is not None:
        row["cliOrdId"] = order.client_order_id
    row["status"] = "untouched" if order.filled == 0 else "partiallyFilled"
    row["side"] = order.side.value
    if order.kind.is_trigger and not order.triggered:
        # SPEC enum says "stop" where its description says "stp"; the enum is what the server sends.
        row["orderType"] = "stop" if order.kind is OrderKind.STOP else "take_profit"
    else:
        row["orderType"] = "lmt"
    row["symbol"] = order.symbol
    if order.limit_price is not None:
        row["limitPrice"] = order.limit_price
    if order.kind.is_trigger and not order.triggered:
        row["stopPrice"] = order.stop_price
        row["triggerSignal"] = TRIGGER_SIGNAL_SHORT[order.trigger_signal or TriggerSignal.MARK]
    row["filledSize"] = order.filled
    row["unfilledSize"] = order.remaining
    row["reduceOnly"] = order.reduce_only
    row["lastUpdateTime"] = iso(order.last_update_time)
    row["receivedTime"] = iso(order.received_time)
    return row


ORDER_STATUS_WORD = {
    SimOrderState.TRIGGER_PLACED: "TRIGGER_PLACED",
    SimOrderState.OPEN: "ENTERED_BOOK",
    SimOrderState.PARTIALLY_FILLED: "ENTERED_BOOK",
    SimOrderState.FILLED: "FULLY_EXECUTED",
    SimOrderState.CANCELLED: "CANCELLED",
    SimOrderState.REJECTED: "REJECTED",
    SimOrderState.TRIGGER_FAILED: "TRIGGER_ACTIVATION_FAILURE",
}


def order_status_json(order: SimOrder) -> dict[str, Any]:
    is_trigger = order.kind.is_trigger and not order.triggered
    options = None
    if order.kind.is_trigger:
        options = {
            "triggerPrice": order.stop_price,
            "triggerSide": "TRIGGER_ABOVE" if triggers_above(order) else "TRIGGER_BELOW",
            "triggerSignal": TRIGGER_SIGNAL_UPPER[order.trigger_signal or TriggerSignal.MARK],
        }
    return {
        "order": {
            "type": "TRIGGER_ORDER" if is_trigger else "ORDER",
            "orderId": order.order_id,
            "cliOrdId": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": order.size,
            "filled": order.filled,
            "limitPrice": shown_limit(order, order.revision()),
            "reduceOnly": order.reduce_only,
            "timestamp": iso(order.received_time),
            "lastUpdateTimestamp": iso(order.last_update_time),
            "priceTriggerOptions": options,
            "triggerTime": iso(order.trigger_time) if order.trigger_time else None,
            "algoId": None,
        },
        "status": ORDER_STATUS_WORD[order.state],
        "updateReason": order.reason or None,
        "error": order.error,
    }


def fill_json(fill: SimFill) -> dict[str, Any]:
    row: dict[str, Any] = {
        "fill_id": fill.fill_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "order_id": fill.order_id,
    }
    if fill.client_order_id is not None:
        row["cliOrdId"] = fill.client_order_id
    row.update({"size": fill.size, "price": fill.price, "fillTime": iso(fill.time), "fillType": fill.fill_type.value})
    return row


def spring_error(status: int, error: str, path: str, request_id: str, now: datetime) -> dict[str, Any]:
    """The Spring Boot error body Kraken's backend answers malformed paths with (reference §5, ROQ fixture)."""
    return {"timestamp": iso(now), "path": path, "status": status, "error": error, "requestId": request_id}
