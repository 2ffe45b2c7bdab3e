"""Order management: sendorder, editorder, cancelorder, cancelallorders, cancelallordersafter and batchorder."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from exchanges.fake.api.endpoints import Call
from exchanges.fake.api.envelope import Reply, classic_error, success
from exchanges.fake.api.params import (
    ParamError,
    decimal_param,
    json_getter,
    parse_order,
    process_before_param,
)
from exchanges.fake.api.venue import Area
from exchanges.fake.wire import cancel_event, execution_event, iso, order_json, order_trigger_json, send_status
from exchanges.sim.model import EditOutcome, SimOrder, SimOrderRequest
from exchanges.sim.vocabulary import Status


class OrderApi(Area):
    def sendorder(self, call: Call) -> Reply:
        get = call.request.one
        process_before = process_before_param(get)
        order_request = parse_order(get, self.venue)
        if process_before is not None and call.now > process_before:
            status = _late_status(order_request.client_order_id, call.now)
            return success(call.now, sendStatus=status)
        result = self.engine.submit(call.account_id, order_request, now=call.now)
        return success(call.now, sendStatus=send_status(result, call.now, order_request.client_order_id))

    def forced_rejection(self, endpoint: str, call: Call, status: str) -> Reply:
        """A rejection from the `reject` fault: the venue's answer shape, nothing applied."""
        if endpoint == "editorder":
            order_id = call.request.one("orderId")
            body: dict[str, Any] = {"status": status, "orderId": order_id}
            if call.request.one("cliOrdId"):
                body["cliOrdId"] = call.request.one("cliOrdId")
            body.update({"receivedTime": iso(call.now), "orderEvents": []})
            return success(call.now, editStatus=body)
        send: dict[str, Any] = {}
        if call.request.one("cliOrdId"):
            send["cliOrdId"] = call.request.one("cliOrdId")
        send.update({"status": status, "receivedTime": iso(call.now), "orderEvents": []})
        return success(call.now, sendStatus=send)

    def editorder(self, call: Call) -> Reply:
        get = call.request.one
        order_id, client_id = get("orderId"), get("cliOrdId")
        if order_id is None and client_id is None:
            raise ParamError("missing", "orderId")
        process_before = process_before_param(get)
        size = decimal_param(get, "size")
        limit_price = decimal_param(get, "limitPrice")
        stop_price = decimal_param(get, "stopPrice")
        qty_mode = get("qtyMode") or "RELATIVE"
        if qty_mode not in ("ABSOLUTE", "RELATIVE"):
            raise ParamError("invalid", "qtyMode")
        if process_before is not None and call.now > process_before:
            outcome = EditOutcome(status=Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME, order=None)
        else:
            outcome = self.engine.edit(
                call.account_id,
                order_id=order_id,
                client_order_id=None if order_id else client_id,
                size=size,
                limit_price=limit_price,
                stop_price=stop_price,
                absolute=qty_mode == "ABSOLUTE",
                now=call.now,
            )
        return success(call.now, editStatus=self._edit_status(outcome, order_id, client_id, call.now))

    def _edit_status(
        self, outcome: EditOutcome, order_id: str | None, client_id: str | None, now: datetime
    ) -> dict[str, Any]:
        order = outcome.order
        body: dict[str, Any] = {
            "status": outcome.status,
            "orderId": order.order_id if order else order_id,
        }
        if order is not None and order.client_order_id is not None:
            body["cliOrdId"] = order.client_order_id
        elif client_id is not None:
            body["cliOrdId"] = client_id
        body["receivedTime"] = iso(now)
        events: list[dict[str, Any]] = []
        if outcome.status == Status.EDITED and order is not None and outcome.before is not None:
            edited = next(e.after for e in reversed(order.history) if e.event == "EDITED")
            render = order_trigger_json if (order.kind.is_trigger and not outcome.before.triggered) else order_json
            events.append(
                {
                    "type": "EDIT",
                    "old": render(order, outcome.before),
                    "new": render(order, edited),
                    "reducedQuantity": outcome.reduced_quantity,
                }
            )
            events.extend(execution_event(f, order) for f in outcome.fills)
        body["orderEvents"] = events
        return body

    def cancelorder(self, call: Call) -> Reply:
        get = call.request.one
        order_id, client_id = get("order_id"), get("cliOrdId")
        process_before = process_before_param(get)
        if order_id is None and client_id is None:
            raise ParamError("missing", "order_id")
        if process_before is not None and call.now > process_before:
            return success(
                call.now,
                cancelStatus={"status": Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME, "receivedTime": iso(call.now)},
            )
        outcome = self.engine.cancel(
            call.account_id, order_id=order_id, client_order_id=None if order_id else client_id, now=call.now
        )
        return success(call.now, cancelStatus=_cancel_status(outcome.status, outcome.order, client_id, call.now))

    def cancelallorders(self, call: Call) -> Reply:
        raw = call.request.one("symbol")
        symbol = self.venue.symbol(raw) if raw else None
        cancelled = [] if raw and symbol is None else self.engine.cancel_all(call.account_id, symbol, now=call.now)
        status = {
            "receivedTime": iso(call.now),
            "cancelOnly": symbol or raw or "all",
            "status": Status.CANCELLED if cancelled else Status.NO_ORDERS_TO_CANCEL,
            "cancelledOrders": [_order_id_element(o) for o in cancelled],
            # The 2024 CCXT sample of this response carries its numbers as strings.
            "orderEvents": [cancel_event(o, as_text=True) for o in cancelled],
        }
        return success(call.now, cancelStatus=status)

    def cancelallordersafter(self, call: Call) -> Reply:
        raw = call.request.one("timeout") or "0"
        if not raw.isdigit():
            raise ParamError("invalid", "timeout")
        timeout = int(raw)
        if timeout == 0:
            self.venue.dead_man.pop(call.account_id, None)
            trigger = "0"
        else:
            deadline = call.now + timedelta(seconds=timeout)
            self.venue.dead_man[call.account_id] = deadline
            trigger = iso(deadline)
        return success(call.now, status={"currentTime": iso(call.now), "triggerTime": trigger})

    def batchorder(self, call: Call) -> Reply:
        raw = call.request.one("json")
        if raw is None:
            raise ParamError("missing", "json")
        try:
            payload = json.loads(raw, parse_float=Decimal)
            instructions = payload["batchOrder"]
            if not isinstance(instructions, list) or not all(isinstance(i, dict) for i in instructions):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return classic_error("Json Parse Error", call.now)
        process_before = process_before_param(call.request.one)
        late = process_before is not None and call.now > process_before

        # Kraken validates the whole batch before acting on any of it: a malformed value refuses the request.
        planned: list[tuple[str, dict[str, Any], SimOrderRequest | None, str | None]] = []
        for item in instructions:
            get = json_getter(item)
            kind = get("order")
            if kind not in ("send", "edit", "cancel"):
                raise ParamError("invalid", "order")
            order_request: SimOrderRequest | None = None
            problem: str | None = None
            if kind == "send":
                try:
                    if get("order_tag") is None:
                        raise ParamError("missing", "order_tag")
                    order_request = parse_order(get, self.venue)
                except ParamError as error:
                    if error.problem != "missing":
                        raise
                    problem = "requiredArgumentMissing"
            planned.append((kind, item, order_request, problem))

        results = []
        for kind, item, order_request, problem in planned:
            get = json_getter(item)
            if kind == "send":
                element: dict[str, Any] = {"order_tag": get("order_tag")}
                if problem or late or order_request is None:
                    element["status"] = problem or Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME
                    element["orderEvents"] = []
                else:
                    result = self.engine.submit(call.account_id, order_request, now=call.now)
                    status = send_status(result, call.now, order_request.client_order_id)
                    element.update(status)
                    element["dateTimeReceived"] = element.pop("receivedTime")
                results.append(element)
            elif kind == "edit":
                order_id, client_id = get("order_id") or get("orderId"), get("cliOrdId")
                qty_mode = get("qtyMode") or "RELATIVE"
                outcome = self.engine.edit(
                    call.account_id,
                    order_id=order_id,
                    client_order_id=None if order_id else client_id,
                    size=decimal_param(get, "size"),
                    limit_price=decimal_param(get, "limitPrice"),
                    stop_price=decimal_param(get, "stopPrice"),
                    absolute=qty_mode == "ABSOLUTE",
                    now=call.now,
                )
                status = self._edit_status(outcome, order_id, client_id, call.now)
                element = {"status": status["status"], "order_id": status["orderId"]}
                element["orderEvents"] = status["orderEvents"]
                results.append(element)
            else:
                order_id, client_id = get("order_id"), get("cliOrdId")
                cancel = self.engine.cancel(
                    call.account_id, order_id=order_id, client_order_id=None if order_id else client_id, now=call.now
                )
                element = {"status": cancel.status}
                if order_id:
                    element["order_id"] = order_id
                elif client_id:
                    element["cliOrdId"] = client_id
                element["orderEvents"] = [cancel_event(cancel.order)] if cancel.status == Status.CANCELLED else []
                results.append(element)
        return success(call.now, batchStatus=results)


def _late_status(client_order_id: str | None, now: datetime) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if client_order_id is not None:
        status["cliOrdId"] = client_order_id
    status.update({"status": Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME, "receivedTime": iso(now), "orderEvents": []})
    return status


def _cancel_status(status: str, order: SimOrder | None, client_id: str | None, now: datetime) -> dict[str, Any]:
    if status == Status.NOT_FOUND or order is None:
        return {"status": status, "receivedTime": iso(now)}
    body: dict[str, Any] = {"status": status, "order_id": order.order_id}
    if order.client_order_id is not None:
        body["cliOrdId"] = order.client_order_id
    elif client_id is not None:
        body["cliOrdId"] = client_id
    body["receivedTime"] = iso(now)
    body["orderEvents"] = [cancel_event(order)] if status == Status.CANCELLED else []
    return body


def _order_id_element(order: SimOrder) -> dict[str, Any]:
    element: dict[str, Any] = {"order_id": order.order_id}
    if order.client_order_id is not None:
        element["cliOrdId"] = order.client_order_id
    return element
