"""The engine's state: plain, mutable dataclasses holding only Decimals, datetimes, strings and enums.

Everything here round-trips through ``exchanges.sim.codec`` so that paper trading can persist an account and the
fake server can dump its state. The ``to_*`` methods give the venue-neutral views of ``exchanges.base``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from exchanges.base import (
    Fill,
    InstrumentSpec,
    LedgerEntry,
    Liquidity,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TriggerSignal,
)
from exchanges.sim.vocabulary import FillType, OrderKind, SimOrderState

ZERO = Decimal(0)


class ClientIdReuse(StrEnum):
    """When a client order id may be used again. Kraken's spec says a cliOrdId "must be globally unique", but
    whether an id is refused once its order has finished is unverified (reference §8; Kraken spot only checks open
    orders), so both readings are simulated and callers must be safe under either."""

    FOREVER = "forever"  # refused for as long as any accepted order carried it
    WHILE_OPEN = "while_open"  # refused only while that order is open; free again once it is finished


@dataclass(frozen=True)
class EngineConfig:
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    # Ids are UUID-shaped (clients parse them as such) but derived from counters and this seed, never random.
    id_seed: str = "orderrail-sim"
    # Account-log ids ascend from here, per account (Kraken's are ascending integers). A venue that restarts
    # without its state starts higher than before (the fake uses its start time) so no id is ever seen twice.
    ledger_id_start: int = 1
    max_client_order_id_length: int = 100
    client_order_id_reuse: ClientIdReuse = ClientIdReuse.FOREVER
    # Kraken runs `mkt` as an IOC limited to 1% past the mark; the limit shows up in the order's events.
    market_protection: Decimal = Decimal("0.01")
    # Taker fills happen at mark by default. A non-zero slippage (fraction of mark, never past the order's limit)
    # makes fills worse than mark, which is the one way Kraken's `wouldCauseLiquidation` can be reached.
    taker_slippage: Decimal = ZERO
    # Fees and realised P&L are rounded to this many USD. An average entry price can be a non-terminating decimal;
    # unrounded P&L would carry 28 significant digits and collateral additions would round at the Decimal context's
    # precision, so the books would stop adding up. At 1e-12 every collateral update is exact.
    money_quantum: Decimal = Decimal("1E-12")


@dataclass
class PriceState:
    mark: Decimal
    index: Decimal
    last: Decimal
    time: datetime | None = None


@dataclass
class PositionState:
    symbol: str
    size: Decimal  # signed: long > 0, short < 0
    average_price: Decimal
    opened_time: datetime
    last_fill_time: datetime

    def to_position(self) -> Position:
        return Position(symbol=self.symbol, size=self.size, average_price=self.average_price)


@dataclass
class OrderRevision:
    """What an order looked like at one moment, for event rendering (old/new, orderPriorExecution)."""

    kind: OrderKind
    quantity: Decimal
    filled: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    reduce_only: bool
    triggered: bool
    time: datetime


@dataclass
class OrderHistoryEntry:
    time: datetime
    # PLACED, TRIGGER_PLACED, TRIGGER_ACTIVATED, TRIGGER_FAILED, EXECUTED, EDITED, CANCELLED, REJECTED
    event: str
    reason: str
    after: OrderRevision
    before: OrderRevision | None = None
    error: str | None = None
    execution_id: str | None = None


@dataclass
class SimOrderRequest:
    """An order as the engine takes it: Kraken's order kinds, not just market/limit/stop."""

    symbol: str
    side: Side
    size: Decimal
    kind: OrderKind
    client_order_id: str | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    # Kraken documents no default; mark is the least wick-prone and what the pipeline uses for its stops.
    trigger_signal: TriggerSignal = TriggerSignal.MARK
    reduce_only: bool = False

    @classmethod
    def from_order_request(cls, request: OrderRequest) -> SimOrderRequest:
        kind = {OrderType.MARKET: OrderKind.MARKET, OrderType.LIMIT: OrderKind.LIMIT, OrderType.STOP: OrderKind.STOP}[
            request.order_type
        ]
        return cls(
            symbol=request.symbol,
            side=request.side,
            size=request.size,
            kind=kind,
            client_order_id=request.client_order_id or None,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            trigger_signal=request.trigger_signal or TriggerSignal.MARK,
            reduce_only=request.reduce_only,
        )


@dataclass
class SimOrder:
    order_id: str
    account_id: str
    seq: int  # placement order; triggers and resting orders are worked in this order
    symbol: str
    side: Side
    kind: OrderKind
    requested_size: Decimal
    size: Decimal  # after any reduce-only shrink
    filled: Decimal
    client_order_id: str | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trigger_signal: TriggerSignal | None
    reduce_only: bool
    received_time: datetime
    last_update_time: datetime
    state: SimOrderState
    triggered: bool = False
    trigger_time: datetime | None = None
    reason: str = ""  # the last OrderUpdateReason
    error: str | None = None  # OrderError when rejected or failed
    reject_status: str | None = None  # the sendStatus it was rejected with
    reduced_quantity: Decimal | None = None  # removed by reduce-only clamping, cumulative; None if never reduced
    protection_price: Decimal | None = None  # the 1% limit Kraken gives a market order (shown as an ioc's limit)
    history: list[OrderHistoryEntry] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    @property
    def working_kind(self) -> OrderKind:
        """The kind that matches: a triggered stop works as a market order, or as a limit when it has one."""
        if self.kind.is_trigger and self.triggered:
            return OrderKind.MARKET if self.limit_price is None else OrderKind.LIMIT
        return self.kind

    def revision(self) -> OrderRevision:
        return OrderRevision(
            kind=self.kind,
            quantity=self.size,
            filled=self.filled,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            reduce_only=self.reduce_only,
            triggered=self.triggered,
            time=self.last_update_time,
        )

    def to_order_status(self) -> OrderStatus:
        state = {
            SimOrderState.TRIGGER_PLACED: OrderState.OPEN,
            SimOrderState.OPEN: OrderState.OPEN,
            SimOrderState.PARTIALLY_FILLED: OrderState.PARTIALLY_FILLED,
            SimOrderState.FILLED: OrderState.FILLED,
            SimOrderState.CANCELLED: OrderState.CANCELLED,
            SimOrderState.REJECTED: OrderState.REJECTED,
            SimOrderState.TRIGGER_FAILED: OrderState.REJECTED,
        }[self.state]
        order_type = (
            OrderType.STOP
            if self.kind.is_trigger
            else (OrderType.MARKET if self.kind is OrderKind.MARKET else OrderType.LIMIT)
        )
        return OrderStatus(
            exchange_order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            order_type=order_type,
            size=self.size,
            filled_size=self.filled,
            state=state,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            trigger_signal=self.trigger_signal,
            reduce_only=self.reduce_only,
            venue_status=self.reject_status or self.state.value,
            updated_time=self.last_update_time,
        )


@dataclass
class SimFill:
    fill_id: str  # also the execution id in events and the account log
    order_id: str
    account_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    time: datetime
    fill_type: FillType
    fee: Decimal
    realized_pnl: Decimal
    mark_price: Decimal
    position_before: Decimal
    position_after: Decimal
    average_before: Decimal
    average_after: Decimal
    order_before: OrderRevision  # the order just before this execution (Kraken's orderPriorExecution)
    order_prior_edit: OrderRevision | None = None  # set when an edit made the order execute
    taker_reduced_quantity: Decimal | None = None
    reduce_only: bool = False

    @property
    def liquidity(self) -> Liquidity:
        return Liquidity.MAKER if self.fill_type is FillType.MAKER else Liquidity.TAKER

    def to_fill(self) -> Fill:
        return Fill(
            fill_id=self.fill_id,
            exchange_order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            size=self.size,
            price=self.price,
            time=self.time,
            liquidity=self.liquidity,
        )


@dataclass
class LedgerRow:
    """One account-log row, with Kraken's fields. A trade writes two: the USD leg and the position leg."""

    id: int  # ascending per account, from EngineConfig.ledger_id_start
    booking_uid: str
    time: datetime
    info: str
    asset: str  # "usd" for the cash leg, the lower-cased contract for the position leg
    old_balance: Decimal
    new_balance: Decimal
    contract: str | None = None
    execution: str | None = None
    fee: Decimal | None = None
    realized_pnl: Decimal | None = None
    trade_price: Decimal | None = None
    mark_price: Decimal | None = None
    old_average_entry_price: Decimal | None = None
    new_average_entry_price: Decimal | None = None
    realized_funding: Decimal | None = None
    margin_account: str = "flex"
    collateral: str | None = None

    def to_ledger_entry(self) -> LedgerEntry:
        return LedgerEntry(
            entry_id=str(self.id),
            time=self.time,
            kind=self.info,
            symbol=self.contract.upper() if self.contract else None,
            asset=self.asset,
            fee=self.fee or ZERO,
            realized_pnl=self.realized_pnl or ZERO,
            realized_funding=self.realized_funding or ZERO,
            execution_id=self.execution,
            trade_price=self.trade_price,
            balance_change=self.new_balance - self.old_balance if self.asset == "usd" else ZERO,
        )


@dataclass
class AccountState:
    account_id: str
    collateral: Decimal  # USD
    positions: dict[str, PositionState] = field(default_factory=dict)
    # cliOrdId -> order id of the latest accepted order that carried it, finished ones included.
    client_order_ids: dict[str, str] = field(default_factory=dict)
    ledger: list[LedgerRow] = field(default_factory=list)


@dataclass
class EngineState:
    config: EngineConfig = field(default_factory=EngineConfig)
    instruments: dict[str, InstrumentSpec] = field(default_factory=dict)
    prices: dict[str, PriceState] = field(default_factory=dict)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)  # every order ever, in placement order
    fills: list[SimFill] = field(default_factory=list)
    # Optional cap on the size of one execution, per symbol; what is left of a market order is then cancelled and
    # what is left of a limit rests. Lets tests produce partial fills deterministically.
    liquidity: dict[str, Decimal] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


# -- results ---------------------------------------------------------------------------------------------------------


@dataclass
class MarginSummary:
    collateral: Decimal
    unrealized_pnl: Decimal
    initial_margin: Decimal  # positions only
    order_margin: Decimal  # resting exposure-increasing orders
    maintenance_margin: Decimal

    @property
    def equity(self) -> Decimal:
        return self.collateral + self.unrealized_pnl

    @property
    def initial_margin_with_orders(self) -> Decimal:
        return self.initial_margin + self.order_margin

    @property
    def available_margin(self) -> Decimal:
        return self.equity - self.initial_margin - self.order_margin


@dataclass
class SubmitResult:
    status: str  # Kraken's word, verbatim
    order: SimOrder | None  # None when no order was created (unknown market, duplicate or too-long cliOrdId)
    fills: list[SimFill] = field(default_factory=list)
    reduced_quantity: Decimal | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "placed"


@dataclass
class CancelOutcome:
    status: str  # "cancelled", "filled" or "notFound"
    order: SimOrder | None


@dataclass
class EditOutcome:
    status: str  # "edited" or a rejection word
    order: SimOrder | None
    before: OrderRevision | None = None
    fills: list[SimFill] = field(default_factory=list)
    reduced_quantity: Decimal | None = None


@dataclass
class SimEvent:
    """Something a price change (or the dead man's switch) did to an order."""

    kind: str  # "triggered", "trigger_failed", "fill", "cancelled"
    order_id: str
    account_id: str
    fill: SimFill | None = None
    reason: str = ""
