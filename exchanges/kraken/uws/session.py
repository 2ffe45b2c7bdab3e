"""One WebSocket connection kept alive by one reader thread: connect (with a fresh token), subscribe, read,
answer requests by ``req_id``, and on any trouble - a drop, silence past ``stale_after``, a sequence gap, a
message we cannot read - close, back off, and start again with a fresh token and fresh snapshots.

Only the reader thread calls ``recv``; any thread may ``request`` (``websockets.sync`` sends are thread-safe).
A request's answer is handed to the waiting caller through its slot; when the connection goes away every waiting
request learns so at once (``ConnectionLost``), and nobody ever re-sends anything on its behalf.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect

from exchanges.kraken.uws import assumptions as A
from exchanges.kraken.uws import codec

log = logging.getLogger(__name__)


class ConnectionLost(Exception):
    """The connection went away while a request waited for its answer: the answer is unknown."""


class NotConnected(Exception):
    """No usable connection right now: nothing was sent."""


class AnswerTimeout(Exception):
    """No answer within the timeout: whether the request took effect is unknown."""


@dataclass
class _Slot:
    method: str
    event: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None
    lost: bool = False


# (token or None) -> the subscribe messages' params for a fresh connection
Subscriptions = Callable[[str | None], list[dict[str, Any]]]
Handler = Callable[[dict[str, Any]], None]


class Session:
    def __init__(
        self,
        url: str,
        *,
        name: str,
        token: Callable[[], str] | None,
        subscriptions: Subscriptions,
        on_message: Handler,
        on_connect: Callable[[], None],
        on_lost: Callable[[], None],
        open_timeout: float,
        stale_after: float = A.STALE_AFTER_SECONDS,
        backoff: tuple[float, float] = (0.2, 10.0),
    ) -> None:
        self.url = url
        self.name = name
        self._token_source = token
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_lost = on_lost
        self.open_timeout = open_timeout
        self.stale_after = stale_after
        self.backoff = backoff
        self._ids = itertools.count(1)
        self._slots: dict[int, _Slot] = {}
        self._lock = threading.Lock()
        self._ws: ClientConnection | None = None
        self.token: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.connections = 0  # how many times it connected (tests and the probe read it)
        self.last_error = ""
        self._resync = threading.Event()

    def __repr__(self) -> str:
        return f"Session({self.name!r}, connected={self.connected})"

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the reader thread once per process (a forked child starts its own; sockets do not survive fork)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._stop.clear()
            self._ws = None
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name=f"uws-{self.name}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            ws.close_socket()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def resync(self, why: str) -> None:
        """Drop the connection and start over with fresh snapshots (a gap, an unreadable message)."""
        log.warning("uws %s: re-snapshotting: %s", self.name, why)
        self.last_error = why
        ws, self._ws = self._ws, None  # nothing more goes out on it; the reader thread finishes the drop
        if ws is not None:
            ws.close_socket()
        # The state is stale from this moment, not from when the reader thread gets round to the drop: a lookup
        # made right after an unanswered intent must wait for the fresh snapshot, not answer from the old one
        # (on a loaded host it read the old state, found nothing, and left a landed order unknown).
        self._on_lost()

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # -- requests ----------------------------------------------------------------------------------------------

    def request(self, method: str, params: Mapping[str, Any] | None, *, timeout: float) -> dict[str, Any]:
        """Send one request and wait for its answer. Raises NotConnected (nothing sent), ConnectionLost or
        AnswerTimeout (sent; outcome unknown). ``params`` may hold ``token: None``, filled in here."""
        ws = self._ws
        if ws is None or ws.state is not State.OPEN:
            raise NotConnected(f"{self.name}: not connected")
        req_id = next(self._ids)
        slot = _Slot(method)
        message: dict[str, Any] = {"method": method, "req_id": req_id}
        if params is not None:
            body = dict(params)
            if "token" in body and body["token"] is None:
                body["token"] = self.token
            message["params"] = body
        with self._lock:
            self._slots[req_id] = slot
        try:
            try:
                ws.send(codec.dumps(message))
            except (ConnectionClosed, OSError, WebSocketException) as exc:
                # A frame that failed to go out may still have gone out in part: unknown, not "not sent".
                raise ConnectionLost(f"{self.name}: {type(exc).__name__} while sending {method}") from None
            if not slot.event.wait(timeout):
                raise AnswerTimeout(f"{self.name}: no answer to {method} within {timeout:.1f} s")
            if slot.lost:
                raise ConnectionLost(f"{self.name}: connection lost before {method} was answered")
            assert slot.answer is not None
            return slot.answer
        finally:
            with self._lock:
                self._slots.pop(req_id, None)

    def send_nowait(self, method: str, params: Mapping[str, Any]) -> None:
        """Fire one request whose answer we do not wait for (a subscribe on a live connection)."""
        ws = self._ws
        if ws is None:
            return
        body = dict(params)
        if "token" in body and body["token"] is None:
            body["token"] = self.token
        # If this fails the reconnect subscribes it again.
        with contextlib.suppress(ConnectionClosed, OSError, WebSocketException):
            ws.send(codec.dumps({"method": method, "params": body, "req_id": next(self._ids)}))

    # -- the reader thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._connect_and_read()
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.info("uws %s: connection ended: %s", self.name, self.last_error)
            finally:
                self._drop()
            if self._stop.is_set():
                break
            failures = 0 if time.monotonic() - started > 30 else failures + 1
            low, high = self.backoff
            delay = min(high, low * (2 ** min(failures, 10))) * random.uniform(0.5, 1.0)
            self._stop.wait(delay)

    def _connect_and_read(self) -> None:
        token = self._token_source() if self._token_source else None  # fresh for every connection
        ws = connect(
            self.url,
            open_timeout=self.open_timeout,
            proxy=None,
            compression=None,
            ping_interval=None,  # liveness is the venue's heartbeat, checked by stale_after
            max_size=2**24,
            close_timeout=1,
            legacy=True,  # a plain connection we manage ourselves (the reconnect loop is ours)
        )
        self.token = token
        self.connections += 1
        self._on_connect()
        self._ws = ws
        for params in self._subscriptions(token):
            ws.send(codec.dumps({"method": "subscribe", "params": params, "req_id": next(self._ids)}))
        while not self._stop.is_set():
            try:
                raw = ws.recv(timeout=self.stale_after)
            except TimeoutError:
                raise ConnectionLost(f"silent for {self.stale_after} s") from None
            message = codec.loads(raw)
            if not isinstance(message, dict):
                raise codec.MalformedMessage("a frame that is not a JSON object")
            req_id = message.get("req_id")
            if "method" in message and isinstance(req_id, int):
                with self._lock:
                    slot = self._slots.get(req_id)
                if slot is not None:
                    slot.answer = message
                    slot.event.set()
                    continue
            self._on_message(message)

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(OSError):
                ws.close_socket()
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            slot.lost = True
            slot.event.set()
        self._on_lost()
