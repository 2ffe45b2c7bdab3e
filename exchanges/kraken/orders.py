"""Orders on the wire: ``OrderRequest`` -> sendorder parameters, and Kraken's order shapes -> value types.

Shapes (reference §3.2, §4, SPEC history): ``sendStatus``/``editStatus``/``cancelStatus`` with ``orderEvents``;
``orders/status`` ``orders[]``; ``openOrders[]``; ``fills[]``; history ``/orders`` and ``/triggers``
``elements[].event``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from exchanges.base import (
    CancelResult,
    EditAck,
    Fill,
    Liquidity,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    TriggerSignal,
)
from exchanges.errors import AmbiguousOutcome, OrderRejected
from exchanges.kraken import decoding as d
from exchanges.kraken.errors import Kind, MalformedResponse, Source, classify, is_known, to_exception

_ORDER_TYPES = {OrderType.MARKET: "mkt", OrderType.LIMIT: "lmt", OrderType.STOP: "stp"}
MAX_CLIENT_ORDER_ID = 100  # SPEC: cliOrdId maxLength 100
# Not Kraken's rule (its charset is undocumented) but ours: '+', '/', '=' and spaces survive signing only when
# percent-encoded, and one mis-encoded id would be an order we cannot look up.
_CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def _refuse(reason: str) -> OrderRejected:
    # "localValidation": refused before sending, so the order definitely did not reach Kraken.
    return OrderRejected("localValidation", f"refused before sending: {reason}")


def _positive(value: Decimal | None, name: str) -> Decimal:
    if value is None or not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise _refuse(f"{name} must be a positive finite Decimal, got {value!r}")
    return value


def send_order_params(request: OrderRequest) -> list[tuple[str, Any]]:
    """sendorder parameters, in a stable order. Raises ``OrderRejected('localValidation')`` on a bad request.

    Quantising to tick and step is the caller's job; we only guarantee no exponent notation reaches the wire.
    """
    cid = request.client_order_id
    if not cid or len(cid) > MAX_CLIENT_ORDER_ID or not _CLIENT_ORDER_ID.match(cid):
        raise _refuse(f"client order id must be 1-{MAX_CLIENT_ORDER_ID} characters of [A-Za-z0-9_-]")
    size = _positive(request.size, "size")
    params: list[tuple[str, Any]] = [
        ("orderType", _ORDER_TYPES[request.order_type]),
        ("symbol", request.symbol.upper()),
        ("side", request.side.value),
        ("size", size),
    ]
    if request.order_type is OrderType.MARKET:
        if request.limit_price is not None or request.stop_price is not None:
            raise _refuse("a market order takes no limit or stop price")
        if request.trigger_signal is not None:
            raise _refuse("only stops take a trigger signal")
    elif request.order_type is OrderType.LIMIT:
        if request.stop_price is not None or request.trigger_signal is not None:
            raise _refuse("a limit order takes no stop price or trigger signal")
        params.append(("limitPrice", _positive(request.limit_price, "limit price")))
    else:
        params.append(("stopPrice", _positive(request.stop_price, "stop price")))
        if request.limit_price is not None:
            # With limitPrice the trigger places a limit (worst fill price); without, a market order.
            params.append(("limitPrice", _positive(request.limit_price, "limit price")))
        # Kraken's default signal is undocumented; mark is the one a single print cannot trip.
        params.append(("triggerSignal", (request.trigger_signal or TriggerSignal.MARK).value))
    params.append(("reduceOnly", bool(request.reduce_only)))
    params.append(("cliOrdId", cid))
    if request.process_before is not None:
        params.append(("processBefore", deadline(request.process_before)))
    return params


def deadline(moment: datetime) -> str:
    """``processBefore`` on the wire: ISO-8601 UTC with milliseconds, like every Kraken timestamp. Truncated, never
    rounded up: a deadline sent earlier than asked is safe, one sent later is not."""
    if moment.tzinfo is None:
        raise _refuse("a deadline (process_before) must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def edit_order_params(
    *,
    client_order_id: str | None,
    exchange_order_id: str | None,
    size: Decimal | None,
    stop_price: Decimal | None,
    limit_price: Decimal | None,
    process_before: datetime | None,
) -> list[tuple[str, Any]]:
    """editorder parameters. ``size`` is the order's new total, so qtyMode is ABSOLUTE (Kraken's default, RELATIVE,
    reads it as the new open size: the same for an untouched stop, not for a partly filled order)."""
    if exchange_order_id:
        params: list[tuple[str, Any]] = [("orderId", exchange_order_id)]  # pitfall 7: orderId here, order_id on cancel
    elif client_order_id:
        params = [("cliOrdId", client_order_id)]
    else:
        raise _refuse("edit_order needs an exchange or client order id")
    if size is None and stop_price is None and limit_price is None:
        raise _refuse("edit_order needs a new size, stop price or limit price")
    if size is not None:
        params += [("size", _positive(size, "size")), ("qtyMode", "ABSOLUTE")]
    if limit_price is not None:
        params.append(("limitPrice", _positive(limit_price, "limit price")))
    if stop_price is not None:
        params.append(("stopPrice", _positive(stop_price, "stop price")))
    if process_before is not None:
        params.append(("processBefore", deadline(process_before)))
    return params


# -- sendorder / cancelorder answers ----------------------------------------------------------------------


def _events(status_obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    events = status_obj.get("orderEvents") or []
    if not isinstance(events, list):
        raise MalformedResponse("orderEvents is not a list")
    return [e for e in events if isinstance(e, Mapping)]


def _liquidity(fill_type: Any) -> Liquidity:
    text = str(fill_type or "").lower()
    if text == "maker":
        return Liquidity.MAKER
    if text in ("taker", "takerafteredit"):
        return Liquidity.TAKER
    return Liquidity.OTHER


def parse_send_status(body: Mapping[str, Any], request: OrderRequest) -> OrderAck:
    """The answer to sendorder: an ``OrderAck``, or the taxonomy exception for a non-acceptance."""
    ss = d.require_obj(body, "sendStatus", "sendorder")
    status = d.require_str(ss, "status", "sendStatus")
    events = _events(ss)
    kind = classify(Source.SEND_STATUS, status)
    if kind is Kind.ALREADY_EXISTS:
        raise to_exception(kind, status, order_call=True, client_order_id=request.client_order_id)
    if kind is not Kind.ACCEPTED:
        landed = [e.get("type") for e in events if e.get("type") in ("PLACE", "EXECUTION")]
        if landed and not is_known(Source.SEND_STATUS, status):
            # A word we have never seen next to evidence that the order exists: do not call it a rejection.
            raise AmbiguousOutcome(f"unknown sendStatus {status!r} with {landed} events", venue_code=status)
        reasons = [str(e.get("reason")) for e in events if e.get("type") == "REJECT" and e.get("reason")]
        raise OrderRejected(status, f"{status} ({', '.join(reasons)})" if reasons else status)
    return _ack(ss, body, request, status, events)


def _ack(
    ss: Mapping[str, Any],
    body: Mapping[str, Any],
    request: OrderRequest,
    status: str,
    events: Sequence[Mapping[str, Any]],
) -> OrderAck:
    order_id = d.require_str(ss, "order_id", "sendStatus")
    echoed = d.optional_str(ss, "cliOrdId")
    if echoed is not None and echoed != request.client_order_id:
        raise MalformedResponse(f"sendStatus echoes client id {echoed!r}, we sent {request.client_order_id!r}")
    received = d.optional_datetime(ss, "receivedTime", "sendStatus")
    fill_time = received or d.optional_datetime(body, "serverTime", "sendorder")
    fills: list[Fill] = []
    reduced: Decimal | None = None
    for index, event in enumerate(events):
        where = f"orderEvents[{index}]"
        kind = event.get("type")
        if kind == "PLACE":
            placed_reduction = d.optional_decimal(event, "reducedQuantity", where)
            reduced = placed_reduction if placed_reduction is not None else reduced
        elif kind == "EXECUTION":
            fills.append(
                _execution_fill(
                    event,
                    where,
                    order_id=order_id,
                    client_order_id=request.client_order_id,
                    fill_time=fill_time,
                    request=request,
                )
            )
            taker_reduction = d.optional_decimal(event, "takerReducedQuantity", where)
            reduced = taker_reduction if taker_reduction is not None else reduced
    return OrderAck(
        exchange_order_id=order_id,
        client_order_id=request.client_order_id,
        received_time=received,
        status=status,
        fills=tuple(fills),
        reduced_size=reduced,
    )


def _execution_fill(
    event: Mapping[str, Any],
    where: str,
    *,
    order_id: str,
    client_order_id: str | None,
    fill_time: datetime | None,
    request: OrderRequest | None = None,
) -> Fill:
    """A fill from an ``EXECUTION`` event of a sendorder/editorder answer (they carry no time of their own)."""
    if fill_time is None:
        raise MalformedResponse("an EXECUTION event without receivedTime or serverTime")
    order = event.get("orderPriorExecution") or {}
    return Fill(
        fill_id=d.require_str(event, "executionId", where),
        exchange_order_id=order_id,
        client_order_id=client_order_id,
        symbol=d.symbol(order.get("symbol") or (request.symbol if request else None), where),
        side=d.side(order.get("side") or (request.side.value if request else None), where),
        size=d.decimal_field(event, "amount", where),
        price=d.decimal_field(event, "price", where),
        time=fill_time,
        # An execution reported in the placement or edit answer is the incoming order taking liquidity.
        liquidity=Liquidity.TAKER,
    )


def parse_edit_status(body: Mapping[str, Any], client_order_id: str | None) -> EditAck:
    """The answer to editorder: an ``EditAck``, or the taxonomy exception for a non-acceptance."""
    es = d.require_obj(body, "editStatus", "editorder")
    status = d.require_str(es, "status", "editStatus")
    events = _events(es)
    kind = classify(Source.EDIT_STATUS, status)
    if kind is not Kind.ACCEPTED:
        applied = [e.get("type") for e in events if e.get("type") in ("EDIT", "EXECUTION")]
        if applied and not is_known(Source.EDIT_STATUS, status):
            # A word we have never seen next to evidence that the edit happened: do not call it a rejection.
            raise AmbiguousOutcome(f"unknown editStatus {status!r} with {applied} events", venue_code=status)
        raise to_exception(kind, status, order_call=True, message=f"editorder answered {status!r}")
    order_id = d.optional_str(es, "orderId") or d.require_str(es, "order_id", "editStatus")
    echoed = d.optional_str(es, "cliOrdId")
    if client_order_id is not None and echoed is not None and echoed != client_order_id:
        raise MalformedResponse(f"editStatus echoes client id {echoed!r}, we sent {client_order_id!r}")
    received = d.optional_datetime(es, "receivedTime", "editStatus")
    fill_time = received or d.optional_datetime(body, "serverTime", "editorder")
    edited: OrderStatus | None = None
    fills: list[Fill] = []
    for index, event in enumerate(events):
        where = f"orderEvents[{index}]"
        if event.get("type") == "EDIT" and isinstance(event.get("new"), Mapping):
            edited = _edited_order(event["new"], f"{where}.new")
        elif event.get("type") == "EXECUTION":
            fills.append(
                _execution_fill(
                    event, where, order_id=order_id, client_order_id=client_order_id or echoed, fill_time=fill_time
                )
            )
    if edited is not None and fills:
        # ``new`` is the order as edited, before the executions the edit caused (a stop moved through its trigger).
        filled = edited.filled_size + sum((f.size for f in fills), Decimal(0))
        state = OrderState.FILLED if filled >= edited.size else OrderState.PARTIALLY_FILLED
        edited = dataclasses.replace(edited, filled_size=filled, state=state)
    return EditAck(
        exchange_order_id=order_id,
        client_order_id=client_order_id or echoed,
        received_time=received,
        status=status,
        order=edited,
        fills=tuple(fills),
    )


def _edited_order(new: Mapping[str, Any], where: str) -> OrderStatus:
    """The ``new`` side of an EDIT event: an ``OrderTriggerJson`` for a resting stop, else an ``OrderJson``."""
    size = d.decimal_field(new, "quantity", where)
    if "triggerPrice" in new or "uid" in new:
        return OrderStatus(
            exchange_order_id=d.require_str(new, "uid", where),
            client_order_id=d.optional_str(new, "clientId"),
            symbol=d.symbol(d.require(new, "symbol", where), where),
            side=d.side(d.require(new, "side", where), where),
            order_type=OrderType.STOP,
            size=size,
            filled_size=Decimal(0),
            state=OrderState.OPEN,
            limit_price=d.optional_decimal(new, "limitPrice", where),
            stop_price=d.optional_decimal(new, "triggerPrice", where),
            trigger_signal=d.trigger_signal(new.get("triggerSignal"), where),
            reduce_only=bool(new.get("reduceOnly", False)),
            venue_status="edited",
            updated_time=d.optional_datetime(new, "lastUpdateTimestamp", where),
        )
    filled = d.optional_decimal(new, "filled", where) or Decimal(0)
    return OrderStatus(
        exchange_order_id=d.require_str(new, "orderId", where),
        client_order_id=d.optional_str(new, "cliOrdId"),
        symbol=d.symbol(d.require(new, "symbol", where), where),
        side=d.side(d.require(new, "side", where), where),
        order_type=order_type(d.require(new, "type", where), where),
        size=size,
        filled_size=filled,
        state=_state_from_fill(size, filled),
        limit_price=d.optional_decimal(new, "limitPrice", where),
        reduce_only=bool(new.get("reduceOnly", False)),
        venue_status="edited",
        updated_time=d.optional_datetime(new, "lastUpdateTimestamp", where),
    )


def parse_cancel_status(body: Mapping[str, Any]) -> CancelResult:
    cs = d.require_obj(body, "cancelStatus", "cancelorder")
    status = d.require_str(cs, "status", "cancelStatus")
    kind = classify(Source.CANCEL_STATUS, status)
    if kind is Kind.ACCEPTED:
        return CancelResult(cancelled=True, status=status)
    if kind is Kind.CANCEL_OUTCOME:
        return CancelResult(cancelled=False, status=status)
    raise to_exception(kind, status, order_call=True, message=f"cancelorder answered {status!r}")


# -- order lookups ---------------------------------------------------------------------------------------

# Kraken's order-type words across endpoints. Kraken runs a market order as an IOC limit with 1% protection, so
# ``ioc`` is read as MARKET (we never send ioc ourselves). Take-profit and trailing stops are trigger orders: STOP.
_VENUE_ORDER_TYPES = {
    "lmt": OrderType.LIMIT,
    "limit": OrderType.LIMIT,
    "post": OrderType.LIMIT,
    "order": OrderType.LIMIT,  # orders/status ``type: ORDER`` (no finer type is given there)
    "mkt": OrderType.MARKET,
    "market": OrderType.MARKET,
    "ioc": OrderType.MARKET,
    "fok": OrderType.MARKET,
    "stp": OrderType.STOP,
    "stop": OrderType.STOP,
    "take_profit": OrderType.STOP,
    "trailing_stop": OrderType.STOP,
    "trigger_order": OrderType.STOP,
}


def order_type(value: Any, where: str) -> OrderType:
    found = _VENUE_ORDER_TYPES.get(str(value).lower())
    if found is None:
        raise MalformedResponse(f"{where}: unknown order type {value!r}")
    return found


def _state_from_fill(size: Decimal, filled: Decimal) -> OrderState:
    if filled <= 0:
        return OrderState.OPEN
    return OrderState.FILLED if size > 0 and filled >= size else OrderState.PARTIALLY_FILLED


# orders/status ``status`` (SPEC enum + CCXT extras).
_STATUS_STATES = {
    "FULLY_EXECUTED": OrderState.FILLED,
    "CANCELLED": OrderState.CANCELLED,
    "REJECTED": OrderState.REJECTED,
    "TRIGGER_ACTIVATION_FAILURE": OrderState.REJECTED,
    "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
}
_STATUS_RESTING = ("ENTERED_BOOK", "TRIGGER_PLACED", "UNTOUCHED")


def parse_orders_status_entry(entry: Mapping[str, Any], where: str) -> OrderStatus:
    order = d.require_obj(entry, "order", where)
    venue_status = d.require_str(entry, "status", where)
    size = d.decimal_field(order, "quantity", f"{where}.order")
    filled = d.optional_decimal(order, "filled", f"{where}.order") or Decimal(0)
    if venue_status in _STATUS_STATES:
        state = _STATUS_STATES[venue_status]
    elif venue_status in _STATUS_RESTING:
        state = _state_from_fill(size, filled)
        if state is OrderState.FILLED:
            state = OrderState.PARTIALLY_FILLED  # still resting, so not done
    else:
        raise MalformedResponse(f"{where}: unknown order status {venue_status!r}")
    trigger = order.get("priceTriggerOptions") or {}
    is_trigger = str(order.get("type", "")).upper() == "TRIGGER_ORDER" or bool(trigger)
    return OrderStatus(
        exchange_order_id=d.require_str(order, "orderId", f"{where}.order"),
        client_order_id=d.optional_str(order, "cliOrdId"),
        symbol=d.symbol(d.require(order, "symbol", where), where),
        side=d.side(d.require(order, "side", where), where),
        order_type=OrderType.STOP if is_trigger else order_type(order.get("type", "lmt"), where),
        size=size,
        filled_size=filled,
        state=state,
        # CCXT #28110: limitPrice here is unreliable; kept for the audit trail, not for decisions.
        limit_price=d.optional_decimal(order, "limitPrice", where),
        stop_price=d.optional_decimal(trigger, "triggerPrice", where) if trigger else None,
        trigger_signal=d.trigger_signal(trigger.get("triggerSignal"), where) if trigger else None,
        reduce_only=bool(order.get("reduceOnly", False)),
        venue_status=venue_status,
        updated_time=d.optional_datetime(order, "lastUpdateTimestamp", where),
    )


def parse_open_order(row: Mapping[str, Any], where: str) -> OrderStatus:
    filled = d.optional_decimal(row, "filledSize", where) or Decimal(0)
    unfilled = d.decimal_field(row, "unfilledSize", where)
    venue_status = str(row.get("status") or "")
    return OrderStatus(
        exchange_order_id=d.require_str(row, "order_id", where),
        client_order_id=d.optional_str(row, "cliOrdId"),
        symbol=d.symbol(d.require(row, "symbol", where), where),
        side=d.side(d.require(row, "side", where), where),
        order_type=order_type(d.require(row, "orderType", where), where),
        size=filled + unfilled,
        filled_size=filled,
        # It is in the open-orders list, so it is resting whatever the status word says.
        state=OrderState.PARTIALLY_FILLED if filled > 0 else OrderState.OPEN,
        limit_price=d.optional_decimal(row, "limitPrice", where),
        stop_price=d.optional_decimal(row, "stopPrice", where),
        trigger_signal=d.trigger_signal(row.get("triggerSignal"), where),
        reduce_only=bool(row.get("reduceOnly", False)),
        venue_status=venue_status,
        updated_time=d.optional_datetime(row, "lastUpdateTime", where)
        or d.optional_datetime(row, "receivedTime", where),
    )


def parse_fill(row: Mapping[str, Any], where: str) -> Fill:
    return Fill(
        fill_id=d.require_str(row, "fill_id", where),
        exchange_order_id=d.require_str(row, "order_id", where),
        client_order_id=d.optional_str(row, "cliOrdId"),
        symbol=d.symbol(d.require(row, "symbol", where), where),
        side=d.side(d.require(row, "side", where), where),
        size=d.decimal_field(row, "size", where),
        price=d.decimal_field(row, "price", where),
        time=d.to_datetime(d.require(row, "fillTime", where), f"{where}.fillTime"),
        liquidity=_liquidity(row.get("fillType")),
    )


def status_from_fills(client_order_id: str, fills: Sequence[Fill]) -> OrderStatus:
    """What the fills alone say about an order that is no longer open: it landed and filled this much.

    The order's own size and type are not in the fills: size is the filled total, and the type is inferred
    (all taker -> MARKET, else LIMIT). ``venue_status`` says so, for the audit trail.
    """
    ordered = sorted(fills, key=lambda f: f.time)
    total = sum((f.size for f in ordered), Decimal(0))
    all_taker = all(f.liquidity is Liquidity.TAKER for f in ordered)
    return OrderStatus(
        exchange_order_id=ordered[0].exchange_order_id,
        client_order_id=client_order_id,
        symbol=ordered[0].symbol,
        side=ordered[0].side,
        order_type=OrderType.MARKET if all_taker else OrderType.LIMIT,
        size=total,
        filled_size=total,
        state=OrderState.FILLED,
        venue_status="filled (from fills)",
        updated_time=ordered[-1].time,
    )


# -- history /orders and /triggers -----------------------------------------------------------------------

_ORDER_EVENTS = {  # event name -> (key holding the order, state or None for "from quantities")
    "OrderPlaced": ("order", None),
    "OrderUpdated": ("newOrder", None),
    "OrderCancelled": ("order", OrderState.CANCELLED),
    "OrderRejected": ("order", OrderState.REJECTED),
    "OrderEditRejected": ("oldOrder", None),
}
_TRIGGER_EVENTS = {
    "OrderTriggerPlaced": ("order", OrderState.OPEN),
    "OrderTriggerUpdated": ("newOrderTrigger", OrderState.OPEN),
    "OrderTriggerEditRejected": ("oldOrderTrigger", OrderState.OPEN),
    "OrderTriggerCancelled": ("order", OrderState.CANCELLED),
    # Fired: the stop became an order. If that order had filled, the fills step would have found it; until it
    # shows up elsewhere, the honest answer is "it exists and is working".
    "OrderTriggerActivated": ("order", OrderState.OPEN),
}


def history_order_status(elements: Iterable[Any], client_order_id: str, *, triggers: bool) -> OrderStatus | None:
    """The latest history event of the order with this ``clientId``, as an ``OrderStatus``; None if absent.

    ``elements`` must be newest first (``sort=desc``): events in the same millisecond (a market order placed and
    filled at once) are told apart only by their order in the list.
    """
    table = _TRIGGER_EVENTS if triggers else _ORDER_EVENTS
    best: tuple[datetime, OrderStatus] | None = None
    for index, element in enumerate(elements):
        where = f"history elements[{index}]"
        event = element.get("event") if isinstance(element, Mapping) else None
        if not isinstance(event, Mapping):
            continue
        for name, payload in event.items():
            if name not in table or not isinstance(payload, Mapping):
                continue
            key, fixed_state = table[name]
            order = payload.get(key)
            if not isinstance(order, Mapping) or order.get("clientId") != client_order_id:
                continue
            when = d.to_datetime(element.get("timestamp") or order.get("lastUpdateTimestamp"), f"{where}.timestamp")
            status = _history_order(order, name, fixed_state, client_order_id, triggers=triggers, where=where)
            if best is None or when > best[0]:  # elements come newest first: on a tie the first seen wins
                best = (when, status)
    return best[1] if best else None


def _history_order(
    order: Mapping[str, Any],
    event_name: str,
    fixed_state: OrderState | None,
    client_order_id: str,
    *,
    triggers: bool,
    where: str,
) -> OrderStatus:
    size = d.decimal_field(order, "quantity", where)
    filled = d.optional_decimal(order, "filled", where) or Decimal(0)
    state = fixed_state or _state_from_fill(size, filled)
    options = order.get("triggerOptions") or {}
    return OrderStatus(
        exchange_order_id=d.require_str(order, "uid", where),
        client_order_id=client_order_id,
        symbol=d.symbol(d.require(order, "tradeable", where), where),
        side=d.side(d.require(order, "direction", where), where),
        order_type=OrderType.STOP if triggers else order_type(d.require(order, "orderType", where), where),
        size=size,
        filled_size=filled,
        state=state,
        limit_price=d.optional_decimal(order, "limitPrice", where),
        stop_price=d.optional_decimal(options, "triggerPrice", where) if options else None,
        trigger_signal=d.trigger_signal(options.get("triggerSignal"), where) if options else None,
        reduce_only=bool(order.get("reduceOnly", False)),
        venue_status=event_name,
        updated_time=d.optional_datetime(order, "lastUpdateTimestamp", where),
    )
