"""A fake Kraken Futures REST server on 127.0.0.1: the simulation engine behind Kraken's wire format.

    from exchanges.fake.server import FakeKraken

    with FakeKraken(port=0) as fake:           # started; stopped on exit
        fake.add_account(KEY, SECRET, collateral=Decimal("10000"))
        fake.set_mark("PF_XBTUSD", Decimal("61000"))
        fake.add_fault("sendorder", "accept_then_drop", count=1, seconds=1)
        ...  # point a client at fake.url
        assert fake.calls("sendorder") == 1

Request pipeline, in order: route (unknown path -> Spring-style 404) -> count the call -> method check (405) ->
pre-authentication fault -> authenticate and check the key's permission -> rate budget -> post-authentication fault
-> the endpoint. One lock serialises everything that touches the engine; holds and sleeps happen outside it.
The control API lives under ``/_fake/`` (see ``control.py``).

Ids never repeat across restarts: a fake started without a state file draws its order/fill id namespace and its
first account-log id from its start time; one started with ``state_file`` continues the saved counters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from exchanges.base import InstrumentSpec
from exchanges.fake import persistence
from exchanges.fake.api import (
    UNAUTHORIZED,
    Call,
    Endpoint,
    KrakenApi,
    Reply,
    Request,
    Venue,
    classic_error,
    normalise_endpoint,
    route,
)
from exchanges.fake.auth import ApiKey, AuthFailure, KeyPermission, NonceTracker, verify
from exchanges.fake.control import ControlApi
from exchanges.fake.faults import POST_AUTH, PRE_AUTH, Fault, FaultBook
from exchanges.fake.instruments import DEFAULT_INSTRUMENTS, FakeInstrument
from exchanges.fake.ratelimit import RateLimitConfig, RateLimiter
from exchanges.fake.wire import dumps, iso, spring_error
from exchanges.sim.engine import SimEngine
from exchanges.sim.margin import round_to_tick
from exchanges.sim.model import ClientIdReuse, EngineConfig, SimEvent

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NGINX_PAGE = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@dataclass
class Hold:
    """Answer nothing: keep the connection open for ``seconds``, then close it."""

    seconds: float


@dataclass(frozen=True)
class FakeAccount:
    key: str
    secret: str
    collateral: Decimal = Decimal("10000")
    permissions: str = "full"
    withdrawal: bool = False


AccountLike = FakeAccount | Mapping[str, Any]
InstrumentLike = FakeInstrument | InstrumentSpec | tuple[InstrumentSpec, Decimal]


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a held connection must not keep stop() waiting
    allow_reuse_address = True
    fake: FakeKraken
    connections: set[socket.socket]
    connections_lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its read timeout, a held connection) is routine here, not an error to print.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        log.exception("fake kraken: unhandled error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients' connection pools expect
    # Buffer the answer and send it in one segment (flushed after each request): headers and body written apart
    # meet Nagle and delayed ACKs on a kept-alive connection, which costs ~40 ms per request.
    wbufsize = -1
    timeout = 60  # an idle kept-alive connection is closed after this many seconds
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake kraken: " + format, *args)


class FakeKraken:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: Iterable[AccountLike] | None = None,
        instruments: Iterable[InstrumentLike] | None = None,
        seed: int = 0,
        *,
        rate_limits: RateLimitConfig | bool = True,
        clock: Clock | None = None,
        order_status_window: float | None = 5.0,
        nonce_tolerance: float = 1.0,
        engine_config: EngineConfig | None = None,
        walk: bool = False,
        walk_interval: float = 1.0,
        walk_volatility: Decimal = Decimal("0.0005"),
        client_order_id_reuse: ClientIdReuse | str | None = None,
        state_file: str | Path | None = None,
        save_interval: float = 0.5,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake serves on loopback only")
        self.host = host
        self._requested_port = port
        self.seed = seed
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.state_file = Path(state_file) if state_file is not None else None
        self._save_interval = save_interval
        now = self.clock()
        restored = persistence.load(self.state_file) if self.state_file and self.state_file.exists() else None
        if restored is not None:
            # The saved exchange, instruments, prices and id counters included; ``instruments`` is not applied.
            self.engine, venue_state = restored
        else:
            venue_state = persistence.VenueState()
            self.engine = SimEngine(engine_config or _fresh_config(seed))
            for item in DEFAULT_INSTRUMENTS if instruments is None else instruments:
                spec, mark = _instrument(item)
                self.engine.add_instrument(spec, mark, now=now)
        if client_order_id_reuse is not None:
            self.engine.set_client_order_id_reuse(client_order_id_reuse)
        self.venue = Venue(self.engine, order_status_window=order_status_window)
        self.venue.leverage = venue_state.leverage
        self.venue.pnl_currency = venue_state.pnl_currency
        self.venue.dead_man = venue_state.dead_man
        self.venue.key_created = venue_state.key_created
        self.api = KrakenApi(self.venue)
        self.control = ControlApi(self)
        self.faults = FaultBook()
        config = rate_limits if isinstance(rate_limits, RateLimitConfig) else RateLimitConfig(enabled=rate_limits)
        self.limiter = RateLimiter(config)
        self.nonce_tolerance = nonce_tolerance
        self.lock = threading.RLock()
        self.errors: list[str] = []  # tracebacks of requests the fake itself failed on; tests assert it is empty
        self.auth_failures: list[str] = []  # why requests were refused, for diagnosing a client's signing
        self._calls: Counter[str] = Counter()
        self._requests = 0
        # Kraken's Spot REST calls (/0/private/...), served once a FakeUnifiedWebSocket attaches (exchanges/fake/uws).
        self.spot_rest: Any = None
        self._stopping = threading.Event()
        self._server: _HttpServer | None = None
        self._bound_port: int | None = None
        self._threads: list[threading.Thread] = []
        self._walk_enabled = walk
        self._walk_interval = walk_interval
        self._walk_volatility = walk_volatility
        self._walk_next = 0.0
        self._rng = random.Random(seed)  # the walk's only source of chance, seeded: `make run` is reproducible
        # Bumped by what changes the venue's own state; the engine counts its own changes (``engine.revision``),
        # whoever makes them (this server, the control API, the Unified WebSocket fake). Saved when either moved.
        self._version = 0
        self._saved_version: tuple[int, int] | None = None
        self._save_lock = threading.Lock()
        for account in accounts or ():
            self.add_account(**_account_kwargs(account))

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> FakeKraken:
        if self._server is not None:
            return self
        server = _HttpServer((self.host, self._requested_port), _Handler)
        server.fake = self
        server.connections = set()
        server.connections_lock = threading.Lock()
        self._server = server
        self._bound_port = int(server.server_address[1])
        self._stopping.clear()
        serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        tick = threading.Thread(target=self._tick_loop, daemon=True)
        self._threads = [serve, tick]
        if self.state_file is not None:
            self.save_state()  # the file exists from the first moment, and a bad path fails the start, not later
            self._threads.append(threading.Thread(target=self._save_loop, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            # A stopped exchange is gone: kept-alive connections must not keep being served by their threads.
            with server.connections_lock:
                open_connections = list(server.connections)
            for connection in open_connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads = []
        if self.state_file is not None:
            self.save_state()  # whatever changed since the last debounced save

    def __enter__(self) -> FakeKraken:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it serves on (still known after stop(), for messages)."""
        if self._bound_port is None:
            raise RuntimeError("not started")
        return self._bound_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- control (Python) ---------------------------------------------------------------------------------------

    def add_account(
        self,
        key: str,
        secret: str,
        collateral: Decimal = Decimal("10000"),
        permissions: str = "full",
        withdrawal: bool = False,
    ) -> None:
        """One API key and the account behind it; the account id is ``account_id(key)``."""
        with self.lock:
            if key in self.venue.keys:
                raise ValueError(f"key {key!r} exists")
            account_id = _account_uid(key)
            api_key = ApiKey(
                key=key,
                secret=secret,
                account_id=account_id,
                permission=KeyPermission.parse(permissions),
                withdrawal=withdrawal,
                nonces=NonceTracker(tolerance=self.nonce_tolerance),
            )
            now = self.clock()
            # A key given again to a fake restored from its state file finds its account as it was (not re-funded).
            if account_id not in self.engine.state.accounts:
                self.engine.add_account(account_id, Decimal(collateral), now=now)
            self.venue.keys[key] = api_key
            self.venue.key_created.setdefault(key, now)
            self._changed()

    def account_id(self, key: str) -> str:
        return self.venue.keys[key].account_id

    def fund(self, key: str, amount: Decimal) -> Decimal:
        with self.lock:
            return self.engine.fund(self.account_id(key), Decimal(amount), now=self.clock())

    def position(self, key: str, symbol: str) -> Decimal:
        """The signed position of ``key``'s account (0 when flat)."""
        with self.lock:
            return self.engine.position(self.account_id(key), symbol)

    def set_mark(self, symbol: str, mark: Decimal) -> list[SimEvent]:
        return self.set_price(symbol, mark)

    def set_price(
        self, symbol: str, mark: Decimal, index: Decimal | None = None, last: Decimal | None = None
    ) -> list[SimEvent]:
        """Move the market (index and last default to the mark); triggers stops, fills crossed limits."""
        with self.lock:
            return self.engine.set_price(symbol, Decimal(mark), index, last, now=self.clock())

    def set_instrument(self, symbol: str, **changes: Any) -> InstrumentSpec:
        """Change a market's flags: ``suspended``, ``tradeable``, ``post_only``, ``max_position_size``..."""
        with self.lock:
            return self.engine.update_instrument(symbol, **changes)

    def suspend(self, symbol: str, suspended: bool = True) -> None:
        self.set_instrument(symbol, suspended=suspended)

    def set_liquidity(self, symbol: str, max_fill_size: Decimal | None) -> None:
        """Cap each execution at ``max_fill_size`` (partial fills); None removes the cap."""
        with self.lock:
            self.engine.set_liquidity(symbol, None if max_fill_size is None else Decimal(max_fill_size))

    def set_client_order_id_reuse(self, reuse: ClientIdReuse | str) -> None:
        """``forever`` (default): a client order id is refused once any order carried it; ``while_open``: only while
        that order is open. Which one Kraken does is unverified; callers must be safe under both."""
        with self.lock:
            self.engine.set_client_order_id_reuse(reuse)

    @property
    def client_order_id_reuse(self) -> ClientIdReuse:
        return self.engine.config.client_order_id_reuse

    def set_rate_limits(self, config: RateLimitConfig | bool) -> None:
        with self.lock:
            self.limiter.reconfigure(config if isinstance(config, RateLimitConfig) else RateLimitConfig(enabled=config))

    def set_walk(self, enabled: bool, *, interval: float | None = None, volatility: Decimal | None = None) -> None:
        """A seeded random walk of every mark price, one step per ``interval`` seconds (for `make run`)."""
        with self.lock:
            self._walk_enabled = enabled
            self._walk_interval = interval or self._walk_interval
            self._walk_volatility = Decimal(volatility) if volatility is not None else self._walk_volatility
            self._walk_next = time.monotonic() + self._walk_interval

    def walk_step(self) -> None:
        """One step of the random walk, now (tests use this instead of waiting)."""
        with self.lock:
            now = self.clock()
            for spec in self.engine.instruments():
                mark = self.engine.price(spec.symbol).mark
                move = Decimal(f"{self._rng.gauss(0.0, float(self._walk_volatility)):.12f}")
                new = round_to_tick(mark * (1 + move), spec.tick_size, up=False)
                self.engine.set_price(spec.symbol, max(new, spec.tick_size), now=now)

    def add_fault(self, endpoint: str, kind: str, count: int = 1, **params: Any) -> None:
        """The next ``count`` calls to ``endpoint`` ("sendorder", "openpositions", "account-log", "*") misbehave."""
        with self.lock:
            self.faults.add(normalise_endpoint(endpoint), kind, count, **params)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def pending_faults(self) -> list[Fault]:
        with self.lock:
            return self.faults.pending()

    def calls(self, endpoint: str) -> int:
        """Requests that reached ``endpoint``, whatever became of them (faulted, refused and rate-limited included)."""
        with self.lock:
            name = normalise_endpoint(endpoint)
            return self._requests if name == "*" else self._calls[name]

    def record_call(self, endpoint: str) -> None:
        """Count a call that arrived by another transport (the Unified WebSocket counts add_order as sendorder)."""
        with self.lock:
            self._calls[endpoint] += 1

    def all_calls(self) -> dict[str, int]:
        with self.lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        with self.lock:
            self._calls.clear()
            self._requests = 0

    def state(self) -> dict[str, Any]:
        """Everything, JSON-safe: the engine's state plus the venue's own (keys without secrets, preferences)."""
        with self.lock:
            return {
                "url": self.url if self._server else None,
                "serverTime": iso(self.clock()),
                "accounts": [
                    {
                        "key": k.key,
                        "account_id": k.account_id,
                        "permissions": k.permission.value,
                        "withdrawal": k.withdrawal,
                    }
                    for k in self.venue.keys.values()
                ],
                "leverage": {a: {s: str(v) for s, v in p.items()} for a, p in self.venue.leverage.items()},
                "dead_man_switch": {a: iso(t) for a, t in self.venue.dead_man.items()},
                "faults": [f.to_dict() for f in self.faults.pending()],
                "calls": dict(self._calls),
                "walk": {"enabled": self._walk_enabled, "interval": self._walk_interval},
                "client_order_id_reuse": self.client_order_id_reuse.value,
                "engine": self.engine.to_dict(),
            }

    # -- the state file -----------------------------------------------------------------------------------------

    def _changed(self) -> None:
        """Something the state file holds changed (call with the lock held)."""
        self._version += 1

    def save_state(self) -> bool:
        """Write the state file now if anything changed since the last write; True if it wrote."""
        if self.state_file is None:
            raise RuntimeError("this fake has no state file")
        with self._save_lock:  # one writer at a time: the debounced saver and stop() may meet here
            with self.lock:
                version = (self.engine.revision, self._version)
                if version == self._saved_version:
                    return False
                venue_state = persistence.VenueState(
                    leverage=self.venue.leverage,
                    pnl_currency=self.venue.pnl_currency,
                    dead_man=self.venue.dead_man,
                    key_created=self.venue.key_created,
                )
                data = persistence.snapshot(self.engine, venue_state, self.clock())
            persistence.write_atomically(self.state_file, json.dumps(data, separators=(",", ":")))
            self._saved_version = version
            return True

    def _save_loop(self) -> None:
        # Debounced: at most one write per interval, and none while nothing changes.
        while not self._stopping.wait(self._save_interval):
            try:
                self.save_state()
            except Exception:
                log.exception("fake kraken: could not save its state file")
                with self.lock:
                    self.errors.append(traceback.format_exc())

    # -- the request pipeline -----------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        if self._stopping.is_set():
            handler.close_connection = True
            return
        try:
            request = _read_request(handler)
        except ValueError:
            handler.close_connection = True
            self._write(handler, Reply(status=400, body=b"Bad Request", content_type="text/plain"))
            return
        try:
            outcome = self._process(request)
        except Exception:
            log.exception("fake kraken failed on %s %s", request.method, request.path)
            with self.lock:
                self.errors.append(traceback.format_exc())
            outcome = classic_error("Server Error", self.clock(), status=500)
        if isinstance(outcome, Hold):
            self._stopping.wait(outcome.seconds)
            handler.close_connection = True  # and no answer: the client sees the connection end
            return
        self._write(handler, outcome)

    def _write(self, handler: _Handler, reply: Reply) -> None:
        try:
            handler.send_response(reply.status)
            charset = "; charset=utf-8" if reply.content_type.startswith(("application/json", "text/")) else ""
            handler.send_header("Content-Type", reply.content_type + charset)
            handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up (its read timeout), nothing to do

    def _process(self, request: Request) -> Reply | Hold:
        if request.path == "/_fake" or request.path.startswith("/_fake/"):
            return self.control.handle(request)
        if request.path.startswith("/0/") and self.spot_rest is not None:
            return self.spot_rest.handle(request)
        routed = route(request.path)
        with self.lock:
            self._requests += 1
            if routed is None:
                return self._spring(404, "Not Found", request.path)
            endpoint, request.path_args = routed
            self._calls[endpoint.name] += 1
            if request.method not in endpoint.methods:
                return self._spring(405, "Method Not Allowed", request.path)
            fault = self.faults.take(endpoint.name, PRE_AUTH)
        if fault is not None:
            if fault.kind == "latency":
                self._stopping.wait(float(fault.params["seconds"]))
            else:
                return self._pre_auth_fault(fault, endpoint)

        with self.lock:
            now = self.clock()
            if self.venue.housekeeping(now):
                self._changed()
            api_key: ApiKey | None = None
            access = endpoint.access_for(request.method)
            if access != "public":
                try:
                    api_key = verify(
                        self.venue.keys,
                        request.headers,
                        post_data=request.post_data,
                        path=request.path,
                        at=time.monotonic(),
                    )
                except AuthFailure as failure:
                    self.auth_failures.append(f"{request.method} {request.path}: {failure.detail}")
                    return self._refused(endpoint, failure.code, now)
                if access != "none" and not api_key.allows(access):
                    self.auth_failures.append(f"{request.method} {request.path}: key lacks {access} access")
                    # A key without the permission: Kraken's word for it (reference §5, kraken-cli errors.rs).
                    return self._refused(endpoint, "insufficientPrivileges", now)
                wait = self.limiter.take(api_key.key, endpoint.family, endpoint.cost_of(request), time.monotonic())
                if wait is not None:
                    return self._rate_limited(endpoint, wait, now)
            fault = self.faults.take(endpoint.name, POST_AUTH)
            call = Call(request=request, now=now, api_key=api_key)
            if fault is not None and fault.kind == "reject":
                return self.api.forced_rejection(endpoint.name, call, str(fault.params["status"]))
            if fault is not None and fault.kind == "malformed" and not fault.params["apply"]:
                return _malformed(classic_error("Unavailable", now), fault)
            reply = self.api.handle(endpoint, call)
            if access == "full":
                self._changed()  # every call that may change the exchange needs a full-access key

        if fault is None:
            return reply
        if fault.kind == "accept_then_drop":
            return Hold(float(fault.params["seconds"]))
        if fault.kind == "malformed":
            return _malformed(reply, fault)
        if fault.kind == "drop_openpositions_key" and reply.status == 200:
            body = json.loads(reply.body, parse_float=Decimal)
            body.pop("openPositions", None)  # reference pitfall 9: seen during incidents; it is not "flat"
            return Reply.json(body)
        return reply

    def _pre_auth_fault(self, fault: Fault, endpoint: Endpoint) -> Reply | Hold:
        now = self.clock()
        params = fault.params
        if fault.kind == "timeout_before":
            return Hold(float(params["seconds"]))
        if fault.kind == "http_5xx":
            code = int(params["status"])
            if params["body"] == "json":
                return classic_error("Server Error", now, status=code)
            if params["body"] == "empty":
                return Reply(status=code, body=b"", content_type="text/html")
            page = NGINX_PAGE.format(code=code, reason=REASONS.get(code, "Server Error"))
            return Reply(status=code, body=page.encode(), content_type="text/html")
        if fault.kind == "rate_limit":
            return self._rate_limited(endpoint, float(params["reset"]), now, status=params["status"])
        if fault.kind == "unavailable":
            return classic_error("Unavailable", now, status=int(params["status"]))
        raise AssertionError(fault.kind)

    def _refused(self, endpoint: Endpoint, code: str, now: datetime) -> Reply:
        if endpoint.family == "derivatives":
            return classic_error(code, now)  # HTTP 200, as Kraken answers authenticationError
        return Reply.json(UNAUTHORIZED, status=401)  # history and auth paths (CCXT PR #17424)

    def _rate_limited(self, endpoint: Endpoint, wait: float, now: datetime, status: int | None = None) -> Reply:
        reset = max(1, math.ceil(wait)) if math.isfinite(wait) else 600
        if endpoint.family == "derivatives":
            # The documented body; its HTTP code is not documented, Kraken's classic errors come as 200.
            return classic_error("apiLimitExceeded", now, status=status or 200)
        return Reply(
            status=status or 429,
            body=b"Too many requests",
            content_type="text/plain",
            headers={"rate-limit-reset": str(reset)},
        )

    def _spring(self, status: int, error: str, path: str) -> Reply:
        request_id = f"{self._requests:08x}-0000-4000-8000-fa4e00000000"
        return Reply.json(spring_error(status, error, path, request_id, self.clock()), status=status)

    # -- background: dead man's switch, random walk -------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stopping.wait(0.05):
            try:
                with self.lock:
                    if self.venue.housekeeping(self.clock()):
                        self._changed()
                    due = self._walk_enabled and time.monotonic() >= self._walk_next
                    if due:
                        self._walk_next = time.monotonic() + self._walk_interval
                if due:
                    self.walk_step()
            except Exception:
                log.exception("fake kraken background tick failed")
                with self.lock:
                    self.errors.append(traceback.format_exc())


def _read_request(handler: _Handler) -> Request:
    target = handler.path
    path, _, query = target.partition("?")
    length = int(handler.headers.get("Content-Length") or 0)
    if length < 0:
        raise ValueError("negative Content-Length")
    body = handler.rfile.read(length) if length else b""
    params: dict[str, list[str]] = {}
    # Kraken takes parameters from the query string or a form body, or both (reference §1).
    for source in (query, body.decode("utf-8", errors="replace")):
        for name, values in parse_qs(source, keep_blank_values=True).items():
            params.setdefault(name, []).extend(values)
    headers = {name.lower(): value for name, value in handler.headers.items()}
    return Request(method=handler.command, path=path, query=query, body=body, headers=headers, params=params)


def _malformed(reply: Reply, fault: Fault) -> Reply:
    style = fault.params["body"]
    if style == "html":
        return Reply(status=200, body=b"<html><body><h1>Service Temporarily Unavailable</h1>", content_type="text/html")
    if style == "garbage":
        return Reply(status=200, body=b"\x00\xff{result:succ\xe9ss", content_type="application/json")
    if style == "empty":
        return Reply(status=200, body=b"", content_type="application/json")
    cut = max(1, len(reply.body) // 2)
    return Reply(status=200, body=reply.body[:cut], content_type="application/json")


def _fresh_config(seed: int) -> EngineConfig:
    """A new exchange's ids start where no earlier run of the fake can have been: order and fill ids in a
    namespace of this start's own, account-log ids above any an earlier start could have reached (one a
    microsecond since 1970 - the clock, not chance: ids stay derived, never random)."""
    started = time.time_ns() // 1000
    return EngineConfig(id_seed=f"fake-kraken:{seed}:{started}", ledger_id_start=started)


def _account_uid(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-kraken-account:{key}"))


def _instrument(item: InstrumentLike) -> tuple[InstrumentSpec, Decimal]:
    if isinstance(item, FakeInstrument):
        return item.spec, item.mark
    if isinstance(item, InstrumentSpec):
        return item, Decimal(100)
    spec, mark = item
    return spec, Decimal(mark)


def _account_kwargs(account: AccountLike) -> dict[str, Any]:
    if isinstance(account, FakeAccount):
        return {
            "key": account.key,
            "secret": account.secret,
            "collateral": account.collateral,
            "permissions": account.permissions,
            "withdrawal": account.withdrawal,
        }
    kwargs = dict(account)
    if "collateral" in kwargs:
        kwargs["collateral"] = Decimal(str(kwargs["collateral"]))
    return kwargs


__all__ = ["FakeAccount", "FakeInstrument", "FakeKraken", "Hold", "RateLimitConfig", "dumps"]
