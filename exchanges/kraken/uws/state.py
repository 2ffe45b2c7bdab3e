"""What the streams have told us: one account's orders, fills, positions and margin, and the public markets.

Snapshot-then-update, one owner (the connection's reader thread) writing, any thread reading under one lock:

* ``executions``: the snapshot (open orders + the last trades) *replaces* what we knew of open orders; an order we
  held open that the snapshot no longer lists finished during the gap - filled if the snapshot's trades say so,
  else taken as cancelled (said so in its venue status). Updates move orders and add fills (keyed by exec id).
* ``positions``: exactly one snapshot, then deltas; size 0 removes the row. ``margin``: every message is whole.
* Each private channel is *synced* once its snapshot arrived on the current connection; reads wait for all three.
  A reconnect or a sequence gap un-syncs everything until the fresh snapshots are in: a read during a gap waits or
  answers ``Unavailable``, never from half a picture.

Fills and terminal orders are kept for ``keep`` (default 2 days) so reconciliation can import them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from exchanges.base import (
    AccountSummary,
    Fill,
    InstrumentSpec,
    LedgerEntry,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TriggerSignal,
)
from exchanges.kraken.uws import codec

log = logging.getLogger(__name__)

PRIVATE_CHANNELS = ("executions", "positions", "margin")
LIVE = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)


@dataclass
class OrderRecord:
    order_id: str
    client_order_id: str | None
    symbol: str = ""
    side: Side | None = None
    order_type: OrderType | None = None
    size: Decimal = Decimal(0)
    filled: Decimal = Decimal(0)
    state: OrderState = OrderState.OPEN
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None
    reduce_only: bool = False
    venue_status: str = ""
    updated: datetime | None = None
    seen_at: float = 0.0  # monotonic time we first heard of it

    def to_status(self) -> OrderStatus:
        return OrderStatus(
            exchange_order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side or Side.BUY,
            order_type=self.order_type or OrderType.LIMIT,
            size=self.size,
            filled_size=self.filled,
            state=self.state,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            trigger_signal=self.trigger_signal,
            reduce_only=self.reduce_only,
            venue_status=self.venue_status,
            updated_time=self.updated,
        )


@dataclass
class FillRecord:
    fill: Fill
    fee: Decimal
    realized_pnl: Decimal | None


@dataclass
class AccountState:
    """One account's private streams. Mutated only by ``apply_*`` (the reader thread)."""

    keep: timedelta = timedelta(days=2)
    clock: Callable[[], datetime] | None = None
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    by_client: dict[str, str] = field(default_factory=dict)
    fills: dict[str, FillRecord] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    margin: AccountSummary | None = None
    synced: set[str] = field(default_factory=set)
    sequences: dict[str, int] = field(default_factory=dict)
    generation: int = 0  # +1 per (re)connection: a waiter can tell a reconnect happened
    venue_status: str = "online"
    snapshot_trades: int = 0
    oldest_snapshot_trade: datetime | None = None
    # Symbols with a trade the positions channel has not reported since (channels are separate streams): a position
    # read waits for it, so nothing is sized from a position that predates our own fill.
    pending_positions: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.lock = threading.Condition()

    # -- connection lifecycle -------------------------------------------------------------------------------------

    def begin_connection(self) -> None:
        with self.lock:
            self.generation += 1
            self.synced.clear()
            self.sequences.clear()
            self.pending_positions.clear()  # the fresh positions snapshot settles everything
            self.lock.notify_all()

    def lost(self) -> None:
        with self.lock:
            self.synced.clear()
            self.lock.notify_all()

    @property
    def is_synced(self) -> bool:
        return all(channel in self.synced for channel in PRIVATE_CHANNELS)

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not self.is_synced:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
            return True

    def check_sequence(self, channel: str, sequence: int | None) -> bool:
        """False on a gap (a jump or a step back): the caller must re-snapshot."""
        if sequence is None:
            return True
        with self.lock:
            last = self.sequences.get(channel)
            self.sequences[channel] = sequence
            return last is None or sequence == last + 1

    # -- executions ------------------------------------------------------------------------------------------------

    def apply_executions(self, rows: Iterable[codec.Execution], *, snapshot: bool) -> None:
        rows = list(rows)
        with self.lock:
            if snapshot:
                self._apply_snapshot(rows)
                self.synced.add("executions")
            else:
                for row in rows:
                    self._apply(row)
                    if row.is_trade and row.symbol:
                        self.pending_positions.add(row.symbol)
            self._prune()
            self.lock.notify_all()

    def _apply_snapshot(self, rows: list[codec.Execution]) -> None:
        trades = [r for r in rows if r.is_trade]
        for row in trades:
            self._add_fill(row)
        self.snapshot_trades = len(trades)
        self.oldest_snapshot_trade = min((r.time for r in trades if r.time), default=None)
        listed = set()
        for row in rows:
            if row.is_trade:
                continue
            listed.add(row.order_id)
            self._apply(row)
        # Open orders we knew that the snapshot no longer lists finished while we were not listening.
        for record in self.orders.values():
            if record.state in LIVE and record.order_id not in listed:
                filled = self._filled_by_fills(record.order_id)
                record.filled = max(record.filled, filled)
                if record.size and record.filled >= record.size:
                    record.state, record.venue_status = OrderState.FILLED, "filled (gone from the snapshot)"
                else:
                    record.state = OrderState.CANCELLED
                    record.venue_status = "gone from the snapshot, no fills seen: taken as cancelled"

    def _apply(self, row: codec.Execution) -> None:
        record = self.orders.get(row.order_id)
        if record is None:
            record = OrderRecord(order_id=row.order_id, client_order_id=row.client_order_id, seen_at=time.monotonic())
            self.orders[row.order_id] = record
        if row.client_order_id and not record.client_order_id:
            record.client_order_id = row.client_order_id
        if record.client_order_id:
            self.by_client[record.client_order_id] = record.order_id
        for name in ("symbol", "side", "order_type", "limit_price", "stop_price", "trigger_signal", "reduce_only"):
            value = getattr(row, name)
            if value is not None:
                setattr(record, name, value)
        if row.qty is not None:
            record.size = row.qty
        if row.is_trade:
            self._add_fill(row, record)
        if row.cum_qty is not None:
            record.filled = max(record.filled, row.cum_qty)
        record.filled = max(record.filled, self._filled_by_fills(record.order_id))
        state = row.state
        if state is not None and record.state not in (OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED):
            record.state = state
        if record.state in LIVE and record.size and record.filled >= record.size:
            record.state = OrderState.FILLED  # drive from cum_qty too: a trade may still say partially_filled
        elif record.state is OrderState.OPEN and record.filled > 0:
            record.state = OrderState.PARTIALLY_FILLED
        record.venue_status = "/".join(w for w in (row.exec_type, row.order_status, row.reason) if w)[:80]
        record.updated = row.time or record.updated

    def note_acknowledged(self, order_id: str, request: OrderRequest, when: datetime | None) -> None:
        """The venue acknowledged this order: know it now, even if its first executions event is still on the way,
        so a lookup never answers "no trace" for an order we hold an acknowledgement of."""
        with self.lock:
            if order_id in self.orders:
                return
            self.orders[order_id] = OrderRecord(
                order_id=order_id,
                client_order_id=request.client_order_id,
                symbol=request.symbol.upper(),
                side=request.side,
                order_type=request.order_type,
                size=request.size,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
                trigger_signal=request.trigger_signal,
                reduce_only=request.reduce_only,
                venue_status="acknowledged",
                updated=when,
                seen_at=time.monotonic(),
            )
            self.by_client[request.client_order_id] = order_id
            self.lock.notify_all()

    def _add_fill(self, row: codec.Execution, record: OrderRecord | None = None) -> None:
        if row.exec_id is None or row.exec_id in self.fills or row.last_qty is None or row.last_price is None:
            return
        record = record or self.orders.get(row.order_id)
        side = row.side or (record.side if record else None)
        symbol = row.symbol or (record.symbol if record else None)
        when = row.time or (self.clock() if self.clock else None)
        if side is None or not symbol or when is None:
            raise codec.MalformedMessage(f"trade {row.exec_id}: no side, symbol or time")
        self.fills[row.exec_id] = FillRecord(
            fill=Fill(
                fill_id=row.exec_id,
                exchange_order_id=row.order_id,
                client_order_id=row.client_order_id or (record.client_order_id if record else None),
                symbol=symbol,
                side=side,
                size=row.last_qty,
                price=row.last_price,
                time=when,
                liquidity=row.liquidity,
            ),
            fee=row.fee,
            realized_pnl=row.realized_pnl,
        )

    def _filled_by_fills(self, order_id: str) -> Decimal:
        return sum((r.fill.size for r in self.fills.values() if r.fill.exchange_order_id == order_id), Decimal(0))

    def _prune(self) -> None:
        if self.clock is None or len(self.fills) + len(self.orders) < 2000:
            return
        horizon = self.clock() - self.keep
        for fill_id in [k for k, r in self.fills.items() if r.fill.time < horizon]:
            del self.fills[fill_id]
        for order_id in [k for k, r in self.orders.items() if r.state not in LIVE and (r.updated or horizon) < horizon]:
            record = self.orders.pop(order_id)
            if record.client_order_id:
                self.by_client.pop(record.client_order_id, None)

    # -- positions and margin --------------------------------------------------------------------------------------

    def apply_positions(self, rows: dict[str, Position], *, snapshot: bool) -> None:
        with self.lock:
            if snapshot:
                self.positions = {}
                self.pending_positions.clear()
            self.pending_positions.difference_update(rows)
            for symbol, position in rows.items():
                if position.size == 0:
                    self.positions.pop(symbol, None)
                else:
                    self.positions[symbol] = position
            if snapshot:
                self.synced.add("positions")
            self.lock.notify_all()

    def apply_margin(self, summary: AccountSummary) -> None:
        with self.lock:
            self.margin = summary
            self.synced.add("margin")
            self.lock.notify_all()

    # -- reads (callers hold no lock; each takes it) ---------------------------------------------------------------

    def order_by_client_id(self, client_order_id: str) -> OrderStatus | None:
        with self.lock:
            order_id = self.by_client.get(client_order_id)
            if order_id is not None and order_id in self.orders:
                return self.orders[order_id].to_status()
            fills = [r.fill for r in self.fills.values() if r.fill.client_order_id == client_order_id]
        if not fills:
            return None
        return _status_from_fills(client_order_id, fills)

    def open_orders(self) -> list[OrderStatus]:
        with self.lock:
            return [r.to_status() for r in self.orders.values() if r.state in LIVE]

    def fills_for(self, order_id: str) -> list[Fill]:
        with self.lock:
            return sorted(
                (r.fill for r in self.fills.values() if r.fill.exchange_order_id == order_id), key=lambda f: f.time
            )

    def fills_since(self, since: datetime) -> list[Fill]:
        with self.lock:
            fills = [r.fill for r in self.fills.values() if r.fill.time >= since]
        return sorted(fills, key=lambda f: (f.time, f.fill_id))

    def ledger_since(self, since: datetime) -> list[LedgerEntry]:
        """A trade's fee (and realised P&L, if the venue sends it) as an account-log row keyed by its exec id."""
        with self.lock:
            records = [r for r in self.fills.values() if r.fill.time >= since]
        return [
            LedgerEntry(
                entry_id=f"exec:{r.fill.fill_id}",
                time=r.fill.time,
                kind="futures trade",
                symbol=r.fill.symbol,
                asset="USD",
                fee=r.fee,
                realized_pnl=r.realized_pnl or Decimal(0),
                execution_id=r.fill.fill_id,
                trade_price=r.fill.price,
            )
            for r in sorted(records, key=lambda r: (r.fill.time, r.fill.fill_id))
        ]

    def position_list(self, settle_timeout: float = 0.0) -> list[Position] | None:
        """The positions, once the positions channel has caught up with our trades; None if it did not in time."""
        deadline = time.monotonic() + settle_timeout
        with self.lock:
            while self.pending_positions:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)
            return list(self.positions.values())


def _status_from_fills(client_order_id: str, fills: list[Fill]) -> OrderStatus:
    ordered = sorted(fills, key=lambda f: f.time)
    total = sum((f.size for f in ordered), Decimal(0))
    return OrderStatus(
        exchange_order_id=ordered[0].exchange_order_id,
        client_order_id=client_order_id,
        symbol=ordered[0].symbol,
        side=ordered[0].side,
        order_type=OrderType.MARKET,
        size=total,
        filled_size=total,
        state=OrderState.FILLED,
        venue_status="filled (from the executions snapshot's trades)",
        updated_time=ordered[-1].time,
    )


@dataclass
class MarketState:
    """Public streams, shared by every account of the process: instruments and tickers."""

    instruments: dict[str, InstrumentSpec] = field(default_factory=dict)
    tickers: dict[str, dict[str, Decimal | None]] = field(default_factory=dict)
    ticker_times: dict[str, datetime | None] = field(default_factory=dict)
    instruments_synced: bool = False
    generation: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Condition()

    def begin_connection(self) -> None:
        with self.lock:
            self.generation += 1
            self.instruments_synced = False
            self.tickers.clear()
            self.lock.notify_all()

    def apply_instruments(self, specs: list[InstrumentSpec], *, snapshot: bool) -> None:
        with self.lock:
            if snapshot:
                self.instruments = {}
            for spec in specs:
                self.instruments[spec.symbol] = spec
            if snapshot:
                self.instruments_synced = True
            self.lock.notify_all()

    def apply_ticker(self, symbol: str, fields: dict[str, Decimal | None], when: datetime | None) -> None:
        with self.lock:
            merged = dict(self.tickers.get(symbol, {}))
            merged.update({k: v for k, v in fields.items() if v is not None})
            self.tickers[symbol] = merged
            self.ticker_times[symbol] = when
            self.lock.notify_all()

    def wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
            return True
