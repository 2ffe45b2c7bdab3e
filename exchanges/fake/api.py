"""Kraken Futures' REST endpoints over the simulation engine: parameters in, Kraken-shaped replies out.

Transport-free (the HTTP server in ``server.py`` parses bytes, authenticates and applies faults); every handler
takes a parsed ``Request`` plus the calling account and answers a ``Reply``. Error envelopes (reference §5):

* rejections of an order are HTTP 200 ``result: success`` with the word in ``sendStatus.status``;
* a missing argument is the classic ``{"result":"error","error":"requiredArgumentMissing"}`` (HTTP 200);
* a value of the wrong shape is the structured HTTP 400 ``{"status":"BAD_REQUEST", "errors":[{"code":11,
  "message":"Argument invalid: <name>"}]}``;
* an unknown market on an order is the classic ``invalidArgument`` (Kraken documents no sendStatus for it).
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from exchanges.base import Side, TriggerSignal
from exchanges.fake import history
from exchanges.fake.auth import ApiKey
from exchanges.fake.instruments import trade_precision
from exchanges.fake.ratelimit import account_log_cost
from exchanges.fake.wire import (
    cancel_event,
    dumps,
    execution_event,
    fill_json,
    iso,
    open_order_json,
    order_json,
    order_status_json,
    order_trigger_json,
    send_status,
    text,
)
from exchanges.sim.engine import SimEngine
from exchanges.sim.model import EditOutcome, SimFill, SimOrder, SimOrderRequest
from exchanges.sim.vocabulary import OrderKind, Reason, Status

ZERO = Decimal(0)
ORDER_TYPES = {k.value: k for k in OrderKind}
TRIGGER_SIGNALS = {
    "mark": TriggerSignal.MARK,
    "index": TriggerSignal.INDEX,
    # python-kraken-sdk validates mark|spot|last (reference §3.1); Kraken's own spec says index. Accept both.
    "spot": TriggerSignal.INDEX,
    "last": TriggerSignal.LAST,
}


# -- request / reply ---------------------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str  # as it arrived, without the query string
    query: str  # raw, without "?"
    body: bytes
    headers: dict[str, str]  # lower-cased names
    params: dict[str, list[str]]  # query and form body merged, repeated keys kept
    path_args: dict[str, str] = field(default_factory=dict)

    def one(self, name: str) -> str | None:
        values = self.params.get(name)
        if not values or values[0] == "":
            return None
        return values[0]

    def many(self, name: str) -> list[str]:
        # Repeated keys (orderIds=a&orderIds=b) are the documented form; comma-joined is what kraken-cli sends.
        return [part for value in self.params.get(name, []) for part in value.split(",") if part]

    @property
    def post_data(self) -> bytes:
        return self.query.encode("latin-1") + self.body


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, body=dumps(obj).encode(), headers=headers or {})


class ApiError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def success(now: datetime, **fields: Any) -> Reply:
    return Reply.json({"result": "success", **fields, "serverTime": iso(now)})


def classic_error(code: str, now: datetime, status: int = 200) -> Reply:
    return Reply.json({"result": "error", "serverTime": iso(now), "error": code}, status=status)


def bad_request(name: str, now: datetime) -> Reply:
    body = {
        "status": "BAD_REQUEST",
        "result": "error",
        "errors": [{"code": 11, "message": f"Argument invalid: {name}"}],
        "serverTime": iso(now),
    }
    return Reply.json(body, status=400)


def structured_error(status: int, label: str, code: int, message: str, now: datetime) -> Reply:
    body = {"status": label, "result": "error", "errors": [{"code": code, "message": message}], "serverTime": iso(now)}
    return Reply.json(body, status=status)


UNAUTHORIZED = {"reason": "You are not authorized to access this endpoint.", "status": "unauthorized"}


# -- parameter parsing -------------------------------------------------------------------------------------------------


class ParamError(Exception):
    def __init__(self, problem: str, name: str) -> None:
        super().__init__(f"{problem}: {name}")
        self.problem = problem  # "missing", "invalid", "unknown_market"
        self.name = name


Getter = Callable[[str], "str | None"]


def _decimal(get: Getter, name: str, *, required: bool = False) -> Decimal | None:
    raw = get(name)
    if raw is None:
        if required:
            raise ParamError("missing", name)
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ParamError("invalid", name) from None
    if not value.is_finite():
        raise ParamError("invalid", name)
    return value


def _boolean(get: Getter, name: str, default: bool = False) -> bool:
    raw = get(name)
    if raw is None:
        return default
    # python-kraken-sdk sends Python's urlencode of True, "True" (reference pitfall 14); Kraken accepted it.
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ParamError("invalid", name)


def _process_before(get: Getter) -> datetime | None:
    raw = get("processBefore")
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "T"))
    except ValueError:
        raise ParamError("invalid", "processBefore") from None
    if value.tzinfo is None:
        raise ParamError("invalid", "processBefore")
    return value


def parse_order(get: Getter, venue: Venue) -> SimOrderRequest:
    order_type = get("orderType")
    if order_type is None:
        raise ParamError("missing", "orderType")
    kind = ORDER_TYPES.get(order_type)
    if kind is None:
        # trailing_stop and fok are not simulated; Kraken's demo itself answered trailing_stop with a 400
        # "invalid order type" (reference pitfall 16).
        raise ParamError("invalid", "orderType")
    raw_symbol = get("symbol")
    if raw_symbol is None:
        raise ParamError("missing", "symbol")
    side_word = get("side")
    if side_word is None:
        raise ParamError("missing", "side")
    if side_word not in ("buy", "sell"):
        raise ParamError("invalid", "side")
    size = _decimal(get, "size", required=True)
    limit_price = _decimal(get, "limitPrice", required=kind in (OrderKind.LIMIT, OrderKind.POST, OrderKind.IOC))
    stop_price = _decimal(get, "stopPrice", required=kind.is_trigger)
    signal_word = get("triggerSignal")
    signal = TriggerSignal.MARK
    if signal_word is not None:
        if signal_word not in TRIGGER_SIGNALS:
            raise ParamError("invalid", "triggerSignal")
        signal = TRIGGER_SIGNALS[signal_word]
    for unsupported in ("limitPriceOffsetValue", "limitPriceOffsetUnit", "trailingStopMaxDeviation"):
        if get(unsupported) is not None:
            raise ParamError("invalid", unsupported)
    reduce_only = _boolean(get, "reduceOnly")
    symbol = venue.symbol(raw_symbol)
    if symbol is None:
        raise ParamError("unknown_market", "symbol")
    assert size is not None
    return SimOrderRequest(
        symbol=symbol,
        side=Side(side_word),
        size=size,
        kind=kind,
        client_order_id=get("cliOrdId"),
        limit_price=limit_price,
        stop_price=stop_price,
        trigger_signal=signal,
        reduce_only=reduce_only,
    )


def param_reply(error: ParamError, now: datetime) -> Reply:
    if error.problem == "missing":
        return classic_error("requiredArgumentMissing", now)
    if error.problem == "unknown_market":
        return classic_error("invalidArgument", now)
    return bad_request(error.name, now)


# -- the venue: engine plus what Kraken keeps outside the matching engine ---------------------------------------------


class Venue:
    def __init__(self, engine: SimEngine, *, order_status_window: float | None = 5.0) -> None:
        self.engine = engine
        self.keys: dict[str, ApiKey] = {}
        self.key_created: dict[str, datetime] = {}
        self.leverage: dict[str, dict[str, Decimal]] = {}
        self.pnl_currency: dict[str, dict[str, str]] = {}
        self.dead_man: dict[str, datetime] = {}
        # orders/status only covers open orders and those finished in the last 5 s (reference pitfall 11).
        self.order_status_window = order_status_window

    def symbol(self, raw: str) -> str | None:
        # Kraken echoes symbols in either case and accepts lower-case ones (CCXT sends pf_ltcusd).
        wanted = raw.upper()
        return wanted if wanted in self.engine.state.instruments else None

    def housekeeping(self, now: datetime) -> None:
        for account_id, deadline in list(self.dead_man.items()):
            if now >= deadline:
                del self.dead_man[account_id]
                self.engine.cancel_all(account_id, now=now, reason=Reason.DEAD_MAN_SWITCH)


# -- endpoints --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str  # what faults and call counts are keyed by
    family: str  # "derivatives", "history" or "auth"
    methods: frozenset[str]
    access: str  # "public", "read" or "full"
    handler: str
    cost: int | Callable[[Request], int] = 0
    write_access: str = "full"  # for PUT on the preference endpoints

    def access_for(self, method: str) -> str:
        return self.write_access if method == "PUT" else self.access

    def cost_of(self, request: Request) -> int:
        return self.cost(request) if callable(self.cost) else self.cost


def _fills_cost(request: Request) -> int:
    return 25 if request.one("lastFillTime") else 2


def _batch_cost(request: Request) -> int:
    try:
        return 9 + len(json.loads(request.one("json") or "")["batchOrder"])
    except (ValueError, KeyError, TypeError):
        return 9


def _preference_cost(request: Request) -> int:
    return 10 if request.method == "PUT" else 2


def _account_log_cost(request: Request) -> int:
    try:
        return account_log_cost(int(request.one("count") or 500))
    except ValueError:
        return 1


GET = frozenset({"GET"})
POST = frozenset({"POST"})
GET_POST = frozenset({"GET", "POST"})
GET_PUT = frozenset({"GET", "PUT"})

DERIVATIVES = {
    e.name: e
    for e in (
        Endpoint("sendorder", "derivatives", POST, "full", "sendorder", 10),
        Endpoint("editorder", "derivatives", POST, "full", "editorder", 10),
        Endpoint("cancelorder", "derivatives", POST, "full", "cancelorder", 10),
        Endpoint("cancelallorders", "derivatives", POST, "full", "cancelallorders", 25),
        Endpoint("cancelallordersafter", "derivatives", POST, "full", "cancelallordersafter", 25),
        Endpoint("batchorder", "derivatives", POST, "full", "batchorder", _batch_cost),
        Endpoint("openorders", "derivatives", GET, "read", "openorders", 2),
        # SPEC: POST with a full-access key (PKS's docstring says read-only; CCXT calls it with GET).
        Endpoint("orders/status", "derivatives", GET_POST, "full", "orders_status", 1),
        Endpoint("openpositions", "derivatives", GET, "read", "openpositions", 2),
        Endpoint("fills", "derivatives", GET, "read", "fills", _fills_cost),
        Endpoint("accounts", "derivatives", GET, "read", "accounts", 2),
        Endpoint("leveragepreferences", "derivatives", GET_PUT, "read", "leveragepreferences", _preference_cost),
        Endpoint("pnlpreferences", "derivatives", GET_PUT, "read", "pnlpreferences", _preference_cost),
        Endpoint("instruments", "derivatives", GET, "public", "instruments"),
        Endpoint("instruments/status", "derivatives", GET, "public", "instruments_status"),
        Endpoint("instruments/{symbol}/status", "derivatives", GET, "public", "instrument_status"),
        Endpoint("tickers", "derivatives", GET, "public", "tickers"),
        Endpoint("tickers/{symbol}", "derivatives", GET, "public", "ticker"),
        Endpoint("orderbook", "derivatives", GET, "public", "orderbook"),
    )
}
HISTORY = {
    e.name: e
    for e in (
        Endpoint("account-log", "history", GET, "read", "account_log", _account_log_cost),
        Endpoint("accountlogcsv", "history", GET, "read", "account_log_csv", 6),
        Endpoint("executions", "history", GET, "read", "history_executions", 1),
        Endpoint("orders", "history", GET, "read", "history_orders", 1),
        Endpoint("triggers", "history", GET, "read", "history_triggers", 1),
        Endpoint("positions", "history", GET, "read", "history_positions", 1),
    )
}
KEY_CHECK = Endpoint("api-keys/v3/check", "auth", GET, "none", "api_key_check")
ENDPOINT_NAMES = frozenset({*DERIVATIVES, *HISTORY, KEY_CHECK.name})

_TICKER = re.compile(r"^tickers/([^/]+)$")
_INSTRUMENT_STATUS = re.compile(r"^instruments/([^/]+)/status$")
_HISTORY = re.compile(r"^/api/history/v[23]/(.+)$")


def route(path: str) -> tuple[Endpoint, dict[str, str]] | None:
    if path.startswith("/derivatives/api/v3/"):
        rest = path.removeprefix("/derivatives/api/v3/").rstrip("/")
        if rest in DERIVATIVES and "{" not in rest:
            return DERIVATIVES[rest], {}
        if (m := _INSTRUMENT_STATUS.match(rest)) and m.group(1) != "status":
            return DERIVATIVES["instruments/{symbol}/status"], {"symbol": m.group(1)}
        if m := _TICKER.match(rest):
            return DERIVATIVES["tickers/{symbol}"], {"symbol": m.group(1)}
        return None
    if m := _HISTORY.match(path):
        endpoint = HISTORY.get(m.group(1).rstrip("/"))
        return (endpoint, {}) if endpoint else None
    if path.rstrip("/") == "/api/auth/v1/api-keys/v3/check":
        return KEY_CHECK, {}
    return None


def normalise_endpoint(name: str) -> str:
    """Accept an endpoint as a name ("sendorder") or as a path ("/derivatives/api/v3/sendorder")."""
    for prefix in ("/derivatives/api/v3/", "/api/history/v3/", "/api/history/v2/", "history/", "/api/auth/v1/"):
        if name.startswith(prefix):
            name = name.removeprefix(prefix)
            break
    if name != "*" and name not in ENDPOINT_NAMES:
        raise ValueError(f"unknown endpoint {name!r}; one of {sorted(ENDPOINT_NAMES)} or '*'")
    return name


@dataclass
class Call:
    request: Request
    now: datetime
    api_key: ApiKey | None

    @property
    def account_id(self) -> str:
        assert self.api_key is not None
        return self.api_key.account_id


class _SymbolFills:
    __slots__ = ("fills", "ordered", "quote", "start", "summed_to", "times", "volume")

    def __init__(self) -> None:
        self.fills: list[SimFill] = []
        self.times: list[datetime] = []
        self.ordered = True  # times never decrease along the list
        self.start = -1  # the running sums cover fills[start:summed_to]
        self.summed_to = 0
        self.volume = ZERO
        self.quote = ZERO


class DayStats:
    """Each symbol's fills of the last 24 hours (last fill, volume, quote volume) for the tickers, without
    rescanning every fill of every symbol on each request.

    The engine's fill list only grows, so each new fill is indexed once, under its symbol. While a symbol's fill
    times are in order (the clock did not step back), its window is a suffix of that index, found by bisection;
    its sums are carried forward by adding the new fills in order - the very additions, in the very order, that
    summing the window afresh performs - and recomputed when the window's start moves. Fills out of time order, or
    a different fill list, fall back to filtering as a full scan would."""

    def __init__(self) -> None:
        self._source: list[SimFill] | None = None
        self._seen = 0
        self._symbols: dict[str, _SymbolFills] = {}

    def of(self, fills: list[SimFill], symbol: str, cutoff: datetime) -> tuple[SimFill | None, Decimal, Decimal]:
        """Like ``day = [f for f in fills if f.symbol == symbol and f.time >= cutoff]``: its last fill (or None),
        ``sum(size)`` and ``sum(size * price)``, both starting from ZERO."""
        if fills is not self._source or len(fills) < self._seen:
            self._source, self._seen, self._symbols = fills, 0, {}
        for fill in itertools.islice(fills, self._seen, None):
            entry = self._symbols.get(fill.symbol)
            if entry is None:
                entry = self._symbols[fill.symbol] = _SymbolFills()
            if entry.times and fill.time < entry.times[-1]:
                entry.ordered = False
            entry.fills.append(fill)
            entry.times.append(fill.time)
        self._seen = len(fills)
        entry = self._symbols.get(symbol)
        if entry is None:
            return None, ZERO, ZERO
        if not entry.ordered:
            day = [f for f in entry.fills if f.time >= cutoff]
            volume = sum((f.size for f in day), ZERO)
            return (day[-1] if day else None), volume, sum((f.size * f.price for f in day), ZERO)
        start = bisect.bisect_left(entry.times, cutoff)
        if start != entry.start:
            entry.start, entry.volume, entry.quote, summed = start, ZERO, ZERO, start
        else:
            summed = entry.summed_to
        for fill in itertools.islice(entry.fills, summed, None):
            entry.volume = entry.volume + fill.size
            entry.quote = entry.quote + fill.size * fill.price
        entry.summed_to = len(entry.fills)
        return (entry.fills[-1] if start < len(entry.fills) else None), entry.volume, entry.quote


class KrakenApi:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self._day_stats = DayStats()

    @property
    def engine(self) -> SimEngine:
        return self.venue.engine

    def handle(self, endpoint: Endpoint, call: Call) -> Reply:
        try:
            return getattr(self, endpoint.handler)(call)
        except ParamError as error:
            return param_reply(error, call.now)
        except history.BadParam as error:
            return bad_request(error.name, call.now)
        except ApiError as error:
            return error.reply

    # -- order management ---------------------------------------------------------------------------------------

    def sendorder(self, call: Call) -> Reply:
        get = call.request.one
        process_before = _process_before(get)
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
        process_before = _process_before(get)
        size = _decimal(get, "size")
        limit_price = _decimal(get, "limitPrice")
        stop_price = _decimal(get, "stopPrice")
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
        process_before = _process_before(get)
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
        process_before = _process_before(call.request.one)
        late = process_before is not None and call.now > process_before

        # Kraken validates the whole batch before acting on any of it: a malformed value refuses the request.
        planned: list[tuple[str, dict[str, Any], SimOrderRequest | None, str | None]] = []
        for item in instructions:
            get = _json_getter(item)
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
            get = _json_getter(item)
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
                    size=_decimal(get, "size"),
                    limit_price=_decimal(get, "limitPrice"),
                    stop_price=_decimal(get, "stopPrice"),
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

    # -- order and position lookups ----------------------------------------------------------------------------

    def openorders(self, call: Call) -> Reply:
        orders = sorted(self.engine.open_orders(call.account_id), key=lambda o: (o.received_time, o.seq), reverse=True)
        return success(call.now, openOrders=[open_order_json(o) for o in orders])

    def orders_status(self, call: Call) -> Reply:
        found: list[SimOrder] = []
        for order_id in call.request.many("orderIds"):
            order = self.engine.order(call.account_id, order_id)
            if order is not None:
                found.append(order)
        for client_id in call.request.many("cliOrdIds"):
            order = self.engine.order_by_client_id(call.account_id, client_id)
            if order is not None and order not in found:
                found.append(order)
        window = self.venue.order_status_window
        if window is not None:
            horizon = call.now - timedelta(seconds=window)
            found = [o for o in found if o.state.is_live or o.last_update_time >= horizon]
        return success(call.now, orders=[order_status_json(o) for o in found])

    def openpositions(self, call: Call) -> Reply:
        leverage = self.venue.leverage.get(call.account_id, {})
        rows = []
        for held in sorted(self.engine.positions(call.account_id), key=lambda p: p.last_fill_time, reverse=True):
            row: dict[str, Any] = {
                "side": "long" if held.size > 0 else "short",
                "symbol": held.symbol,
                "price": held.average_price,
                "fillTime": iso(held.last_fill_time),
                "size": abs(held.size),
                "unrealizedFunding": ZERO,
                "pnlCurrency": self.venue.pnl_currency.get(call.account_id, {}).get(held.symbol, "USD"),
            }
            if held.symbol in leverage:
                row["maxFixedLeverage"] = leverage[held.symbol]
            rows.append(row)
        return success(call.now, openPositions=rows)

    def fills(self, call: Call) -> Reply:
        fills = self.engine.fills(call.account_id)
        raw = call.request.one("lastFillTime")
        if raw is not None:
            try:
                cutoff = datetime.fromisoformat(raw)
            except ValueError:
                raise ParamError("invalid", "lastFillTime") from None
            if cutoff.tzinfo is None:
                raise ParamError("invalid", "lastFillTime")
            fills = [f for f in fills if f.time < cutoff]
        newest = list(reversed(fills))[:100]
        return success(call.now, fills=[fill_json(f) for f in newest])

    def accounts(self, call: Call) -> Reply:
        m = self.engine.margin(call.account_id)
        flex = {
            "type": "multiCollateralMarginAccount",
            "currencies": {
                "USD": {
                    "quantity": m.collateral,
                    "value": m.collateral,
                    "collateral": m.collateral,
                    "available": m.available_margin,
                }
            },
            "initialMargin": m.initial_margin,
            "initialMarginWithOrders": m.initial_margin_with_orders,
            "maintenanceMargin": m.maintenance_margin,
            "balanceValue": m.collateral,
            "portfolioValue": m.equity,
            "collateralValue": m.collateral,
            "pnl": m.unrealized_pnl,
            "unrealizedFunding": ZERO,
            "totalUnrealized": m.unrealized_pnl,
            "totalUnrealizedAsMargin": m.unrealized_pnl,
            "availableMargin": m.available_margin,
            "marginEquity": m.equity,
        }
        return success(call.now, accounts={"cash": {"type": "cashAccount", "balances": {}}, "flex": flex})

    # -- preferences ------------------------------------------------------------------------------------------

    def leveragepreferences(self, call: Call) -> Reply:
        prefs = self.venue.leverage.setdefault(call.account_id, {})
        if call.request.method != "PUT":
            rows = [{"symbol": s, "maxLeverage": lev} for s, lev in prefs.items()]
            return success(call.now, leveragePreferences=rows)
        symbol = self._flex_symbol(call)
        max_leverage = _decimal(call.request.one, "maxLeverage")
        if max_leverage is None:
            prefs.pop(symbol, None)  # no maxLeverage = back to cross margin
        else:
            if max_leverage <= 0:
                raise ParamError("invalid", "maxLeverage")
            prefs[symbol] = max_leverage
        return success(call.now)

    def pnlpreferences(self, call: Call) -> Reply:
        prefs = self.venue.pnl_currency.setdefault(call.account_id, {})
        if call.request.method != "PUT":
            return success(call.now, preferences=[{"symbol": s, "pnlCurrency": c} for s, c in prefs.items()])
        symbol = self._flex_symbol(call)
        currency = call.request.one("pnlPreference")
        if currency is None:
            raise ParamError("missing", "pnlPreference")
        if currency.upper() not in ("USD", "EUR", "GBP", "USDC", "USDT", "BTC", "XBT", "ETH"):
            raise ApiError(structured_error(500, "INTERNAL_SERVER_ERROR", 89, "CURRENCY_DOES_NOT_EXIST", call.now))
        prefs[symbol] = currency.upper()
        return success(call.now)

    def _flex_symbol(self, call: Call) -> str:
        raw = call.request.one("symbol")
        if raw is None:
            raise ParamError("missing", "symbol")
        symbol = self.venue.symbol(raw)
        # CCXT #18735 shows this exact answer, HTTP 500, for an unknown contract.
        if symbol is None:
            raise ApiError(structured_error(500, "INTERNAL_SERVER_ERROR", 87, "CONTRACT_DOES_NOT_EXIST", call.now))
        if self.engine.instrument(symbol).kind != "flexible_futures":
            raise ApiError(
                structured_error(500, "INTERNAL_SERVER_ERROR", 88, "CONTRACT_NOT_MULTI_COLLATERAL", call.now)
            )
        return symbol

    # -- market data --------------------------------------------------------------------------------------------

    def instruments(self, call: Call) -> Reply:
        return success(call.now, instruments=[self._instrument_json(s) for s in self.engine.instruments()])

    def _instrument_json(self, spec: Any) -> dict[str, Any]:
        levels = [
            {
                "numNonContractUnits": level.from_size,
                "initialMargin": level.initial_margin,
                "maintenanceMargin": level.maintenance_margin,
            }
            for level in spec.margin_levels
        ]
        row: dict[str, Any] = {
            "symbol": spec.symbol,
            "pair": f"{spec.base}:{spec.quote}",
            "base": spec.base,
            "quote": spec.quote,
            "type": spec.kind,
            "tickSize": spec.tick_size,
            "contractSize": spec.contract_size,
            "tradeable": spec.tradeable,
            "impactMidSize": Decimal(1),
            "openingDate": "2022-01-01T00:00:00.000Z",
            "marginLevels": levels,
            "fundingRateCoefficient": Decimal(8),
            "maxRelativeFundingRate": Decimal("0.001"),
            "contractValueTradePrecision": trade_precision(spec),
            "postOnly": spec.post_only,
            "retailMarginLevels": levels,
            "category": "Layer 1",
            "tags": [],
            "tradfi": False,
            "mtf": False,
        }
        if spec.max_position_size is not None:
            row["maxPositionSize"] = spec.max_position_size
        return row

    def instruments_status(self, call: Call) -> Reply:
        rows = [_instrument_status(s.symbol) for s in self.engine.instruments()]
        return success(call.now, instrumentStatus=rows)

    def instrument_status(self, call: Call) -> Reply:
        symbol = self.venue.symbol(call.request.path_args["symbol"])
        if symbol is None:
            return classic_error("notFound", call.now, status=404)
        return success(call.now, **_instrument_status(symbol))

    def tickers(self, call: Call) -> Reply:
        symbols = [s.symbol for s in self.engine.instruments()]
        open_interest = self._open_interest(symbols)
        return success(
            call.now, tickers=[self._ticker_json(symbol, call.now, open_interest[symbol]) for symbol in symbols]
        )

    def ticker(self, call: Call) -> Reply:
        symbol = self.venue.symbol(call.request.path_args["symbol"])
        if symbol is None:
            return classic_error("notFound", call.now, status=404)
        return success(call.now, ticker=self._ticker_json(symbol, call.now, self._open_interest([symbol])[symbol]))

    def _open_interest(self, symbols: list[str]) -> dict[str, Decimal]:
        """Sum of |position| over every account, per symbol, in one pass over the accounts instead of one per
        symbol: each symbol's total gets exactly the terms, in exactly the order, that a scan of its own would add."""
        totals = dict.fromkeys(symbols, ZERO)
        for account in self.engine.state.accounts.values():
            for position in account.positions.values():
                total = totals.get(position.symbol)
                if total is not None:
                    totals[position.symbol] = total + abs(position.size)
        return totals

    def _ticker_json(self, symbol: str, now: datetime, open_interest: Decimal) -> dict[str, Any]:
        spec = self.engine.instrument(symbol)
        prices = self.engine.price(symbol)
        last, volume, quote_volume = self._day_stats.of(self.engine.state.fills, symbol, now - timedelta(days=1))
        bid, ask = _touch(prices.mark, spec.tick_size)
        # Recent Kraken responses send ticker numbers as strings (reference §3.2, CCXT 2026 fixture).
        return {
            "tag": "perpetual",
            "pair": f"{spec.base}:{spec.quote}",
            "symbol": symbol,
            "markPrice": text(prices.mark),
            "bid": text(bid),
            "bidSize": text(spec.size_step * 10),
            "ask": text(ask),
            "askSize": text(spec.size_step * 10),
            "vol24h": text(volume),
            "volumeQuote": text(quote_volume),
            "openInterest": text(open_interest),
            "open24h": text(prices.mark),
            "high24h": text(prices.mark),
            "low24h": text(prices.mark),
            "indexPrice": text(prices.index),
            "last": text(prices.last),
            "lastTime": iso(last.time if last else (prices.time or now)),
            "lastSize": text(last.size if last else ZERO),
            "suspended": spec.suspended or not spec.tradeable,
            "fundingRate": "0",
            "fundingRatePrediction": "0",
            "postOnly": spec.post_only,
            "change24h": "0",
        }

    def orderbook(self, call: Call) -> Reply:
        raw = call.request.one("symbol")
        if raw is None:
            raise ParamError("missing", "symbol")
        symbol = self.venue.symbol(raw)
        if symbol is None:
            return classic_error("invalidArgument", call.now)
        spec = self.engine.instrument(symbol)
        bid, ask = _touch(self.engine.price(symbol).mark, spec.tick_size)
        depth = range(5)
        book = {
            "bids": [[bid - i * spec.tick_size, spec.size_step * 10 * (i + 1)] for i in depth],
            "asks": [[ask + i * spec.tick_size, spec.size_step * 10 * (i + 1)] for i in depth],
        }
        return success(call.now, orderBook=book)

    # -- history ------------------------------------------------------------------------------------------------

    def _history_params(self, call: Call) -> dict[str, str | None]:
        return {name: call.request.one(name) for name in call.request.params}

    def account_log(self, call: Call) -> Reply:
        return Reply.json(history.account_log(self.engine, call.account_id, self._history_params(call)))

    def account_log_csv(self, call: Call) -> Reply:
        body = history.account_log_csv(self.engine, call.account_id)
        return Reply(status=200, body=body.encode(), content_type="text/csv")

    def history_executions(self, call: Call) -> Reply:
        body, token = history.executions(self.engine, call.account_id, self._history_params(call), call.now)
        return _history_reply(body, token)

    def history_orders(self, call: Call) -> Reply:
        params = self._history_params(call)
        body, token = history.order_events(self.engine, call.account_id, params, call.now, triggers=False)
        return _history_reply(body, token)

    def history_triggers(self, call: Call) -> Reply:
        params = self._history_params(call)
        body, token = history.order_events(self.engine, call.account_id, params, call.now, triggers=True)
        return _history_reply(body, token)

    def history_positions(self, call: Call) -> Reply:
        body, token = history.positions(self.engine, call.account_id, self._history_params(call), call.now)
        return _history_reply(body, token)

    # -- api keys -----------------------------------------------------------------------------------------------

    def api_key_check(self, call: Call) -> Reply:
        key = call.api_key
        assert key is not None
        return Reply.json(
            {
                "apiKey": key.key,
                "accountUid": key.account_id,
                "iiban": "AA00 FAKE KRKN 0001",
                "createdAt": iso(self.venue.key_created.get(key.key, call.now)),
                "permissions": {
                    "general": key.permission.wire,
                    "transfer": "FULL_ACCESS" if key.withdrawal else "NO_ACCESS",
                },
            }
        )


def _json_getter(item: dict[str, Any]) -> Getter:
    def get(name: str) -> str | None:
        value = item.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


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


def _instrument_status(symbol: str) -> dict[str, Any]:
    return {
        "tradeable": symbol,
        "experiencingDislocation": False,
        "priceDislocationDirection": None,
        "experiencingExtremeVolatility": False,
        "extremeVolatilityInitialMarginMultiplier": 1,
    }


def _touch(mark: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
    """A one-tick spread around the mark: best bid below it, best ask above it, both on the tick grid."""
    bid = (mark / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    if bid == mark:
        bid -= tick
    return bid, bid + (tick if bid + tick > mark else 2 * tick)


def _history_reply(body: dict[str, Any], token: str | None) -> Reply:
    headers = {"Next-Continuation-Token": token} if token else {}
    return Reply.json(body, headers=headers)
