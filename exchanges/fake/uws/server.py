"""``FakeUnifiedWebSocket``: the Unified WebSocket endpoint of a ``FakeKraken``, on the same engine and lock.

    fake = FakeKraken(port=0).start()
    fake.add_account(FUTURES_KEY, FUTURES_SECRET)
    uws = FakeUnifiedWebSocket(fake).start()
    uws.add_spot_key(SPOT_KEY, SPOT_SECRET, futures_key=FUTURES_KEY)   # the Kraken key that gets tokens
    ...  # clients: uws.private_url, uws.public_url, token over REST at fake.url + /0/private/GetWebSocketsToken

Faults. Order methods share the REST fake's fault book under their REST names, because a fault names an operation,
whichever transport carries it: ``fake.add_fault("sendorder", kind)`` also hits ``add_order`` (``cancelorder`` ->
``cancel_order``, ``editorder`` -> ``amend_order``), and ``fake.calls("sendorder")`` counts both. Over the socket
they mean: ``latency`` (wait, then act), ``timeout_before`` (hold, then drop the connection, nothing applied),
``accept_then_drop`` (apply, hold, then drop: no ack, no executions on that connection), ``http_5xx`` (answer an
internal error, nothing applied), ``rate_limit``, ``unavailable``, ``reject`` (the engine's refusal word as this
fake's UWS text), ``malformed`` (apply, then an unreadable frame). The socket's own faults (``add_fault`` here):
``drop_connection`` (before acting), ``lose_ack`` (apply, stream the executions, never answer), ``delay_ack``
(apply, stream, answer after ``seconds``), ``expire_token`` (the connection's token stops working), ``reorder``
(hold this request until the next one arrives, act on that one first), and on private channels ``sequence_gap``
(the next message skips a number) and ``out_of_order`` (the next two messages swap).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from exchanges.base import Side, TriggerSignal
from exchanges.fake.faults import POST_AUTH, PRE_AUTH
from exchanges.fake.uws import render
from exchanges.fake.uws.spot_rest import SpotKey, SpotRest
from exchanges.fake.wire import dumps, iso
from exchanges.sim.engine import SimEngine
from exchanges.sim.model import SimFill, SimOrderRequest
from exchanges.sim.vocabulary import OrderKind, Status

if TYPE_CHECKING:
    from exchanges.fake.server import FakeKraken

log = logging.getLogger(__name__)

PRIVATE_CHANNELS = ("executions", "positions", "margin", "balances", "preferences")
PUBLIC_CHANNELS = ("instrument", "ticker")
REST_NAMES = {"add_order": "sendorder", "cancel_order": "cancelorder", "amend_order": "editorder"}
WS_FAULTS = {
    "drop_connection": {},
    "lose_ack": {},
    "delay_ack": {"seconds": 1.0},
    "expire_token": {},
    "reorder": {"seconds": 1.0},
    "sequence_gap": {"channel": "executions"},
    "out_of_order": {"channel": "executions"},
}
SNAPSHOT_TRADES = 50
HEARTBEAT = 1.0
FULL_DIFF_EVERY = 0.25


@dataclass
class WsFault:
    kind: str
    method: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)


class _Conn:
    def __init__(self, ws: ServerConnection, number: int, private: bool) -> None:
        self.ws = ws
        self.number = number
        self.private = private
        self.out = threading.RLock()  # every frame to this client goes out under it, in order
        self.channels: set[str] = set()
        self.account_id: str | None = None
        self.token_expired = False
        self.frozen = False  # about to be dropped by a fault: nothing more is sent
        self.closed = False
        self.last_sent = time.monotonic()
        self.seq: dict[str, int] = {}
        self.gap: set[str] = set()
        self.swap: set[str] = set()
        self.held: dict[str, str] = {}
        # what this client has been told
        self.order_hist: dict[str, int] = {}
        self.live: set[str] = set()
        self.orders_seen = 0
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}
        self.margin: tuple[Decimal, ...] | None = None
        self.ticker_symbols: set[str] = set()
        self.tickers: dict[str, tuple[Decimal, ...]] = {}
        self.instruments: dict[str, tuple[Any, ...]] = {}


class FakeUnifiedWebSocket:
    def __init__(self, fake: FakeKraken, host: str = "127.0.0.1", port: int = 0, *, heartbeat: float = HEARTBEAT):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake serves on loopback only")
        self.fake = fake
        self.host = host
        self._requested_port = port
        self.heartbeat = heartbeat
        self.spot = SpotRest(fake)
        fake.spot_rest = self.spot  # the fake's HTTP server hands /0/private/* to it
        self.faults: list[WsFault] = []
        self.errors: list[str] = []
        self.system_status = "online"
        self._conns: dict[int, _Conn] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()  # the connection table and the fault list
        self._server: Server | None = None
        self._port: int | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._fills: dict[str, SimFill] = {}
        self._fills_indexed = 0
        self._version = 0
        self.connections_opened = 0

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> FakeUnifiedWebSocket:
        if self._server is not None:
            return self
        self._server = serve(
            self._handle,
            self.host,
            self._requested_port,
            compression=None,
            ping_interval=None,
            max_size=2**20,
            close_timeout=1,
        )
        self._port = int(self._server.socket.getsockname()[1])
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-uws-accept"),
            threading.Thread(target=self._tick_loop, daemon=True, name="fake-uws-tick"),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        self.drop_connections()
        for thread in self._threads:
            thread.join(timeout=3)
        self._threads = []

    def __enter__(self) -> FakeUnifiedWebSocket:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("not started")
        return self._port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def private_url(self) -> str:
        return f"{self.url}/v2/private"

    @property
    def public_url(self) -> str:
        return f"{self.url}/v2/public"

    # -- control --------------------------------------------------------------------------------------------------

    def add_spot_key(
        self,
        key: str,
        secret: str,
        *,
        futures_key: str,
        permissions: tuple[str, ...] | None = None,
    ) -> None:
        """A Kraken API key of the account behind ``futures_key`` (what OrderRail gets tokens with)."""
        with self.fake.lock:
            account_id = self.fake.account_id(futures_key)
            spot = SpotKey(key=key, secret=secret, account_id=account_id, created=self.fake.clock())
            if permissions is not None:
                spot.permissions = tuple(permissions)
            self.spot.keys[key] = spot

    def add_fault(self, kind: str, count: int = 1, *, method: str = "*", **params: Any) -> None:
        if kind not in WS_FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(WS_FAULTS)}")
        unknown = set(params) - set(WS_FAULTS[kind])
        if unknown:
            raise ValueError(f"unknown params for {kind}: {sorted(unknown)}")
        merged = {**WS_FAULTS[kind], **params}
        if kind in ("sequence_gap", "out_of_order"):
            for conn in self._connections():
                if conn.private:
                    (conn.gap if kind == "sequence_gap" else conn.swap).add(str(merged["channel"]))
            return
        with self._lock:
            self.faults.append(WsFault(kind=kind, method=method, remaining=count, params=merged))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def drop_connections(self) -> int:
        """Cut every connection now, as a network failure would (no close frame)."""
        conns = self._connections()
        for conn in conns:
            conn.frozen = True
            with contextlib.suppress(OSError):
                conn.ws.close_socket()
        return len(conns)

    def expire_tokens(self) -> None:
        """Every token stops working (issued ones, and those held by live connections)."""
        with self.fake.lock:
            for token in self.spot.tokens.values():
                token.expired = True
        for conn in self._connections():
            conn.token_expired = True

    def set_system_status(self, status: str) -> None:
        self.system_status = status
        for conn in self._connections():
            with conn.out:
                self._emit(conn, self._status_message(conn))

    def flush(self) -> None:
        """Tell every client now what changed (instead of at the next tick)."""
        for conn in self._connections():
            self._publish(conn)

    def connection_count(self, *, private: bool | None = None) -> int:
        return len([c for c in self._connections() if private is None or c.private is private])

    def _connections(self) -> list[_Conn]:
        with self._lock:
            return list(self._conns.values())

    def _take(self, method: str) -> WsFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.method in ("*", method):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- one connection ---------------------------------------------------------------------------------------------

    def _handle(self, ws: ServerConnection) -> None:
        path = (ws.request.path if ws.request else "").split("?")[0].rstrip("/")
        if path not in ("/v2/private", "/v2/public"):
            ws.close(1008, "unknown path")
            return
        conn = _Conn(ws, next(self._numbers), private=path.endswith("private"))
        with self._lock:
            self._conns[conn.number] = conn
            self.connections_opened += 1
        try:
            with conn.out:
                self._emit(conn, self._status_message(conn))
            held: dict[str, Any] | None = None
            held_until = 0.0
            while not self._stopping.is_set():
                try:
                    raw = ws.recv(timeout=max(0.0, held_until - time.monotonic()) if held else None)
                except TimeoutError:
                    if held is not None:
                        self._dispatch(conn, held)
                        held = None
                    continue
                try:
                    message = json.loads(raw, parse_float=Decimal)
                    if not isinstance(message, dict):
                        raise ValueError
                except ValueError:
                    with conn.out:
                        self._emit(conn, {"error": "Invalid JSON", "success": False, "time_in": iso(self.fake.clock())})
                    continue
                method = str(message.get("method") or "")
                if held is None and method in REST_NAMES:
                    fault = self._peek_reorder(method)
                    if fault is not None:
                        held, held_until = message, time.monotonic() + float(fault.params["seconds"])
                        continue
                self._dispatch(conn, message)
                if held is not None:
                    self._dispatch(conn, held)
                    held = None
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("fake uws: connection %s failed", conn.number)
            self.errors.append(traceback.format_exc())
        finally:
            conn.closed = True
            with self._lock:
                self._conns.pop(conn.number, None)

    def _peek_reorder(self, method: str) -> WsFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.kind == "reorder" and fault.remaining > 0 and fault.method in ("*", method):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _status_message(self, conn: _Conn) -> dict[str, Any]:
        row = {"system": self.system_status, "api_version": "v2", "connection_id": conn.number, "version": "fake"}
        return {"channel": "status", "type": "update", "data": [row]}

    def _send_answer(self, conn: _Conn, method: str, req_id: Any, time_in: datetime, **kw: Any) -> None:
        with conn.out:
            self._emit(conn, render.answer(method, req_id, time_in, self.fake.clock(), **kw))

    def _dispatch(self, conn: _Conn, message: dict[str, Any]) -> None:
        method = str(message.get("method") or "")
        req_id = message.get("req_id")
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        time_in = self.fake.clock()
        if method == "ping":
            self._send_answer(conn, "pong", req_id, time_in)
        elif method == "subscribe":
            self._subscribe(conn, params, req_id, time_in)
        elif method == "unsubscribe":
            conn.channels.discard(str(params.get("channel")))
            self._send_answer(conn, "unsubscribe", req_id, time_in, result={"channel": params.get("channel")})
        elif method in REST_NAMES and conn.private:
            self._order_method(conn, method, params, req_id, time_in)
        elif method in ("cancel_all", "cancel_all_orders_after") and conn.private:
            self._account_method(conn, method, params, req_id, time_in)
        else:
            self._send_answer(conn, method, req_id, time_in, error=f"Unknown method: {method}")

    # -- subscriptions ----------------------------------------------------------------------------------------------

    def _token_problem(self, conn: _Conn, params: dict[str, Any]) -> str | None:
        token = self.spot.token(params.get("token"))
        if conn.token_expired or token is None:
            return (
                render.TOKEN_EXPIRED
                if (conn.token_expired or params.get("token") in self.spot.tokens)
                else ("Invalid token")
            )
        if conn.account_id is not None and token.account_id != conn.account_id:
            return "Invalid token"
        conn.account_id = token.account_id
        return None

    def _subscribe(self, conn: _Conn, params: dict[str, Any], req_id: Any, time_in: datetime) -> None:
        channel = str(params.get("channel") or "")
        if channel not in (PRIVATE_CHANNELS if conn.private else PUBLIC_CHANNELS):
            self._send_answer(conn, "subscribe", req_id, time_in, error=f"Channel {channel!r} not available here")
            return
        if params.get("asset_class") not in (None, "derivatives") or (
            channel != "margin" and channel in ("executions", "instrument") and params.get("asset_class") is None
        ):
            self._send_answer(conn, "subscribe", req_id, time_in, error="'params.asset_class' is required")
            return
        if conn.private:
            problem = self._token_problem(conn, params)
            if problem:
                self._send_answer(conn, "subscribe", req_id, time_in, error=problem)
                return
            if channel in ("positions", "margin") and channel in conn.channels:
                self._send_answer(conn, "subscribe", req_id, time_in, error=f"Already subscribed to {channel} channel")
                return
            if channel == "margin" and "snapshot" in params:
                self._send_answer(
                    conn, "subscribe", req_id, time_in, error="'params.snapshot' is not valid for the margin channel"
                )
                return
        symbols: list[str] = []
        if channel == "ticker":
            raw = params.get("symbol") or []
            symbols = [str(s).upper() for s in (raw if isinstance(raw, list) else [raw])]
            unknown = [s for s in symbols if s not in self.fake.engine.state.instruments]
            if not symbols or unknown:
                self._send_answer(conn, "subscribe", req_id, time_in, error=f"Currency pair not supported {unknown}")
                return
        with conn.out:
            result = {"channel": channel, "snapshot": params.get("snapshot", True), "warnings": []}
            if channel == "ticker":
                for symbol in symbols:
                    self._emit(
                        conn,
                        render.answer(
                            "subscribe", req_id, time_in, self.fake.clock(), result={**result, "symbol": symbol}
                        ),
                    )
            else:
                self._emit(conn, render.answer("subscribe", req_id, time_in, self.fake.clock(), result=result))
            with self.fake.lock:
                messages = self._snapshot(conn, channel, symbols)
            conn.channels.add(channel)
            for message in messages:
                self._emit(conn, message)

    def _snapshot(self, conn: _Conn, channel: str, symbols: list[str]) -> list[dict[str, Any]]:
        engine = self.fake.engine
        if channel == "executions":
            assert conn.account_id is not None
            self._index_fills()
            orders = engine.orders(conn.account_id)
            conn.orders_seen = len(engine.state.orders)
            rows = []
            by_id = {o.order_id: o for o in orders}
            for fill in engine.fills(conn.account_id)[-SNAPSHOT_TRADES:]:
                rows.append(render.trade_row(fill, by_id[fill.order_id]))
            for order in orders:
                if order.state.is_live:
                    rows.append(render.open_order_row(order))
                    conn.order_hist[order.order_id] = len(order.history)
                    conn.live.add(order.order_id)
            return [{"channel": "executions", "type": "snapshot", "data": rows}]
        if channel == "positions":
            assert conn.account_id is not None
            current = self._positions(conn.account_id)
            conn.positions = current
            rows = [render.position_row(s, size, entry) for s, (size, entry) in sorted(current.items())]
            return [{"channel": "positions", "type": "snapshot", "data": {"futures": rows, "options": []}}]
        if channel == "margin":
            assert conn.account_id is not None
            conn.margin = self._margin(conn.account_id)
            return [{"channel": "margin", "type": "snapshot", "data": render.margin_rows(*conn.margin)}]
        if channel == "instrument":
            specs = engine.instruments()
            conn.instruments = {s.symbol: _spec_key(s) for s in specs}
            return [{"channel": "instrument", "type": "snapshot", "data": [render.instrument_row(s) for s in specs]}]
        if channel == "ticker":
            rows = []
            for symbol in symbols:
                conn.ticker_symbols.add(symbol)
                conn.tickers[symbol] = self._ticker_key(symbol)
                rows.append(self._ticker_row(symbol))
            return [{"channel": "ticker", "type": "snapshot", "data": rows}]
        return [{"channel": channel, "type": "snapshot", "data": []}]

    # -- order methods ----------------------------------------------------------------------------------------------

    def _order_method(self, conn: _Conn, method: str, params: dict[str, Any], req_id: Any, time_in: datetime) -> None:
        rest_name = REST_NAMES[method]
        ws_fault = self._take(method)
        if ws_fault is not None and ws_fault.kind == "drop_connection":
            self._drop(conn)
            return
        with self.fake.lock:
            self.fake.record_call(rest_name)
            pre = self.fake.faults.take(rest_name, PRE_AUTH)
        if pre is not None:
            if pre.kind == "latency":
                self._stopping.wait(float(pre.params["seconds"]))
            elif pre.kind == "timeout_before":
                conn.frozen = True
                self._stopping.wait(float(pre.params["seconds"]))
                self._drop(conn)
                return
            else:
                text = {"http_5xx": render.INTERNAL_ERROR, "rate_limit": render.RATE_LIMITED}.get(
                    pre.kind, render.UNAVAILABLE
                )
                self._send_answer(conn, method, req_id, time_in, error=text)
                return
        if ws_fault is not None and ws_fault.kind == "expire_token":
            conn.token_expired = True
        problem = self._token_problem(conn, params)
        if problem:
            self._send_answer(conn, method, req_id, time_in, error=problem)
            return
        with self.fake.lock:
            post = self.fake.faults.take(rest_name, POST_AUTH)
            if post is not None and post.kind == "reject":
                result, error = None, render.rejection_text(str(post.params["status"]))
            else:
                self.fake.venue.housekeeping(self.fake.clock())
                result, error = self._apply(conn, method, params)
            self._version += 1
        if post is not None and post.kind == "accept_then_drop":
            conn.frozen = True
            self._stopping.wait(float(post.params["seconds"]))
            self._drop(conn)
            return
        if post is not None and post.kind == "malformed":
            with conn.out:
                self._send_raw(conn, '{"method":"' + method + '","req_id":' + json.dumps(req_id) + ',"succ')
            return
        if ws_fault is not None and ws_fault.kind == "lose_ack":
            self._publish(conn)
            return
        if ws_fault is not None and ws_fault.kind == "delay_ack":
            self._publish(conn)
            self._stopping.wait(float(ws_fault.params["seconds"]))
        with conn.out:
            if error is None:
                self._emit(conn, render.answer(method, req_id, time_in, self.fake.clock(), result=result))
            else:
                self._emit(conn, render.answer(method, req_id, time_in, self.fake.clock(), error=error))
            self._publish(conn)

    def _apply(self, conn: _Conn, method: str, params: dict[str, Any]) -> tuple[Any, str | None]:
        """Under the fake's lock. Returns (result, None) or (None, error text)."""
        now = self.fake.clock()
        engine = self.fake.engine
        account_id = conn.account_id
        assert account_id is not None
        if params.get("asset_class") != "derivatives" and method == "add_order":
            return None, "'params.asset_class' is required"
        deadline = params.get("deadline")
        if deadline is not None:
            try:
                limit = datetime.fromisoformat(str(deadline).replace("Z", "+00:00"))
            except ValueError:
                return None, "Invalid 'params.deadline'"
            if now > limit:
                return None, render.rejection_text(Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME)
        if method == "add_order":
            try:
                request = _order_request(params, self.fake.venue.symbol)
            except ValueError as problem:
                return None, str(problem)
            target = engine
            if params.get("validate") is True:
                target = SimEngine(state=copy.deepcopy(engine.state))
            outcome = target.submit(account_id, request, now=now)
            if outcome.status != Status.PLACED or outcome.order is None:
                return None, render.rejection_text(outcome.status)
            if target is not engine:
                return {"cl_ord_id": request.client_order_id, "warnings": ["validated only, not placed"]}, None
            result = {"order_id": outcome.order.order_id}
            if request.client_order_id:
                result["cl_ord_id"] = request.client_order_id
            return result, None
        if method == "cancel_order":
            ids = params.get("order_id")
            cids = params.get("cl_ord_id")
            if bool(ids) == bool(cids):
                return None, "One of 'params.order_id' or 'params.cl_ord_id' is required, not both"
            wanted = [("order", i) for i in (ids or [])] + [("client", c) for c in (cids or [])]
            answered: list[dict[str, Any]] = []
            for kind, value in wanted:
                outcome = engine.cancel(
                    account_id,
                    order_id=value if kind == "order" else None,
                    client_order_id=value if kind == "client" else None,
                    now=now,
                )
                if outcome.status != Status.CANCELLED or outcome.order is None:
                    return None, render.CANCEL_NOT_FOUND
                row = {"order_id": outcome.order.order_id}
                if outcome.order.client_order_id:
                    row["cl_ord_id"] = outcome.order.client_order_id
                answered.append(row)
            return answered[0], None
        # amend_order: order_qty is the new total (absolute)
        try:
            size = _number(params, "order_qty")
            limit_price = _number(params, "limit_price")
            trigger = _number(params, "trigger_price")
        except ValueError as problem:
            return None, str(problem)
        order_id, cid = params.get("order_id"), params.get("cl_ord_id")
        if not order_id and not cid:
            return None, "One of 'params.order_id' or 'params.cl_ord_id' is required"
        edited = engine.edit(
            account_id,
            order_id=str(order_id) if order_id else None,
            client_order_id=None if order_id else str(cid),
            size=size,
            limit_price=limit_price,
            stop_price=trigger,
            absolute=True,
            now=now,
        )
        if edited.status != Status.EDITED:
            return None, render.rejection_text(edited.status)
        return ({"amend_id": "", "order_id": order_id} if order_id else {"amend_id": "", "cl_ord_id": cid}), None

    def _account_method(self, conn: _Conn, method: str, params: dict[str, Any], req_id: Any, t_in: datetime) -> None:
        problem = self._token_problem(conn, params)
        if problem:
            self._send_answer(conn, method, req_id, t_in, error=problem)
            return
        assert conn.account_id is not None
        with self.fake.lock:
            now = self.fake.clock()
            if method == "cancel_all":
                result: dict[str, Any] = {"count": len(self.fake.engine.cancel_all(conn.account_id, now=now))}
            else:
                timeout = int(params.get("timeout") or 0)
                if timeout == 0:
                    self.fake.venue.dead_man.pop(conn.account_id, None)
                    result = {"currentTime": iso(now), "triggerTime": "0"}
                else:
                    from datetime import timedelta

                    trigger = now + timedelta(seconds=timeout)
                    self.fake.venue.dead_man[conn.account_id] = trigger
                    result = {"currentTime": iso(now), "triggerTime": iso(trigger)}
            self._version += 1
        with conn.out:
            self._emit(conn, render.answer(method, req_id, t_in, self.fake.clock(), result=result))
            self._publish(conn)

    # -- streaming --------------------------------------------------------------------------------------------------

    def _drop(self, conn: _Conn) -> None:
        conn.frozen = True
        with contextlib.suppress(OSError):
            conn.ws.close_socket()

    def _send_raw(self, conn: _Conn, text: str) -> None:
        if conn.frozen or conn.closed:
            return
        try:
            conn.ws.send(text)
        except (ConnectionClosed, OSError):
            conn.closed = True
        conn.last_sent = time.monotonic()

    def _emit(self, conn: _Conn, message: dict[str, Any]) -> None:
        """Send one frame (caller holds ``conn.out``): sequence numbers and the gap/swap faults apply here."""
        channel = message.get("channel")
        if conn.private and channel in PRIVATE_CHANNELS:
            step = 2 if channel in conn.gap else 1
            conn.gap.discard(str(channel))
            conn.seq[channel] = conn.seq.get(channel, 0) + step
            message = {**message, "sequence": conn.seq[channel]}
            text = dumps(message)
            if channel in conn.swap:
                if channel not in conn.held:
                    conn.held[channel] = text
                    return
                conn.swap.discard(str(channel))
                self._send_raw(conn, text)
                self._send_raw(conn, conn.held.pop(channel))
                return
            self._send_raw(conn, text)
            return
        self._send_raw(conn, dumps(message))

    def _publish(self, conn: _Conn) -> None:
        """Tell this client what changed since it last heard (positions, margin, executions, markets)."""
        with conn.out:
            if conn.frozen or conn.closed:
                return
            with self.fake.lock:
                messages = self._private_diff(conn) if conn.private else self._public_diff(conn)
            for message in messages:
                self._emit(conn, message)

    def _index_fills(self) -> None:
        fills = self.fake.engine.state.fills
        for fill in itertools.islice(fills, self._fills_indexed, None):
            self._fills[fill.fill_id] = fill
        self._fills_indexed = len(fills)

    def _private_diff(self, conn: _Conn) -> list[dict[str, Any]]:
        if conn.account_id is None or not conn.channels:
            return []
        engine = self.fake.engine
        state = engine.state
        messages: list[dict[str, Any]] = []
        traded: set[str] = set()
        if "executions" in conn.channels:
            self._index_fills()
            if len(state.orders) > conn.orders_seen:
                for order in itertools.islice(state.orders.values(), conn.orders_seen, None):
                    if order.account_id == conn.account_id and order.order_id not in conn.order_hist:
                        conn.order_hist[order.order_id] = 0
                        conn.live.add(order.order_id)
                conn.orders_seen = len(state.orders)
            rows: list[dict[str, Any]] = []
            for order_id in sorted(conn.live, key=lambda oid: state.orders[oid].seq):
                order = state.orders[order_id]
                sent = conn.order_hist[order_id]
                if len(order.history) > sent:
                    rows.extend(render.history_rows(order, order.history[sent:], self._fills))
                    conn.order_hist[order_id] = len(order.history)
                if not order.state.is_live:
                    conn.live.discard(order_id)
                    conn.order_hist.pop(order_id, None)
            if rows:
                messages.append({"channel": "executions", "type": "update", "data": rows})
                traded = {str(r["symbol"]) for r in rows if r.get("exec_type") == "trade"}
        if "positions" in conn.channels:
            current = self._positions(conn.account_id)
            changed = [
                render.position_row(s, size, entry)
                for s, (size, entry) in sorted(current.items())
                if conn.positions.get(s) != (size, entry) or s in traded
            ]
            changed += [
                render.position_row(s, Decimal(0), entry)
                for s, (_, entry) in conn.positions.items()
                if s not in current
            ]
            # Every trade is followed by its symbol's position, changed or not (a buy and a sell in one batch).
            changed += [
                render.position_row(s, Decimal(0), Decimal(0))
                for s in sorted(traded)
                if s not in current and s not in conn.positions
            ]
            conn.positions = current
            if changed:
                messages.append({"channel": "positions", "type": "update", "data": {"futures": changed, "options": []}})
        if "margin" in conn.channels:
            margin = self._margin(conn.account_id)
            if margin != conn.margin:
                conn.margin = margin
                messages.append({"channel": "margin", "type": "update", "data": render.margin_rows(*margin)})
        return messages

    def _public_diff(self, conn: _Conn) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if "instrument" in conn.channels:
            changed = []
            for spec in self.fake.engine.instruments():
                key = _spec_key(spec)
                if conn.instruments.get(spec.symbol) != key:
                    conn.instruments[spec.symbol] = key
                    changed.append(render.instrument_row(spec))
            if changed:
                messages.append({"channel": "instrument", "type": "update", "data": changed})
        rows = []
        for symbol in sorted(conn.ticker_symbols):
            key = self._ticker_key(symbol)
            if conn.tickers.get(symbol) != key:
                conn.tickers[symbol] = key
                rows.append(self._ticker_row(symbol))
        if rows:
            messages.append({"channel": "ticker", "type": "update", "data": rows})
        return messages

    def _positions(self, account_id: str) -> dict[str, tuple[Decimal, Decimal]]:
        return {p.symbol: (p.size, p.average_price) for p in self.fake.engine.positions(account_id) if p.size}

    def _margin(self, account_id: str) -> tuple[Decimal, ...]:
        m = self.fake.engine.margin(account_id)
        return (
            m.equity,
            m.available_margin,
            m.initial_margin_with_orders,
            m.maintenance_margin,
            m.collateral,
            m.unrealized_pnl,
        )

    def _ticker_key(self, symbol: str) -> tuple[Decimal, ...]:
        price = self.fake.engine.price(symbol)
        return (price.mark, price.index, price.last)

    def _ticker_row(self, symbol: str) -> dict[str, Any]:
        price = self.fake.engine.price(symbol)
        spec = self.fake.engine.instrument(symbol)
        return render.ticker_row(symbol, price.mark, price.index, price.last, spec.tick_size, self.fake.clock())

    def _fingerprint(self) -> tuple[Any, ...]:
        state = self.fake.engine.state
        with self.fake.lock:
            prices = tuple((p.mark, p.index, p.last) for p in state.prices.values())
            return (
                self.fake.calls("*"),
                len(state.orders),
                len(state.fills),
                prices,
                self._version,
                len(self.fake.venue.dead_man),
            )

    def _tick_loop(self) -> None:
        last_print: tuple[Any, ...] | None = None
        last_full = 0.0
        while not self._stopping.wait(0.02):
            try:
                now = time.monotonic()
                printed = self._fingerprint()
                due = printed != last_print or now - last_full >= FULL_DIFF_EVERY
                if due:
                    last_print, last_full = printed, now
                for conn in self._connections():
                    if due:
                        self._publish(conn)
                    if conn.channels and now - conn.last_sent >= self.heartbeat:
                        with conn.out:
                            self._emit(conn, {"channel": "heartbeat"})
            except Exception:
                log.exception("fake uws: tick failed")
                self.errors.append(traceback.format_exc())


def _spec_key(spec: Any) -> tuple[Any, ...]:
    return (spec.tick_size, spec.size_step, spec.tradeable, spec.suspended, spec.post_only, spec.max_position_size)


def _number(params: dict[str, Any], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None:
        return None
    # UWS wants JSON numbers ("Send a JSON number, not a quoted string"): a string is refused like Kraken would.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"Invalid 'params.{name}': must be a number")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"Invalid 'params.{name}'") from None
    if not result.is_finite() or result <= 0:
        raise ValueError(f"Invalid 'params.{name}'")
    return result


def _order_request(params: dict[str, Any], symbol_of: Any) -> SimOrderRequest:
    symbol_raw = params.get("symbol")
    symbol = symbol_of(str(symbol_raw)) if symbol_raw else None
    if symbol is None:
        raise ValueError(render.rejection_text(Status.UNKNOWN_MARKET))
    side = params.get("side")
    if side not in ("buy", "sell"):
        raise ValueError("Invalid 'params.side'")
    kind = render.KINDS_BY_WORD.get(str(params.get("order_type")))
    if kind is None:
        raise ValueError("Invalid 'params.order_type'")
    size = _number(params, "order_qty")
    if size is None:
        raise ValueError("Missing 'params.order_qty'")
    limit_price = _number(params, "limit_price")
    if kind is OrderKind.LIMIT and limit_price is None:
        raise ValueError("Missing 'params.limit_price'")
    stop_price: Decimal | None = None
    signal = TriggerSignal.LAST
    if kind.is_trigger:
        triggers = params.get("triggers")
        if not isinstance(triggers, dict):
            raise ValueError("Missing 'params.triggers'")
        reference = triggers.get("reference", "last")
        if reference not in render.REFERENCES:
            raise ValueError("Invalid 'params.triggers.reference': one of index, last")
        signal = render.REFERENCES[reference]
        stop_price = _number(triggers, "price")
        if stop_price is None:
            raise ValueError("Missing 'params.triggers.price'")
    reduce_only = params.get("reduce_only", False)
    if not isinstance(reduce_only, bool):
        raise ValueError("Invalid 'params.reduce_only'")
    cid = params.get("cl_ord_id")
    if cid is not None and (not isinstance(cid, str) or not cid or len(cid) > 64):
        raise ValueError("Invalid 'params.cl_ord_id'")
    return SimOrderRequest(
        symbol=symbol,
        side=Side(side),
        size=size,
        kind=kind,
        client_order_id=cid,
        limit_price=limit_price,
        stop_price=stop_price,
        trigger_signal=signal,
        reduce_only=reduce_only,
    )
