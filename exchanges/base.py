"""The exchange protocol the pipeline talks to.

Everything venue-specific (wire format, signing, status strings) lives behind this module, so that a second
transport - Kraken's Unified WebSocket, which replaces Derivatives REST v3 on 1 March 2027 - can stand beside
the REST adapter without the pipeline changing. Two things are shaped for that successor on purpose:

* stops carry an explicit ``trigger_signal`` (the WebSocket triggers on index or last price, not mark);
* ``find_order`` is a capability: a streaming adapter may answer it from its own snapshot-then-update state
  instead of a lookup request.

All prices, sizes and amounts are ``Decimal``; sizes are signed only on ``Position`` (long > 0, short < 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from exchanges.errors import (  # noqa: F401  (re-exported: callers import the taxonomy from here)
    AmbiguousOutcome,
    AuthenticationFailed,
    ExchangeError,
    OrderRejected,
    PermissionDenied,
    RateLimited,
    Unavailable,
)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class TriggerSignal(StrEnum):
    MARK = "mark"
    INDEX = "index"
    LAST = "last"


class OrderState(StrEnum):
    """The exchange's view of one order, in venue-neutral words."""

    OPEN = "open"  # resting, nothing filled (includes untriggered stops)
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"
    OTHER = "other"  # liquidation, assignment, unwind


class Permission(StrEnum):
    NONE = "none"
    READ_ONLY = "read_only"
    FULL = "full"


@dataclass(frozen=True)
class MarginLevel:
    """Initial/maintenance margin rates that apply from ``from_size`` (in the instrument's size unit) up."""

    from_size: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal


@dataclass(frozen=True)
class InstrumentSpec:
    symbol: str
    kind: str  # e.g. "flexible_futures", "futures_inverse"
    tick_size: Decimal
    size_step: Decimal  # 10 ** -contractValueTradePrecision; also the smallest order
    contract_size: Decimal
    tradeable: bool
    suspended: bool = False
    post_only: bool = False
    max_position_size: Decimal | None = None
    margin_levels: tuple[MarginLevel, ...] = ()
    base: str = ""
    quote: str = ""

    @property
    def can_trade(self) -> bool:
        return self.tradeable and not self.suspended

    def initial_margin_rate(self, size: Decimal) -> Decimal:
        return self._level(size).initial_margin

    def maintenance_margin_rate(self, size: Decimal) -> Decimal:
        return self._level(size).maintenance_margin

    def _level(self, size: Decimal) -> MarginLevel:
        if not self.margin_levels:
            # No tiers published: assume 50x-style defaults rather than zero margin.
            return MarginLevel(Decimal(0), Decimal("0.02"), Decimal("0.01"))
        chosen = self.margin_levels[0]
        for level in self.margin_levels:
            if abs(size) >= level.from_size:
                chosen = level
        return chosen


@dataclass(frozen=True)
class Ticker:
    symbol: str
    mark_price: Decimal
    index_price: Decimal | None = None
    last_price: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    suspended: bool = False
    time: datetime | None = None


@dataclass(frozen=True)
class Position:
    symbol: str
    size: Decimal  # signed: long > 0, short < 0
    average_price: Decimal


@dataclass(frozen=True)
class AccountSummary:
    currency: str
    equity: Decimal  # margin equity: collateral + unrealised P&L
    available_margin: Decimal
    initial_margin: Decimal = Decimal(0)
    maintenance_margin: Decimal = Decimal(0)


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    size: Decimal  # unsigned, > 0
    order_type: OrderType
    client_order_id: str
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None  # stops only
    reduce_only: bool = False
    # The venue must refuse to act on the order after this moment (aware; Kraken's ``processBefore``, checked by
    # Kraken's clock when the request reaches its matching engine). A request refused for lateness raises
    # ``OrderRejected("wouldProcessAfterSpecifiedTime")``: nothing was placed, and nothing will be.
    process_before: datetime | None = None


@dataclass(frozen=True)
class Fill:
    fill_id: str
    exchange_order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    time: datetime
    liquidity: Liquidity


@dataclass(frozen=True)
class OrderAck:
    """The exchange accepted the order. Fills that happened at once are listed (Kraken still says "placed")."""

    exchange_order_id: str
    client_order_id: str
    received_time: datetime | None
    status: str  # the venue's word, verbatim
    fills: tuple[Fill, ...] = ()
    reduced_size: Decimal | None = None  # a reduce-only order the venue shrank to the position

    @property
    def filled_size(self) -> Decimal:
        return sum((f.size for f in self.fills), Decimal(0))


@dataclass(frozen=True)
class OrderStatus:
    exchange_order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    order_type: OrderType
    size: Decimal
    filled_size: Decimal
    state: OrderState
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None
    reduce_only: bool = False
    venue_status: str = ""  # verbatim, for the audit trail
    updated_time: datetime | None = None


@dataclass(frozen=True)
class EditAck:
    """The exchange applied an in-place edit (same order, same ids: no gap, no second order's margin).

    ``order`` is the order as it stands after the edit when the venue reported it (None if it did not); an edit that
    moved a stop through its trigger price may show it already triggered, with ``fills``.
    """

    exchange_order_id: str
    client_order_id: str | None
    received_time: datetime | None
    status: str  # the venue's word, verbatim
    order: OrderStatus | None = None
    fills: tuple[Fill, ...] = ()


@dataclass(frozen=True)
class CancelResult:
    cancelled: bool  # True if the order is gone because of this call
    status: str  # the venue's word, verbatim ("cancelled", "filled", "notFound")


@dataclass(frozen=True)
class LedgerEntry:
    """One account-log row: a trade's fee and realised P&L, a funding payment, a transfer..."""

    entry_id: str
    time: datetime
    kind: str  # the venue's word ("futures trade", "funding rate change", ...)
    symbol: str | None
    asset: str
    fee: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    realized_funding: Decimal = Decimal(0)
    execution_id: str | None = None
    trade_price: Decimal | None = None
    balance_change: Decimal = Decimal(0)


@dataclass(frozen=True)
class KeyPermissions:
    general: Permission
    withdrawal: bool
    account_uid: str = ""

    @property
    def can_trade(self) -> bool:
        return self.general is Permission.FULL


@dataclass(frozen=True)
class ExchangeCapabilities:
    """What a transport can do natively; the pipeline adapts, it never assumes."""

    order_lookup_by_client_id: bool = True
    trigger_signals: tuple[TriggerSignal, ...] = field(
        default=(TriggerSignal.MARK, TriggerSignal.INDEX, TriggerSignal.LAST)
    )
    # The signal the worst-case stop triggers on with this transport (REST: mark; the Unified WebSocket offers
    # only index and last). Shown to the trader with the stop; always one of ``trigger_signals``.
    stop_trigger_signal: TriggerSignal = TriggerSignal.MARK
    # Its reads are network round trips that may overlap (REST): a caller may issue several at once. False where a
    # read is answered from local state or a database (streams, paper), so nothing is gained and threads only cost.
    concurrent_reads: bool = False


@runtime_checkable
class Exchange(Protocol):
    """A connected exchange account. Every method raises only ``exchanges.errors`` exceptions."""

    capabilities: ExchangeCapabilities
    # The market this account trades in, named so that accounts reading the same instrument list share the name
    # (transport and venue address): instruments are public, so one read serves every account of that market.
    market_id: str

    def instruments(self) -> list[InstrumentSpec]: ...

    def ticker(self, symbol: str) -> Ticker: ...

    def positions(self) -> list[Position]: ...

    def account(self) -> AccountSummary: ...

    def place_order(self, request: OrderRequest) -> OrderAck:
        """Place one order. Raises OrderRejected for a definitive no, AmbiguousOutcome when unsure.

        Never retried inside the adapter: a retry is the caller's decision after a lookup.
        """
        ...

    def find_order(self, client_order_id: str) -> OrderStatus | None:
        """The order with this client id, open or recently finished, or None if the venue has no trace."""
        ...

    def open_orders(self) -> list[OrderStatus]: ...

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
        """Change a resting order in place: ``size`` is its new total size (filled part included), ``stop_price``
        its new trigger, ``limit_price`` its new limit; None leaves a field as it is.

        Raises OrderRejected for a definitive no (the order is unchanged - or gone: ``orderForEditNotFound``), and
        AmbiguousOutcome when unsure whether the edit applied (look the order up and compare). Never retried here.
        """
        ...

    def cancel_order(
        self,
        *,
        exchange_order_id: str | None = None,
        client_order_id: str | None = None,
        process_before: datetime | None = None,
    ) -> CancelResult: ...

    def fills_since(self, since: datetime) -> list[Fill]: ...

    def ledger_since(self, since: datetime) -> list[LedgerEntry]: ...

    def key_permissions(self) -> KeyPermissions: ...
