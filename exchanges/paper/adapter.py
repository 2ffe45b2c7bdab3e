"""``PaperExchange``: the ``Exchange`` protocol over a paper account's book.

The same answers, in the same taxonomy, as the live adapter - so the pipeline, the risk checks, the worst-case stop
and reconciliation run unchanged on a paper route:

* prices and instruments come from the venue's public endpoints (``exchanges.paper.market``); nothing here holds a
  key, so nothing here can reach a private endpoint;
* orders are matched by the simulation engine at the current mark with Kraken's rules and Kraken's rejection words
  (``OrderRejected(status)``); a reused client order id is ``AmbiguousOutcome("clientOrderIdAlreadyExist")`` - the
  order landed before, look it up - exactly as the live adapter reports it;
* ``process_before`` is honoured at the moment the book acts (``wouldProcessAfterSpecifiedTime``);
* fees and realised P&L appear in the account log (``ledger_since``), as on Kraken.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Concatenate, ParamSpec, TypeVar

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
    OrderStatus,
    Permission,
    Position,
    Ticker,
    TriggerSignal,
)
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected, Unavailable
from exchanges.paper.book import PaperBook, PaperRefused, Session
from exchanges.paper.market import CachedMarket
from exchanges.sim.model import CancelOutcome, EditOutcome, SubmitResult
from exchanges.sim.vocabulary import Status

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
Method = Callable[Concatenate["PaperExchange", P], R]


def _guarded(fn: Method[P, R]) -> Method[P, R]:
    """Only taxonomy errors leave the adapter. Anything else is a bug in the book; its transaction was rolled back,
    so nothing happened: ``Unavailable`` (logged with its traceback), never a guess."""

    @functools.wraps(fn)
    def wrapper(self: PaperExchange, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(self, *args, **kwargs)
        except ExchangeError:
            raise
        except PaperRefused as exc:
            raise Unavailable(str(exc), venue_code="paperRefused") from None
        except Exception as exc:
            log.exception("paper %s: unexpected error", fn.__name__)
            raise Unavailable(
                f"paper {fn.__name__}: unexpected {type(exc).__name__}", venue_code="unexpected"
            ) from None

    return wrapper


def _late(process_before: datetime | None, now: datetime) -> bool:
    return process_before is not None and now > process_before


class PaperExchange:
    capabilities = ExchangeCapabilities(
        order_lookup_by_client_id=True,
        trigger_signals=(TriggerSignal.MARK, TriggerSignal.INDEX, TriggerSignal.LAST),
    )

    def __init__(
        self,
        account_pk: int,
        market: CachedMarket,
        *,
        clock: Callable[[], datetime],
        default_balance: Decimal = Decimal(0),
    ) -> None:
        self.market = market
        # Paper prices from the live venue's public reads, through the process's one cache of them.
        self.market_id = f"paper {market.feed!r}"
        self.book = PaperBook(account_pk, market, clock=clock, default_balance=default_balance)

    def __repr__(self) -> str:
        return f"PaperExchange(account={self.book.account_pk}, market={self.market!r})"

    # -- market data: the venue's public endpoints, as they are ---------------------------------------------------

    @_guarded
    def instruments(self) -> list[InstrumentSpec]:
        view = self.market.view()
        return [spec for symbol in view.specs if (spec := view.spec(symbol)) is not None]

    @_guarded
    def ticker(self, symbol: str) -> Ticker:
        found = self.market.view().tickers.get(symbol.upper())
        if found is None:
            raise Unavailable(f"no ticker for {symbol.upper()}", venue_code="tickerNotFound")
        return found

    # -- the account ----------------------------------------------------------------------------------------------

    @_guarded
    def positions(self) -> list[Position]:
        return self.book.read(lambda s: [p.to_position() for p in s.engine.positions(s.uid)])

    @_guarded
    def account(self) -> AccountSummary:
        return self.book.read(lambda s: s.engine.account_summary(s.uid))

    @_guarded
    def key_permissions(self) -> KeyPermissions:
        # A paper account trades and can never withdraw: there is nothing to withdraw.
        return self.book.read(lambda s: KeyPermissions(general=Permission.FULL, withdrawal=False, account_uid=s.uid))

    # -- orders ---------------------------------------------------------------------------------------------------

    @_guarded
    def place_order(self, request: OrderRequest) -> OrderAck:
        def act(s: Session) -> SubmitResult:
            if _late(request.process_before, s.now):
                return SubmitResult(status=Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME, order=None)
            if request.client_order_id and s.client_order_id_taken(request.client_order_id):
                return SubmitResult(status=Status.CLIENT_ORDER_ID_ALREADY_EXIST, order=None)
            return s.engine.submit(s.uid, request, now=s.now)

        result: SubmitResult = self.book.write(act, symbols=[request.symbol], order_call=True)
        if result.status == Status.CLIENT_ORDER_ID_ALREADY_EXIST:
            raise AmbiguousOutcome(
                f"client order id {request.client_order_id!r} already exists in the paper account (the order landed)",
                venue_code=Status.CLIENT_ORDER_ID_ALREADY_EXIST,
            )
        if not result.accepted or result.order is None:
            raise OrderRejected(result.status, f"paper account rejected the order: {result.status}")
        order = result.order
        return OrderAck(
            exchange_order_id=order.order_id,
            client_order_id=order.client_order_id or request.client_order_id,
            received_time=order.received_time,
            status=result.status,
            fills=tuple(f.to_fill() for f in result.fills),
            reduced_size=result.reduced_quantity,
        )

    @_guarded
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
        if not exchange_order_id and not client_order_id:
            raise OrderRejected("localValidation", "edit_order needs an exchange or client order id")

        def act(s: Session) -> tuple[EditOutcome, datetime]:
            if _late(process_before, s.now):
                return EditOutcome(status=Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME, order=None), s.now
            outcome = s.engine.edit(
                s.uid,
                order_id=exchange_order_id or None,
                client_order_id=None if exchange_order_id else client_order_id,
                size=size,  # the protocol's size is the new total, filled part included: Kraken's ABSOLUTE mode
                limit_price=limit_price,
                stop_price=stop_price,
                absolute=True,
                now=s.now,
            )
            return outcome, s.now

        outcome, now = self.book.write(act, order_call=True)
        if outcome.status != Status.EDITED or outcome.order is None:
            raise OrderRejected(outcome.status, f"paper account refused the edit: {outcome.status}")
        order = outcome.order
        return EditAck(
            exchange_order_id=order.order_id,
            client_order_id=order.client_order_id,
            received_time=now,
            status=outcome.status,
            order=order.to_order_status(),
            fills=tuple(f.to_fill() for f in outcome.fills),
        )

    @_guarded
    def cancel_order(
        self,
        *,
        exchange_order_id: str | None = None,
        client_order_id: str | None = None,
        process_before: datetime | None = None,
    ) -> CancelResult:
        if not exchange_order_id and not client_order_id:
            raise OrderRejected("localValidation", "cancel_order needs an exchange or client order id")

        def act(s: Session) -> CancelOutcome:
            if _late(process_before, s.now):
                return CancelOutcome(status=Status.WOULD_PROCESS_AFTER_SPECIFIED_TIME, order=None)
            by_id = exchange_order_id or None
            by_client = None if by_id else client_order_id
            outcome = s.engine.cancel(s.uid, order_id=by_id, client_order_id=by_client, now=s.now)
            if outcome.status == Status.NOT_FOUND:
                # The live book no longer holds finished orders; Kraken answers "filled" for a filled one.
                done = s.archived_order(order_id=by_id, client_order_id=by_client)
                if done is not None and done.filled > 0 and done.filled >= done.size:
                    return CancelOutcome(status=Status.FILLED, order=done)
            return outcome

        outcome = self.book.write(act, order_call=True)
        if outcome.status == Status.CANCELLED:
            return CancelResult(cancelled=True, status=outcome.status)
        if outcome.status in (Status.FILLED, Status.NOT_FOUND):
            return CancelResult(cancelled=False, status=outcome.status)
        raise OrderRejected(outcome.status, f"paper account refused the cancel: {outcome.status}")

    @_guarded
    def open_orders(self) -> list[OrderStatus]:
        return self.book.read(lambda s: [o.to_order_status() for o in s.engine.open_orders(s.uid)])

    @_guarded
    def find_order(self, client_order_id: str) -> OrderStatus | None:
        def query(s: Session) -> OrderStatus | None:
            live = s.engine.order_by_client_id(s.uid, client_order_id)
            found = live or s.archived_order(client_order_id=client_order_id)
            return found.to_order_status() if found is not None else None

        return self.book.read(query)

    # -- history ----------------------------------------------------------------------------------------------------

    @_guarded
    def fills_since(self, since: datetime) -> list[Fill]:
        _require_aware(since)
        return self.book.read(lambda s: [f.to_fill() for f in s.fills_since(since)])

    @_guarded
    def ledger_since(self, since: datetime) -> list[LedgerEntry]:
        _require_aware(since)
        return self.book.read(lambda s: [row.to_ledger_entry() for row in s.ledger_since(since)])


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise Unavailable("a naive datetime was passed; use an aware UTC datetime", venue_code="localValidation")
