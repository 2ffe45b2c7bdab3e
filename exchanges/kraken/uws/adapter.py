"""``KrakenUnifiedWebSocket``: the ``Exchange`` protocol over Kraken's Unified WebSocket (UWS), the transport that
replaces Derivatives REST v3 when Kraken decommissions it on 1 March 2027.

Design
======

**Where the connection lives: in each worker process, opened lazily and kept, like the REST adapter's session.**
``exchange_for`` caches one adapter per account per process; the adapter's private ``Session`` (one socket, one
reader thread) opens on first use and stays open, reconnecting on its own. django-q2 runs each worker as a
long-lived process that handles one task at a time and calls the protocol synchronously, so an in-process
connection answers every read (positions, margin, open orders, fills, find_order) from memory - the snapshot an
alert is decided on costs no round trip at all, where REST paid four - and an order costs one WebSocket round trip.
No new daemon to supervise, no IPC: a worker that dies takes its socket with it, and its successor connects,
re-snapshots and resolves what was in flight from the snapshot. The cost is one private connection per account
*per worker process that served it* (2-8, not 1) and a copy of the state in each. That rests on two assumptions
the probe checks (``assumptions.PRIVATE_CONNECTIONS_PER_ACCOUNT``, ``EXECUTIONS_ACCOUNT_WIDE``); if Kraken refuses
a second positions/margin subscription per account, the same ``AccountFeed`` moves unchanged into one gateway
process per shard of accounts, with the adapter becoming a thin client to it. A gateway was not built first because
it adds a hop to every alert and a process whose death stops every account, to buy what the per-process model
already has: after 1 March 2027 the streams are the only source of order state, and every process holding a
connection sees all of them. Public data (instruments, tickers) shares one public connection per process.

**State.** ``state.AccountState`` keeps what the private channels said, snapshot then updates: ``executions``
(subscribed with ``snap_orders`` and ``snap_trades``: open orders plus the last 50 trades), ``positions`` (one
snapshot, then deltas), ``margin`` (every message whole). ``state.MarketState`` keeps ``instrument`` (tick and step
from ``price_increment``/``qty_increment``) and ``ticker``. Reads wait (``ready_timeout``) until all three private
snapshots of the current connection are in, else answer ``Unavailable`` - never half a picture.

**Reconnects and gaps.** Every connection gets a fresh token (``GetWebSocketsToken``, Spot-REST signed with the
account's Kraken API key) and fresh snapshots. The session drops the socket and starts over on: a closed socket,
silence longer than ``STALE_AFTER_SECONDS`` (the venue heartbeats ~1/s), a jump or step back in a private
channel's ``sequence``, a message it cannot read, a token error, or an order intent left unanswered. Backoff is
exponential with jitter, reset after 30 s of health.

**Order intents.** ``add_order``/``cancel_order`` go out one at a time per connection (``AccountFeed.intent_lock``)
and each waits for its acknowledgement (``ack_timeout``): Kraken's FIX guide says two messages sent back to back on
the WebSocket may reach the engine in either order, so "cancel then place" or "reduce then increase" is never
pipelined. Every order carries ``deadline`` (now + ``ORDER_DEADLINE_SECONDS``). No answer in time, or the socket
gone after sending: first the executions stream is consulted (an event for our ``cl_ord_id`` proves it landed),
else ``AmbiguousOutcome`` - never a re-send. The connection is then renewed, and the next intent waits until the
unanswered one's deadline has passed, so nothing sent later can overtake it. The caller resolves the unknown order
with ``find_order``, answered from the stream (or the fresh snapshot after a reconnect): ``None`` - licence to
re-send once with the same client id - only from a synced state that lists neither the order nor a trade of it.
A market order's ack waits briefly (``fill_wait``) for its trades, so it carries its fills as REST's does.

**Stops.** UWS triggers on ``index`` or ``last``, not mark. A stop asking for mark is refused before sending
(``localValidation``), never mapped silently; ``capabilities.stop_trigger_signal`` says which signal the worst-case
stop uses on this transport (index, ``assumptions.WORST_CASE_STOP_SIGNAL``) and the stop's order row records it.

**Dead man's switch.** ``cancel_all_orders_after`` is not used: it cancels every resting order of the account,
the worst-case stop included, exactly when OrderRail is down - which is when the stop must rest. OrderRail's only
other resting orders are the strategy's own limit orders, which the trader wants kept too.

**What the streams do not give.** No order history and no account log: ``fills_since`` and ``ledger_since`` answer
from the trades seen since the connection opened plus the snapshot's last 50 (fees from each trade's ``fees``;
realised P&L only if the venue sends it - an assumption). Fills older than that are gone from this transport; the
reconciliation's drift check flags any position our books then cannot explain.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

from exchanges.base import (
    AccountSummary,
    CancelResult,
    EditAck,
    ExchangeCapabilities,
    Fill,
    InstrumentSpec,
    KeyPermissions,
    LedgerEntry,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    Ticker,
)
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected, Unavailable
from exchanges.kraken.errors import Kind
from exchanges.kraken.uws import assumptions as A
from exchanges.kraken.uws import codec, errors
from exchanges.kraken.uws.credentials import SpotKeyClient
from exchanges.kraken.uws.session import AnswerTimeout, ConnectionLost, NotConnected, Session
from exchanges.kraken.uws.state import PRIVATE_CHANNELS, AccountState, MarketState

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
Method = Callable[Concatenate["KrakenUnifiedWebSocket", P], R]
TERMINAL = (OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED)


def _read_call(fn: Method[P, R]) -> Method[P, R]:
    @functools.wraps(fn)
    def wrapper(self: KrakenUnifiedWebSocket, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(self, *args, **kwargs)
        except ExchangeError:
            raise
        except Exception as exc:
            log.exception("uws %s: unexpected error", fn.__name__)
            raise Unavailable(f"{fn.__name__}: unexpected {type(exc).__name__}", venue_code="unexpected") from None

    return wrapper


def _order_call(fn: Method[P, R]) -> Method[P, R]:
    @functools.wraps(fn)
    def wrapper(self: KrakenUnifiedWebSocket, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(self, *args, **kwargs)
        except ExchangeError:
            raise
        except Exception as exc:
            log.exception("uws %s: unexpected error", fn.__name__)
            raise AmbiguousOutcome(f"{fn.__name__}: unexpected {type(exc).__name__}", venue_code="unexpected") from None

    return wrapper


# -- the public feed: one per public URL per process ---------------------------------------------------------------


class MarketFeed:
    def __init__(self, url: str, *, open_timeout: float) -> None:
        self.state = MarketState()
        self._symbols: set[str] = set()
        self._lock = threading.Lock()
        self.session = Session(
            url,
            name="public",
            token=None,
            subscriptions=self._subscriptions,
            on_message=self._on_message,
            on_connect=self.state.begin_connection,
            on_lost=lambda: None,
            open_timeout=open_timeout,
        )

    def _subscriptions(self, _token: str | None) -> list[dict[str, Any]]:
        subs: list[dict[str, Any]] = [{"channel": "instrument", "asset_class": codec.ASSET_CLASS, "snapshot": True}]
        with self._lock:
            symbols = sorted(self._symbols)
        if symbols:
            subs.append(self._ticker_sub(symbols))
        return subs

    @staticmethod
    def _ticker_sub(symbols: list[str]) -> dict[str, Any]:
        return {"channel": "ticker", "asset_class": codec.ASSET_CLASS, "symbol": symbols, "snapshot": True}

    def watch(self, symbol: str) -> None:
        with self._lock:
            if symbol in self._symbols:
                return
            self._symbols.add(symbol)
        self.session.send_nowait("subscribe", self._ticker_sub([symbol]))

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        snapshot = message.get("type") == "snapshot"
        if channel == "instrument":
            self.state.apply_instruments(codec.instruments(message.get("data")), snapshot=snapshot)
        elif channel == "ticker":
            for index, row in enumerate(message.get("data") or []):
                if isinstance(row, dict) and row.get("symbol"):
                    when = codec.timestamp(row["timestamp"], "ticker") if row.get("timestamp") else None
                    fields = codec.ticker_fields(row, f"ticker[{index}]")
                    self.state.apply_ticker(str(row["symbol"]).upper(), fields, when)
        elif message.get("method") == "subscribe" and message.get("success") is False:
            log.warning("uws public: subscription refused: %s", message.get("error"))


_markets: dict[str, MarketFeed] = {}
_markets_lock = threading.Lock()


def market_feed(url: str, *, open_timeout: float) -> MarketFeed:
    with _markets_lock:
        feed = _markets.get(url)
        if feed is None:
            feed = _markets[url] = MarketFeed(url, open_timeout=open_timeout)
    feed.session.ensure_started()
    return feed


def forget_market_feeds() -> None:
    with _markets_lock:
        feeds = list(_markets.values())
        _markets.clear()
    for feed in feeds:
        feed.session.close()


# -- the private feed: one per account per process ----------------------------------------------------------------


class AccountFeed:
    def __init__(self, url: str, keys: SpotKeyClient, *, open_timeout: float, clock: Callable[[], datetime]) -> None:
        self.state = AccountState(clock=clock)
        self.keys = keys
        self.intent_lock = threading.Lock()  # one order intent in flight per connection
        self.unresolved_until = 0.0  # monotonic: an unanswered intent may still land until then
        self.session = Session(
            url,
            name=f"private {keys!r}",
            token=keys.websocket_token,
            subscriptions=self._subscriptions,
            on_message=self._on_message,
            on_connect=self.state.begin_connection,
            on_lost=self.state.lost,
            open_timeout=open_timeout,
        )

    @staticmethod
    def _subscriptions(token: str | None) -> list[dict[str, Any]]:
        base = {"asset_class": codec.ASSET_CLASS, "token": token}
        return [
            {"channel": "executions", **base, "snap_orders": True, "snap_trades": True, "order_status": True},
            {"channel": "positions", **base, "snapshot": True},
            {"channel": "margin", **base},
        ]

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if channel == "heartbeat":
            return
        if channel == "status":
            for row in message.get("data") or []:
                if isinstance(row, dict) and row.get("system"):
                    self.state.venue_status = str(row["system"])
            return
        if message.get("method") == "subscribe" and message.get("success") is False:
            text = str(message.get("error") or "")
            if errors.is_token_error(text):
                self.session.resync(f"token refused: {text}")
            else:
                log.warning("uws private: subscription refused: %s", text)
            return
        if channel not in PRIVATE_CHANNELS:
            return
        sequence = message.get(A.SEQUENCE_FIELD)
        if not self.state.check_sequence(channel, sequence if isinstance(sequence, int) else None):
            self.session.resync(f"sequence gap on {channel} (got {sequence})")
            return
        snapshot = message.get("type") == "snapshot"
        data = message.get("data")
        if channel == "executions":
            rows = [codec.execution(row, f"executions[{i}]") for i, row in enumerate(data or [])]
            self.state.apply_executions(rows, snapshot=snapshot)
        elif channel == "positions":
            self.state.apply_positions(codec.positions(data), snapshot=snapshot)
        else:
            self.state.apply_margin(codec.margin(data))


# -- the adapter --------------------------------------------------------------------------------------------------


class KrakenUnifiedWebSocket:
    """One Kraken account over the Unified WebSocket. URLs are Kraken's by default, or a fake's."""

    capabilities = ExchangeCapabilities(
        order_lookup_by_client_id=True,  # answered from the executions stream, not by a lookup request
        trigger_signals=tuple(A.TRIGGER_REFERENCES),
        stop_trigger_signal=A.WORST_CASE_STOP_SIGNAL,
    )

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        private_url: str = A.PRIVATE_URL,
        public_url: str = A.PUBLIC_URL,
        spot_rest_url: str = A.SPOT_REST_URL,
        open_timeout: float = 3.0,
        ready_timeout: float = 5.0,
        ack_timeout: float = 5.0,
        fill_wait: float = 1.0,
        deadline_seconds: float = A.ORDER_DEADLINE_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.keys = SpotKeyClient(spot_rest_url, api_key, api_secret, timeout=max(open_timeout, 3.0))
        self.public_url = public_url
        self.market_id = f"kraken-uws {public_url}"
        self.open_timeout = open_timeout
        self.ready_timeout = ready_timeout
        self.ack_timeout = ack_timeout
        self.fill_wait = fill_wait
        # Never beyond the assumed venue maximum; never below its minimum (0.5 s, Spot v2).
        self.deadline_seconds = min(max(deadline_seconds, 0.5), A.ORDER_DEADLINE_SECONDS)
        self.feed = AccountFeed(private_url, self.keys, open_timeout=open_timeout, clock=self._clock)

    def __repr__(self) -> str:
        return f"KrakenUnifiedWebSocket({self.keys!r})"

    def close(self) -> None:
        self.feed.session.close()
        self.keys.close()

    def __enter__(self) -> KrakenUnifiedWebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- readiness --------------------------------------------------------------------------------------------------

    def _account_state(self) -> AccountState:
        self.feed.session.ensure_started()
        if not self.feed.state.wait_synced(self.ready_timeout):
            why = self.feed.session.last_error or "snapshots not received yet"
            raise Unavailable(f"unified websocket not synced: {why}", venue_code="notSynced")
        return self.feed.state

    def _market(self) -> MarketFeed:
        feed = market_feed(self.public_url, open_timeout=self.open_timeout)
        if not feed.state.wait(lambda: feed.state.instruments_synced, self.ready_timeout):
            raise Unavailable("unified websocket: no instrument snapshot", venue_code="notSynced")
        return feed

    # -- market data -------------------------------------------------------------------------------------------------

    @_read_call
    def instruments(self) -> list[InstrumentSpec]:
        feed = self._market()
        with feed.state.lock:
            return list(feed.state.instruments.values())

    @_read_call
    def ticker(self, symbol: str) -> Ticker:
        wanted = symbol.upper()
        feed = self._market()
        feed.watch(wanted)
        if not feed.state.wait(lambda: wanted in feed.state.tickers, self.ready_timeout):
            raise Unavailable(f"no ticker for {wanted}", venue_code="tickerNotFound")
        with feed.state.lock:
            fields = dict(feed.state.tickers[wanted])
            when = feed.state.ticker_times.get(wanted)
            spec = feed.state.instruments.get(wanted)
        mark = fields.get("mark")
        if mark is None:
            raise Unavailable(f"the {wanted} ticker carries no mark price", venue_code="noMarkPrice")
        return Ticker(
            symbol=wanted,
            mark_price=mark,
            index_price=fields.get("index"),
            last_price=fields.get("last"),
            bid=fields.get("bid"),
            ask=fields.get("ask"),
            suspended=bool(spec and spec.suspended),
            time=when,
        )

    # -- account -----------------------------------------------------------------------------------------------------

    @_read_call
    def positions(self) -> list[Position]:
        held = self._account_state().position_list(settle_timeout=self.ready_timeout)
        if held is None:
            # assumptions.POSITIONS_FOLLOW_TRADES: every trade is followed by a positions update for its symbol.
            raise Unavailable("the positions stream has not caught up with our trades", venue_code="positionsLag")
        return held

    @_read_call
    def account(self) -> AccountSummary:
        state = self._account_state()
        with state.lock:
            summary = state.margin
        if summary is None:  # pragma: no cover - synced implies a margin message
            raise Unavailable("no margin state", venue_code="notSynced")
        return summary

    @_read_call
    def key_permissions(self) -> KeyPermissions:
        return self.keys.key_permissions()

    # -- orders ------------------------------------------------------------------------------------------------------

    def _wait_quiet(self) -> None:
        """An earlier intent left unanswered may still reach the engine until its deadline: wait that out, so
        nothing we send now can overtake it."""
        left = self.feed.unresolved_until - time.monotonic()
        if left > 0:
            time.sleep(left)

    def _spec(self, symbol: str) -> InstrumentSpec | None:
        feed = market_feed(self.public_url, open_timeout=self.open_timeout)
        with feed.state.lock:
            return feed.state.instruments.get(symbol.upper())

    @_order_call
    def place_order(self, request: OrderRequest) -> OrderAck:
        return self._place(request, validate=False)

    def validate_order(self, request: OrderRequest) -> dict[str, Any]:
        """``validate: true``: the venue checks the order and answers; nothing is placed. For the probe."""
        self._account_state()  # synced, so the token in use is fresh
        params = codec.add_order_params(
            request,
            token=None,
            deadline=self._clock() + timedelta(seconds=A.ORDER_DEADLINE_SECONDS),
            validate=True,
        )
        with self.feed.intent_lock:
            return self.feed.session.request("add_order", params, timeout=self.ack_timeout)

    def _deadline(self, process_before: datetime | None) -> datetime:
        """The deadline sent with an intent: the caller's, or ours if sooner; one already past is refused here
        with the protocol's word for it, as the venue would (nothing is sent)."""
        now = self._clock()
        if process_before is not None and now >= process_before:
            raise OrderRejected(
                errors.LATE, f"refused before sending: its deadline {process_before.isoformat()} has passed"
            )
        ours = now + timedelta(seconds=self.deadline_seconds)
        return min(ours, process_before) if process_before is not None else ours

    def _place(self, request: OrderRequest, *, validate: bool) -> OrderAck:
        spec = self._spec(request.symbol)
        cid = request.client_order_id
        with self.feed.intent_lock:
            self._wait_quiet()
            state = self._account_state()
            if state.venue_status != "online":
                raise Unavailable(f"venue status is {state.venue_status!r}: not sending", venue_code="venueStatus")
            deadline = self._deadline(request.process_before)
            params = codec.add_order_params(request, token=None, deadline=deadline, validate=validate, spec=spec)
            try:
                answer = self.feed.session.request("add_order", params, timeout=self.ack_timeout)
            except NotConnected as exc:
                raise Unavailable(f"add_order not sent: {exc}", venue_code="notConnected") from None
            except (ConnectionLost, AnswerTimeout) as exc:
                landed = state.order_by_client_id(cid)
                if landed is not None:
                    log.info("uws add_order %s: no answer, but the executions stream shows it landed", cid)
                    return self._ack(landed.exchange_order_id, request, None, "landed (from executions)")
                self._unresolved(deadline)
                self.feed.session.resync(f"add_order {cid} unanswered")
                raise AmbiguousOutcome(f"add_order {cid}: {exc}", venue_code=type(exc).__name__) from None
            if answer.get("success") is not True:
                text = str(answer.get("error") or "unknown error")
                if errors.is_token_error(text):
                    self.feed.session.resync(f"token refused: {text}")
                raise errors.error_for(text, order_call=True, client_order_id=cid)
            result = answer.get("result") or {}
            order_id = result.get("order_id")
            if not isinstance(order_id, str) or not order_id:
                raise AmbiguousOutcome("add_order succeeded without an order_id", venue_code="malformedResponse")
            received = codec.timestamp(answer["time_in"], "time_in") if answer.get("time_in") else None
            state.note_acknowledged(order_id, request, received)
        if request.order_type is OrderType.MARKET:
            self._wait_for(order_id, lambda r: r.state in TERMINAL, self.fill_wait)
        return self._ack(order_id, request, received, "placed")

    def _wait_for(self, order_id: str, done: Callable[[Any], bool], timeout: float) -> None:
        state = self.feed.state
        deadline = time.monotonic() + timeout
        with state.lock:
            while True:
                record = state.orders.get(order_id)
                if record is not None and done(record):
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                state.lock.wait(left)

    def _ack(self, order_id: str, request: OrderRequest, received: datetime | None, status: str) -> OrderAck:
        fills: tuple[Fill, ...] = tuple(self.feed.state.fills_for(order_id))
        return OrderAck(
            exchange_order_id=order_id,
            client_order_id=request.client_order_id,
            received_time=received,
            status=status,
            fills=fills,
        )

    def _unresolved(self, deadline: datetime) -> None:
        """An intent went unanswered: it may still reach the engine until its deadline (plus our clock's slack)."""
        left = (deadline - self._clock()).total_seconds() + 1.0
        self.feed.unresolved_until = time.monotonic() + max(left, 0.0)

    @_order_call
    def edit_order(
        self,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
        size: Decimal | None = None,
        stop_price: Decimal | None = None,
        limit_price: Decimal | None = None,
        process_before: datetime | None = None,
    ) -> EditAck:
        """``amend_order``: in place, queue priority kept where possible; ``size`` is the new total."""
        if not exchange_order_id and not client_order_id:
            raise OrderRejected("localValidation", "edit_order needs an exchange or client order id")
        fields = {"size": size, "limit_price": limit_price, "stop_price": stop_price}
        if all(v is None for v in fields.values()):
            raise OrderRejected("localValidation", "edit_order needs something to change")
        for name, value in fields.items():
            if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value <= 0):
                raise OrderRejected("localValidation", f"{name} must be a positive finite Decimal")
        with self.feed.intent_lock:
            self._wait_quiet()
            state = self._account_state()
            deadline = self._deadline(process_before)
            params: dict[str, Any] = {"asset_class": codec.ASSET_CLASS, "token": None}
            if exchange_order_id:
                params["order_id"] = exchange_order_id
            else:
                params[A.CLIENT_ID_FIELD] = client_order_id
            for name, value in fields.items():
                if value is not None:
                    params[A.AMEND_FIELDS[name]] = value
            params["deadline"] = codec.rfc3339(deadline)
            try:
                answer = self.feed.session.request("amend_order", params, timeout=self.ack_timeout)
            except NotConnected as exc:
                raise Unavailable(f"amend_order not sent: {exc}", venue_code="notConnected") from None
            except (ConnectionLost, AnswerTimeout) as exc:
                self._unresolved(deadline)
                self.feed.session.resync("amend_order unanswered")
                raise AmbiguousOutcome(f"amend_order: {exc}", venue_code=type(exc).__name__) from None
        if answer.get("success") is not True:
            text = str(answer.get("error") or "unknown error")
            if errors.classify(text) is Kind.CANCEL_OUTCOME:
                raise OrderRejected("orderForEditNotFound", text)
            raise errors.error_for(text, order_call=True)
        received = codec.timestamp(answer["time_in"], "time_in") if answer.get("time_in") else None
        target = exchange_order_id or state.by_client.get(client_order_id or "")
        if target:
            self._wait_for(target, lambda r: r.venue_status.startswith("amended"), self.fill_wait)
        order = state.order_by_client_id(client_order_id) if client_order_id else None
        if order is None and target:
            with state.lock:
                record = state.orders.get(target)
                order = record.to_status() if record else None
        return EditAck(
            exchange_order_id=(order.exchange_order_id if order else exchange_order_id) or "",
            client_order_id=client_order_id or (order.client_order_id if order else None),
            received_time=received,
            status="amended",
            order=order,
            fills=tuple(state.fills_for(order.exchange_order_id)) if order else (),
        )

    @_order_call
    def cancel_order(
        self,
        *,
        exchange_order_id: str | None = None,
        client_order_id: str | None = None,
        process_before: datetime | None = None,
    ) -> CancelResult:
        if not exchange_order_id and not client_order_id:
            raise OrderRejected("localValidation", "cancel_order needs an exchange or client order id")
        with self.feed.intent_lock:
            self._wait_quiet()
            state = self._account_state()
            deadline = self._deadline(process_before)
            known = (
                state.order_by_client_id(client_order_id)
                if client_order_id
                else next((o for o in state.open_orders() if o.exchange_order_id == exchange_order_id), None)
            )
            if known is not None and known.state in TERMINAL:
                # The stream already says it is gone: no message needed, and none that could race a fill.
                return CancelResult(cancelled=False, status="filled" if known.state is OrderState.FILLED else "gone")
            params: dict[str, Any] = {"token": None}  # A.CANCEL_TAKES_DEADLINE: none on the wire
            if exchange_order_id:
                params["order_id"] = [exchange_order_id]
            else:
                params[A.CLIENT_ID_FIELD] = [client_order_id]
            try:
                answer = self.feed.session.request("cancel_order", params, timeout=self.ack_timeout)
            except NotConnected as exc:
                raise Unavailable(f"cancel_order not sent: {exc}", venue_code="notConnected") from None
            except (ConnectionLost, AnswerTimeout) as exc:
                # No deadline rides on a cancel (none documented): wait out our own horizon all the same.
                self._unresolved(deadline)
                self.feed.session.resync("cancel_order unanswered")
                raise AmbiguousOutcome(f"cancel_order: {exc}", venue_code=type(exc).__name__) from None
        if answer.get("success") is True:
            return CancelResult(cancelled=True, status="cancelled")
        text = str(answer.get("error") or "unknown error")
        if errors.classify(text) is Kind.CANCEL_OUTCOME:
            after = state.order_by_client_id(client_order_id) if client_order_id else None
            filled = after is not None and after.state is OrderState.FILLED
            return CancelResult(cancelled=False, status="filled" if filled else "notFound")
        raise errors.error_for(text, order_call=True)

    @_read_call
    def open_orders(self) -> list[OrderStatus]:
        return self._account_state().open_orders()

    @_read_call
    def find_order(self, client_order_id: str) -> OrderStatus | None:
        """From the stream: the order (open, or finished since we connected), else its trades among the snapshot's
        last 50; ``None`` only from a synced state that has neither."""
        return self._account_state().order_by_client_id(client_order_id)

    # -- fills and fees -----------------------------------------------------------------------------------------------

    @_read_call
    def fills_since(self, since: datetime) -> list[Fill]:
        _require_aware(since)
        state = self._account_state()
        oldest = state.oldest_snapshot_trade
        if state.snapshot_trades >= A.SNAPSHOT_TRADES and oldest is not None and since < oldest:
            log.warning(
                "uws fills_since(%s): the executions snapshot reaches back only to %s; older fills are not on this "
                "transport (drift detection flags any position they would explain)",
                since.isoformat(),
                oldest.isoformat(),
            )
        return state.fills_since(since)

    @_read_call
    def ledger_since(self, since: datetime) -> list[LedgerEntry]:
        _require_aware(since)
        return self._account_state().ledger_since(since)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise Unavailable("a naive datetime was passed; use an aware UTC datetime", venue_code="localValidation")
