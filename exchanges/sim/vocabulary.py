"""Kraken Futures' own words, verbatim, so that the engine's answers need no translation table in the fake server.

The engine is venue-neutral in its mechanics (prices, positions, margin) but speaks Kraken's vocabulary in its
results, because the one venue we simulate is Kraken and a second vocabulary would only be a place for drift.
Sources: ``shared/reference/kraken-futures-rest.md`` §4 and the SPEC enums it quotes.
"""

from __future__ import annotations

from enum import StrEnum


class Status:
    """``sendStatus.status`` / ``editStatus.status`` / ``cancelStatus.status`` strings."""

    PLACED = "placed"
    EDITED = "edited"
    CANCELLED = "cancelled"
    FILLED = "filled"
    NOT_FOUND = "notFound"
    NO_ORDERS_TO_CANCEL = "noOrdersToCancel"

    MARKET_SUSPENDED = "marketSuspended"
    MARKET_INACTIVE = "marketInactive"
    MARKET_IS_POST_ONLY = "marketIsPostOnly"
    INVALID_SIZE = "invalidSize"
    INVALID_PRICE = "invalidPrice"
    INSUFFICIENT_AVAILABLE_FUNDS = "insufficientAvailableFunds"
    WOULD_CAUSE_LIQUIDATION = "wouldCauseLiquidation"
    MAX_POSITION_VIOLATION = "maxPositionViolation"
    CLIENT_ORDER_ID_ALREADY_EXIST = "clientOrderIdAlreadyExist"
    CLIENT_ORDER_ID_TOO_BIG = "clientOrderIdTooBig"
    WOULD_NOT_REDUCE_POSITION = "wouldNotReducePosition"
    POST_WOULD_EXECUTE = "postWouldExecute"
    IOC_WOULD_NOT_EXECUTE = "iocWouldNotExecute"
    ORDER_FOR_EDIT_NOT_FOUND = "orderForEditNotFound"
    ORDER_FOR_EDIT_NOT_A_STOP = "orderForEditNotAStop"
    WOULD_PROCESS_AFTER_SPECIFIED_TIME = "wouldProcessAfterSpecifiedTime"

    # Not a sendStatus: an unknown market is answered with a classic error envelope (``error: invalidArgument``,
    # "one or more arguments provided are invalid"), and the engine reports the same word so that a caller can
    # tell "no such market" from an order rejection. Kraken documents no sendStatus for it (OrderError only has
    # MARKET_NOT_FOUND); the choice is ours and unverified.
    UNKNOWN_MARKET = "invalidArgument"
    # Not a Kraken word at all: the engine only models linear (PF_) contracts. Inverse instruments may be listed
    # but orders on them are refused with this, so nobody mistakes it for the venue's behaviour.
    UNSUPPORTED_INSTRUMENT = "unsupportedInstrument"

    ACCEPTED = frozenset({PLACED, EDITED, CANCELLED, FILLED})


# sendStatus -> the OrderError word Kraken puts in REJECT events and in orders/status.error.
ORDER_ERROR: dict[str, str] = {
    Status.MARKET_SUSPENDED: "MARKET_SUSPENDED",
    Status.MARKET_INACTIVE: "MARKET_SUSPENDED",
    Status.MARKET_IS_POST_ONLY: "MARKET_IS_POST_ONLY",
    Status.UNKNOWN_MARKET: "MARKET_NOT_FOUND",
    Status.INVALID_SIZE: "INVALID_QUANTITY",
    Status.INVALID_PRICE: "INVALID_PRICE",
    Status.INSUFFICIENT_AVAILABLE_FUNDS: "INSUFFICIENT_MARGIN",
    Status.WOULD_CAUSE_LIQUIDATION: "WOULD_CAUSE_LIQUIDATION",
    Status.MAX_POSITION_VIOLATION: "MAX_POSITION_EXCEEDED",
    Status.CLIENT_ORDER_ID_ALREADY_EXIST: "CLIENT_ORDER_ID_IN_USE",
    Status.CLIENT_ORDER_ID_TOO_BIG: "CLIENT_ORDER_ID_TOO_LONG",
    Status.WOULD_NOT_REDUCE_POSITION: "WOULD_NOT_REDUCE_POSITION",
    Status.POST_WOULD_EXECUTE: "POST_WOULD_EXECUTE",
    Status.IOC_WOULD_NOT_EXECUTE: "IOC_WOULD_NOT_EXECUTE",
    Status.ORDER_FOR_EDIT_NOT_FOUND: "ORDER_FOR_EDIT_NOT_FOUND",
    Status.UNSUPPORTED_INSTRUMENT: "MARKET_NOT_FOUND",
}


class Reason:
    """``OrderUpdateReason`` words (orders/status ``updateReason``; history events, lower-cased)."""

    NEW_USER_ORDER = "NEW_USER_ORDER"
    STOP_ORDER_TRIGGERED = "STOP_ORDER_TRIGGERED"
    LIMIT_FROM_STOP = "LIMIT_FROM_STOP"
    PARTIAL_FILL = "PARTIAL_FILL"
    FULL_FILL = "FULL_FILL"
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    NOT_ENOUGH_MARGIN = "NOT_ENOUGH_MARGIN"
    DEAD_MAN_SWITCH = "DEAD_MAN_SWITCH"
    CANCELLED_BY_ADMIN = "CANCELLED_BY_ADMIN"
    POST_WOULD_EXECUTE = "POST_WOULD_EXECUTE_REASON"
    IOC_WOULD_NOT_EXECUTE = "IOC_WOULD_NOT_EXECUTE_REASON"
    WOULD_NOT_REDUCE_POSITION = "WOULD_NOT_REDUCE_POSITION"
    EDITED_BY_USER = "EDITED_BY_USER"


class OrderKind(StrEnum):
    """Kraken's ``orderType`` values that the engine models (``trailing_stop`` and ``fok`` are not)."""

    MARKET = "mkt"  # Kraken runs it as an IOC with a 1% protection limit
    LIMIT = "lmt"
    POST = "post"
    IOC = "ioc"
    STOP = "stp"
    TAKE_PROFIT = "take_profit"

    @property
    def is_trigger(self) -> bool:
        return self in (OrderKind.STOP, OrderKind.TAKE_PROFIT)

    @property
    def rests(self) -> bool:
        """Whatever is left after the immediate match stays on the book (the others are cancelled)."""
        return self in (OrderKind.LIMIT, OrderKind.POST)


class SimOrderState(StrEnum):
    TRIGGER_PLACED = "trigger_placed"  # an untriggered stop / take-profit
    OPEN = "open"  # resting, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"  # by the user, the dead man's switch, an IOC remainder or a reduce-only that lapsed
    REJECTED = "rejected"
    TRIGGER_FAILED = "trigger_failed"  # triggered, but the resulting order failed its checks

    @property
    def is_live(self) -> bool:
        return self in (SimOrderState.TRIGGER_PLACED, SimOrderState.OPEN, SimOrderState.PARTIALLY_FILLED)


class FillType(StrEnum):
    """``fills[].fillType`` values the engine produces."""

    MAKER = "maker"
    TAKER = "taker"
    TAKER_AFTER_EDIT = "takerAfterEdit"


class LedgerInfo:
    """Account-log ``info`` values the engine writes."""

    FUTURES_TRADE = "futures trade"
    CROSS_EXCHANGE_TRANSFER = "cross-exchange transfer"
    ADMIN_TRANSFER = "admin transfer"
