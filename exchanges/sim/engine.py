"""A deterministic matching engine for linear perpetuals, answering in Kraken Futures' vocabulary.

Pure on purpose: no ORM, no settings, no clock (every operation takes ``now``), no network, no randomness (ids come
from counters). Paper trading persists its state; the fake Kraken server puts it behind Kraken's wire format.

Matching model (there is no order book; the mark price is the market):

* ``mkt`` fills at once at mark, as taker (Kraken runs it as an IOC with a 1% protection limit).
* A limit that is marketable against the mark (buy limit >= mark) fills at once at mark, as taker; otherwise it
  rests and fills at its own limit price, as maker, when a later mark crosses it.
* ``post`` is refused if marketable; ``ioc`` is refused if not, and its remainder is cancelled.
* ``stp`` triggers when its signal (mark, index or last) reaches the stop price (buy: signal >= stop, sell:
  signal <= stop); ``take_profit`` the other way round. Without a limit price it becomes a market order, with one a
  limit order. A stop whose condition already holds when it is placed triggers at once.
* reduce-only never grows or flips a position: refused when it cannot reduce, shrunk to the position when larger,
  and re-clamped (or cancelled) at trigger and fill time against the position of that moment.

Checks, in order: unknown market, client id, market state, size step, price tick, reduce-only, post/ioc,
max position, available margin (only for the exposure-increasing part), liquidation. Each answers with Kraken's own
``sendStatus`` word (``exchanges.sim.vocabulary.Status``).
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from exchanges.base import AccountSummary, InstrumentSpec, OrderRequest, Side, TriggerSignal
from exchanges.sim import codec
from exchanges.sim.margin import (
    apply_fill,
    fee,
    increasing_part,
    initial_margin,
    is_multiple,
    maintenance_margin,
    notional,
    round_to_tick,
    sign,
    unrealized_pnl,
)
from exchanges.sim.model import (
    AccountState,
    CancelOutcome,
    ClientIdReuse,
    EditOutcome,
    EngineConfig,
    EngineState,
    LedgerRow,
    MarginSummary,
    OrderHistoryEntry,
    OrderRevision,
    PositionState,
    PriceState,
    SimEvent,
    SimFill,
    SimOrder,
    SimOrderRequest,
    SubmitResult,
)
from exchanges.sim.vocabulary import (
    ORDER_ERROR,
    FillType,
    LedgerInfo,
    OrderKind,
    Reason,
    SimOrderState,
    Status,
)

ZERO = Decimal(0)
ONE = Decimal(1)

Positions = dict[str, tuple[Decimal, Decimal]]  # symbol -> (signed size, average entry)


Method = TypeVar("Method", bound=Callable[..., Any])


def _mutates(method: Method) -> Method:
    @functools.wraps(method)
    def counted(self: SimEngine, *args: Any, **kwargs: Any) -> Any:
        self.revision += 1
        return method(self, *args, **kwargs)

    return counted  # type: ignore[return-value]


class SimEngine:
    def __init__(self, config: EngineConfig | None = None, *, state: EngineState | None = None) -> None:
        if state is not None and config is not None:
            raise ValueError("pass a config or a state, not both")
        self.state = state if state is not None else EngineState(config=config or EngineConfig())
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"orderrail-sim:{self.state.config.id_seed}")
        # Counts calls that may change the state (not kept in it): whoever persists the state saves when it moved.
        self.revision = 0

    @property
    def config(self) -> EngineConfig:
        return self.state.config

    # -- snapshot -----------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return codec.encode(self.state)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SimEngine:
        return cls(state=codec.from_dict(EngineState, dict(raw)))

    # -- set-up -------------------------------------------------------------------------------------------------

    @_mutates
    def add_instrument(
        self,
        spec: InstrumentSpec,
        mark: Decimal,
        *,
        index: Decimal | None = None,
        last: Decimal | None = None,
        now: datetime | None = None,
    ) -> None:
        self.state.instruments[spec.symbol] = spec
        self.state.prices[spec.symbol] = PriceState(mark=mark, index=index or mark, last=last or mark, time=now)

    @_mutates
    def update_instrument(self, symbol: str, **changes: Any) -> InstrumentSpec:
        """Change an instrument's flags (suspended, tradeable, post_only, max_position_size ...)."""
        spec = dataclasses.replace(self.instrument(symbol), **changes)
        self.state.instruments[symbol] = spec
        return spec

    def instrument(self, symbol: str) -> InstrumentSpec:
        return self.state.instruments[symbol]

    def instruments(self) -> list[InstrumentSpec]:
        return list(self.state.instruments.values())

    @_mutates
    def add_account(self, account_id: str, collateral: Decimal = ZERO, *, now: datetime) -> AccountState:
        _check_now(now)
        if account_id in self.state.accounts:
            raise ValueError(f"account {account_id!r} exists")
        account = AccountState(account_id=account_id, collateral=ZERO)
        self.state.accounts[account_id] = account
        if collateral:
            self.fund(account_id, collateral, now=now)
        return account

    @_mutates
    def fund(
        self, account_id: str, amount: Decimal, *, now: datetime, info: str = LedgerInfo.CROSS_EXCHANGE_TRANSFER
    ) -> Decimal:
        """Add (or, negative, remove) USD collateral; returns the new balance."""
        _check_now(now)
        account = self._account(account_id)
        new_balance = account.collateral + amount
        if new_balance < 0:
            raise ValueError("collateral cannot go negative")
        self._ledger(
            account,
            time=now,
            info=info,
            asset="usd",
            old_balance=account.collateral,
            new_balance=new_balance,
            collateral="USD",
        )
        account.collateral = new_balance
        return new_balance

    @_mutates
    def set_client_order_id_reuse(self, reuse: ClientIdReuse | str) -> None:
        """Whether a finished order's client id may be used again (see ``ClientIdReuse``)."""
        self.state.config = dataclasses.replace(self.config, client_order_id_reuse=ClientIdReuse(reuse))

    @_mutates
    def set_liquidity(self, symbol: str, max_fill_size: Decimal | None) -> None:
        if max_fill_size is None:
            self.state.liquidity.pop(symbol, None)
        elif max_fill_size <= 0:
            raise ValueError("max_fill_size must be positive (None removes the cap)")
        else:
            self.state.liquidity[symbol] = max_fill_size

    # -- prices -------------------------------------------------------------------------------------------------

    def price(self, symbol: str) -> PriceState:
        return self.state.prices[symbol]

    @_mutates
    def set_price(
        self,
        symbol: str,
        mark: Decimal,
        index: Decimal | None = None,
        last: Decimal | None = None,
        *,
        now: datetime,
    ) -> list[SimEvent]:
        """Move the market; triggers stops and fills resting limits the new prices cross, in placement order."""
        _check_now(now)
        self.instrument(symbol)
        if any(p is not None and not (p.is_finite() and p > 0) for p in (mark, index, last)):
            raise ValueError("prices must be positive and finite")
        self.state.prices[symbol] = PriceState(
            mark=mark, index=mark if index is None else index, last=mark if last is None else last, time=now
        )
        events: list[SimEvent] = []
        for order in self._live_orders(symbol=symbol):
            # An earlier order in this pass may have changed this one's fate (a reduce-only lapsing).
            if not order.state.is_live:
                continue
            if order.state is SimOrderState.TRIGGER_PLACED:
                if self._trigger_hit(order):
                    events.extend(self._activate(order, now))
            elif order.working_kind.rests and self._marketable(order):
                events.extend(self._maker_fill(order, now))
        return events

    # -- orders -------------------------------------------------------------------------------------------------

    @_mutates
    def submit(self, account_id: str, request: SimOrderRequest | OrderRequest, *, now: datetime) -> SubmitResult:
        _check_now(now)
        req = request if isinstance(request, SimOrderRequest) else SimOrderRequest.from_order_request(request)
        account = self._account(account_id)
        spec = self.state.instruments.get(req.symbol)
        if spec is None:
            return SubmitResult(status=Status.UNKNOWN_MARKET, order=None)
        cid = req.client_order_id
        if cid is not None:
            if len(cid) > self.config.max_client_order_id_length:
                return SubmitResult(status=Status.CLIENT_ORDER_ID_TOO_BIG, order=None)
            if self._client_order_id_taken(account, cid):
                return SubmitResult(status=Status.CLIENT_ORDER_ID_ALREADY_EXIST, order=None)

        order = self._new_order(account, req, now)
        status = self._static_check(spec, req)
        if status:
            return self._reject(order, status, now)
        reduced: Decimal | None = None
        if order.reduce_only:
            ok, reduced = self._clamp_reduce_only(order)
            if not ok:
                return self._reject(order, Status.WOULD_NOT_REDUCE_POSITION, now)
        if order.kind.is_trigger:
            self._accept(order, SimOrderState.TRIGGER_PLACED, "TRIGGER_PLACED", now)
            fills: list[SimFill] = []
            if self._trigger_hit(order):
                fills = [e.fill for e in self._activate(order, now) if e.fill is not None]
            return SubmitResult(status=Status.PLACED, order=order, fills=fills, reduced_quantity=reduced)
        if order.kind is OrderKind.MARKET:
            order.protection_price = self._protection_price(order)
        status = self._check_live(order)
        if status:
            return self._reject(order, status, now)
        self._accept(order, SimOrderState.OPEN, "PLACED", now)
        fills = self._execute_immediate(order, now, FillType.TAKER, taker_reduced=reduced)
        return SubmitResult(status=Status.PLACED, order=order, fills=fills, reduced_quantity=reduced)

    @_mutates
    def cancel(
        self,
        account_id: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        now: datetime,
        reason: str = Reason.CANCELLED_BY_USER,
    ) -> CancelOutcome:
        _check_now(now)
        order = self._lookup(account_id, order_id, client_order_id)
        if order is None or order.state in (
            SimOrderState.CANCELLED,
            SimOrderState.REJECTED,
            SimOrderState.TRIGGER_FAILED,
        ):
            return CancelOutcome(status=Status.NOT_FOUND, order=None)
        if order.state is SimOrderState.FILLED:
            return CancelOutcome(status=Status.FILLED, order=order)
        self._finish(order, SimOrderState.CANCELLED, reason, now)
        return CancelOutcome(status=Status.CANCELLED, order=order)

    @_mutates
    def cancel_all(
        self, account_id: str, symbol: str | None = None, *, now: datetime, reason: str = Reason.CANCELLED_BY_USER
    ) -> list[SimOrder]:
        _check_now(now)
        self._account(account_id)
        cancelled = []
        for order in self._live_orders(account_id=account_id, symbol=symbol):
            self._finish(order, SimOrderState.CANCELLED, reason, now)
            cancelled.append(order)
        return cancelled

    @_mutates
    def edit(
        self,
        account_id: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        size: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        absolute: bool = False,
        now: datetime,
    ) -> EditOutcome:
        """Kraken's editorder: ``size`` is the new open size (qtyMode RELATIVE) or, ``absolute``, the new total."""
        _check_now(now)
        order = self._lookup(account_id, order_id, client_order_id)
        if order is None or not order.state.is_live:
            return EditOutcome(status=Status.ORDER_FOR_EDIT_NOT_FOUND, order=None)
        if stop_price is not None and order.state is not SimOrderState.TRIGGER_PLACED:
            return EditOutcome(status=Status.ORDER_FOR_EDIT_NOT_A_STOP, order=order)
        spec = self.instrument(order.symbol)
        new_size = order.size
        if size is not None:
            new_size = size if absolute else order.filled + size
            if not _valid_step(size, spec.size_step) or new_size <= order.filled:
                return EditOutcome(status=Status.INVALID_SIZE, order=order)
        for price in (limit_price, stop_price):
            if price is not None and not _valid_step(price, spec.tick_size):
                return EditOutcome(status=Status.INVALID_PRICE, order=order)
        if limit_price is not None and order.working_kind is OrderKind.MARKET:
            return EditOutcome(status=Status.INVALID_PRICE, order=order)

        before = order.revision()
        saved = (order.size, order.limit_price, order.stop_price, order.reduced_quantity)
        order.size = new_size
        order.limit_price = order.limit_price if limit_price is None else limit_price
        order.stop_price = order.stop_price if stop_price is None else stop_price

        def restore(status: str) -> EditOutcome:
            order.size, order.limit_price, order.stop_price, order.reduced_quantity = saved
            return EditOutcome(status=status, order=order)

        reduced: Decimal | None = None
        if order.reduce_only:
            ok, reduced = self._clamp_reduce_only(order)
            if not ok:
                return restore(Status.WOULD_NOT_REDUCE_POSITION)
        if order.state is not SimOrderState.TRIGGER_PLACED:
            status = self._check_live(order)
            if status:
                return restore(status)
        order.last_update_time = now
        order.reason = Reason.EDITED_BY_USER
        order.history.append(
            OrderHistoryEntry(
                time=now, event="EDITED", reason=Reason.EDITED_BY_USER, before=before, after=order.revision()
            )
        )
        fills: list[SimFill] = []
        if order.state is SimOrderState.TRIGGER_PLACED:
            if self._trigger_hit(order):
                fills = [e.fill for e in self._activate(order, now) if e.fill is not None]
        else:
            fills = self._execute_immediate(order, now, FillType.TAKER_AFTER_EDIT, prior_edit=before)
        return EditOutcome(status=Status.EDITED, order=order, before=before, fills=fills, reduced_quantity=reduced)

    # -- queries ------------------------------------------------------------------------------------------------

    def order(self, account_id: str, order_id: str) -> SimOrder | None:
        order = self.state.orders.get(order_id)
        return order if order is not None and order.account_id == account_id else None

    def order_by_client_id(self, account_id: str, client_order_id: str) -> SimOrder | None:
        """The accepted order with this id; failing that, the latest rejected attempt that carried it."""
        account = self._account(account_id)
        order_id = account.client_order_ids.get(client_order_id)
        if order_id is not None:
            return self.state.orders[order_id]
        attempts = [
            o for o in self.state.orders.values() if o.account_id == account_id and o.client_order_id == client_order_id
        ]
        return attempts[-1] if attempts else None

    def orders(self, account_id: str) -> list[SimOrder]:
        return [o for o in self.state.orders.values() if o.account_id == account_id]

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[SimOrder]:
        return self._live_orders(account_id=account_id, symbol=symbol)

    def fills(self, account_id: str, symbol: str | None = None) -> list[SimFill]:
        return [f for f in self.state.fills if f.account_id == account_id and (symbol is None or f.symbol == symbol)]

    def positions(self, account_id: str) -> list[PositionState]:
        return list(self._account(account_id).positions.values())

    def position(self, account_id: str, symbol: str) -> Decimal:
        held = self._account(account_id).positions.get(symbol)
        return held.size if held else ZERO

    def ledger(self, account_id: str) -> list[LedgerRow]:
        return list(self._account(account_id).ledger)

    def margin(self, account_id: str) -> MarginSummary:
        account = self._account(account_id)
        return self._margin_of(account_id, account.collateral, _positions(account))

    def account_summary(self, account_id: str) -> AccountSummary:
        m = self.margin(account_id)
        return AccountSummary(
            currency="USD",
            equity=m.equity,
            available_margin=m.available_margin,
            initial_margin=m.initial_margin_with_orders,
            maintenance_margin=m.maintenance_margin,
        )

    def accounts(self) -> list[str]:
        return list(self.state.accounts)

    # -- internals: ids, lookups --------------------------------------------------------------------------------

    def _next_id(self, kind: str) -> str:
        n = self.state.counters.get(kind, 0) + 1
        self.state.counters[kind] = n
        return str(uuid.uuid5(self._namespace, f"{kind}:{n}"))

    def _next_seq(self) -> int:
        n = self.state.counters.get("seq", 0) + 1
        self.state.counters["seq"] = n
        return n

    def _client_order_id_taken(self, account: AccountState, client_order_id: str) -> bool:
        holder = account.client_order_ids.get(client_order_id)
        if holder is None:
            return False
        if self.config.client_order_id_reuse is ClientIdReuse.WHILE_OPEN:
            return self.state.orders[holder].state.is_live
        return True

    def _account(self, account_id: str) -> AccountState:
        try:
            return self.state.accounts[account_id]
        except KeyError:
            raise KeyError(f"unknown account {account_id!r}") from None

    def _lookup(self, account_id: str, order_id: str | None, client_order_id: str | None) -> SimOrder | None:
        if order_id is not None:
            return self.order(account_id, order_id)
        if client_order_id is not None:
            return self.order_by_client_id(account_id, client_order_id)
        return None

    def _live_orders(self, *, account_id: str | None = None, symbol: str | None = None) -> list[SimOrder]:
        return [
            o
            for o in self.state.orders.values()
            if o.state.is_live
            and (account_id is None or o.account_id == account_id)
            and (symbol is None or o.symbol == symbol)
        ]

    # -- internals: order lifecycle -----------------------------------------------------------------------------

    def _new_order(self, account: AccountState, req: SimOrderRequest, now: datetime) -> SimOrder:
        order = SimOrder(
            order_id=self._next_id("order"),
            account_id=account.account_id,
            seq=self._next_seq(),
            symbol=req.symbol,
            side=req.side,
            kind=req.kind,
            requested_size=req.size,
            size=req.size,
            filled=ZERO,
            client_order_id=req.client_order_id,
            # Kraken ignores a limit on mkt (it sets its own protection limit).
            limit_price=None if req.kind is OrderKind.MARKET else req.limit_price,
            stop_price=req.stop_price if req.kind.is_trigger else None,
            trigger_signal=req.trigger_signal if req.kind.is_trigger else None,
            reduce_only=req.reduce_only,
            received_time=now,
            last_update_time=now,
            state=SimOrderState.REJECTED,  # until accepted; a rejected order keeps this
        )
        self.state.orders[order.order_id] = order
        return order

    def _static_check(self, spec: InstrumentSpec, req: SimOrderRequest) -> str | None:
        if not spec.can_trade:
            return Status.MARKET_SUSPENDED
        if spec.kind != "flexible_futures":
            return Status.UNSUPPORTED_INSTRUMENT
        if spec.post_only and req.kind is not OrderKind.POST:
            return Status.MARKET_IS_POST_ONLY
        if not _valid_step(req.size, spec.size_step):
            return Status.INVALID_SIZE
        needs_limit = req.kind in (OrderKind.LIMIT, OrderKind.POST, OrderKind.IOC)
        if needs_limit and (req.limit_price is None or not _valid_step(req.limit_price, spec.tick_size)):
            return Status.INVALID_PRICE
        if req.kind.is_trigger:
            if req.stop_price is None or not _valid_step(req.stop_price, spec.tick_size):
                return Status.INVALID_PRICE
            if req.limit_price is not None and not _valid_step(req.limit_price, spec.tick_size):
                return Status.INVALID_PRICE
        return None

    def _reject(self, order: SimOrder, status: str, now: datetime) -> SubmitResult:
        order.state = SimOrderState.REJECTED
        order.reject_status = status
        order.error = ORDER_ERROR.get(status)
        order.reason = {
            Status.POST_WOULD_EXECUTE: Reason.POST_WOULD_EXECUTE,
            Status.IOC_WOULD_NOT_EXECUTE: Reason.IOC_WOULD_NOT_EXECUTE,
            Status.WOULD_NOT_REDUCE_POSITION: Reason.WOULD_NOT_REDUCE_POSITION,
        }.get(status, Reason.NEW_USER_ORDER)
        order.history.append(
            OrderHistoryEntry(
                time=now, event="REJECTED", reason=order.reason, after=order.revision(), error=order.error
            )
        )
        return SubmitResult(status=status, order=order)

    def _accept(self, order: SimOrder, state: SimOrderState, event: str, now: datetime) -> None:
        order.state = state
        order.reason = Reason.NEW_USER_ORDER
        if order.client_order_id is not None:
            self._account(order.account_id).client_order_ids[order.client_order_id] = order.order_id
        order.history.append(
            OrderHistoryEntry(time=now, event=event, reason=Reason.NEW_USER_ORDER, after=order.revision())
        )

    def _finish(
        self, order: SimOrder, state: SimOrderState, reason: str, now: datetime, error: str | None = None
    ) -> None:
        before = order.revision()
        order.state = state
        order.reason = reason
        order.error = error
        order.last_update_time = now
        event = {
            SimOrderState.CANCELLED: "CANCELLED",
            SimOrderState.TRIGGER_FAILED: "TRIGGER_FAILED",
        }[state]
        order.history.append(
            OrderHistoryEntry(time=now, event=event, reason=reason, before=before, after=order.revision(), error=error)
        )

    def _clamp_reduce_only(self, order: SimOrder) -> tuple[bool, Decimal | None]:
        """(can reduce?, amount removed). Shrinks the order to the position of this moment when larger."""
        position = self.position(order.account_id, order.symbol)
        if position == 0 or sign(position) == order.side.sign:
            return False, None
        if order.remaining > abs(position):
            removed = order.remaining - abs(position)
            order.size -= removed
            order.reduced_quantity = (order.reduced_quantity or ZERO) + removed
            return True, removed
        return True, None

    def _trigger_hit(self, order: SimOrder) -> bool:
        prices = self.price(order.symbol)
        signal = {TriggerSignal.MARK: prices.mark, TriggerSignal.INDEX: prices.index, TriggerSignal.LAST: prices.last}[
            order.trigger_signal or TriggerSignal.MARK
        ]
        assert order.stop_price is not None
        return signal >= order.stop_price if _triggers_above(order) else signal <= order.stop_price

    def _activate(self, order: SimOrder, now: datetime) -> list[SimEvent]:
        before = order.revision()
        order.triggered = True
        order.trigger_time = now
        order.last_update_time = now
        if order.working_kind is OrderKind.MARKET:
            order.protection_price = self._protection_price(order)
        reduced: Decimal | None = None
        if order.reduce_only:
            ok, reduced = self._clamp_reduce_only(order)
            if not ok:
                # The position it was protecting is gone (or turned): a reduce-only stop lapses, never opens one.
                self._finish(order, SimOrderState.CANCELLED, Reason.WOULD_NOT_REDUCE_POSITION, now)
                return [self._event("cancelled", order, reason=Reason.WOULD_NOT_REDUCE_POSITION)]
        status = self._check_live(order)
        if status:
            self._finish(order, SimOrderState.TRIGGER_FAILED, Reason.NOT_ENOUGH_MARGIN, now, error=ORDER_ERROR[status])
            order.reject_status = status
            return [self._event("trigger_failed", order, reason=status)]
        order.state = SimOrderState.OPEN
        order.reason = Reason.STOP_ORDER_TRIGGERED if order.limit_price is None else Reason.LIMIT_FROM_STOP
        order.history.append(
            OrderHistoryEntry(
                time=now, event="TRIGGER_ACTIVATED", reason=order.reason, before=before, after=order.revision()
            )
        )
        events = [self._event("triggered", order, reason=order.reason)]
        for fill in self._execute_immediate(order, now, FillType.TAKER, taker_reduced=reduced):
            events.append(self._event("fill", order, fill=fill))
        if order.state is SimOrderState.CANCELLED:
            events.append(self._event("cancelled", order, reason=order.reason))
        return events

    def _maker_fill(self, order: SimOrder, now: datetime) -> list[SimEvent]:
        reduced: Decimal | None = None
        if order.reduce_only:
            ok, reduced = self._clamp_reduce_only(order)
            if not ok:
                self._finish(order, SimOrderState.CANCELLED, Reason.WOULD_NOT_REDUCE_POSITION, now)
                return [self._event("cancelled", order, reason=Reason.WOULD_NOT_REDUCE_POSITION)]
        assert order.limit_price is not None
        size = self._cap(order.symbol, order.remaining)
        fill = self._fill(order, size, order.limit_price, FillType.MAKER, now, taker_reduced=reduced)
        return [self._event("fill", order, fill=fill)]

    def _execute_immediate(
        self,
        order: SimOrder,
        now: datetime,
        fill_type: FillType,
        *,
        taker_reduced: Decimal | None = None,
        prior_edit: OrderRevision | None = None,
    ) -> list[SimFill]:
        fills = []
        if self._marketable(order):
            spec = self.instrument(order.symbol)
            price = self._taker_price(order, spec)
            size = self._cap(order.symbol, order.remaining)
            fills.append(
                self._fill(order, size, price, fill_type, now, taker_reduced=taker_reduced, prior_edit=prior_edit)
            )
        if order.remaining > 0 and not order.working_kind.rests:
            # An IOC (and so a market order) never rests: what the market could not take is cancelled.
            self._finish(order, SimOrderState.CANCELLED, Reason.IOC_WOULD_NOT_EXECUTE, now)
        return fills

    def _fill(
        self,
        order: SimOrder,
        size: Decimal,
        price: Decimal,
        fill_type: FillType,
        now: datetime,
        *,
        taker_reduced: Decimal | None = None,
        prior_edit: OrderRevision | None = None,
    ) -> SimFill:
        account = self._account(order.account_id)
        spec = self.instrument(order.symbol)
        mark = self.price(order.symbol).mark
        held = account.positions.get(order.symbol)
        size_before = held.size if held else ZERO
        average_before = held.average_price if held else ZERO
        size_after, average_after, realized = apply_fill(
            size_before, average_before, order.side.sign * size, price, spec.contract_size
        )
        rate = self.config.maker_fee if fill_type is FillType.MAKER else self.config.taker_fee
        paid = self._money(fee(size, price, rate, spec))
        realized = self._money(realized)
        old_balance = account.collateral
        account.collateral = old_balance + realized - paid

        if size_after == 0:
            account.positions.pop(order.symbol, None)
        elif held is None or sign(size_after) != sign(size_before):
            account.positions[order.symbol] = PositionState(
                symbol=order.symbol, size=size_after, average_price=average_after, opened_time=now, last_fill_time=now
            )
        else:
            held.size = size_after
            held.average_price = average_after
            held.last_fill_time = now

        order_before = order.revision()
        order.filled += size
        order.last_update_time = now
        if order.remaining == 0:
            order.state, order.reason = SimOrderState.FILLED, Reason.FULL_FILL
        else:
            order.state, order.reason = SimOrderState.PARTIALLY_FILLED, Reason.PARTIAL_FILL

        fill = SimFill(
            fill_id=self._next_id("fill"),
            order_id=order.order_id,
            account_id=order.account_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            size=size,
            price=price,
            time=now,
            fill_type=fill_type,
            fee=paid,
            realized_pnl=realized,
            mark_price=mark,
            position_before=size_before,
            position_after=size_after,
            average_before=average_before,
            average_after=average_after,
            order_before=order_before,
            order_prior_edit=prior_edit,
            taker_reduced_quantity=taker_reduced,
            reduce_only=order.reduce_only,
        )
        self.state.fills.append(fill)
        order.history.append(
            OrderHistoryEntry(
                time=now,
                event="EXECUTED",
                reason=order.reason,
                before=order_before,
                after=order.revision(),
                execution_id=fill.fill_id,
            )
        )
        contract = order.symbol.lower()
        # Kraken writes two account-log rows per trade: the USD leg (fee, realised P&L) and the position leg.
        self._ledger(
            account,
            time=now,
            info=LedgerInfo.FUTURES_TRADE,
            asset="usd",
            old_balance=old_balance,
            new_balance=account.collateral,
            contract=contract,
            execution=fill.fill_id,
            fee=paid,
            realized_pnl=realized,
            trade_price=price,
            mark_price=mark,
            realized_funding=ZERO,
            collateral="USD",
        )
        self._ledger(
            account,
            time=now,
            info=LedgerInfo.FUTURES_TRADE,
            asset=contract,
            old_balance=size_before,
            new_balance=size_after,
            contract=contract,
            execution=fill.fill_id,
            trade_price=price,
            mark_price=mark,
            old_average_entry_price=average_before if size_before else None,
            new_average_entry_price=average_after if size_after else None,
            collateral="USD",
        )
        return fill

    def _ledger(self, account: AccountState, **fields: Any) -> LedgerRow:
        row = LedgerRow(
            id=self.config.ledger_id_start + len(account.ledger), booking_uid=self._next_id("booking"), **fields
        )
        account.ledger.append(row)
        return row

    def _event(self, kind: str, order: SimOrder, *, fill: SimFill | None = None, reason: str = "") -> SimEvent:
        return SimEvent(kind=kind, order_id=order.order_id, account_id=order.account_id, fill=fill, reason=reason)

    # -- internals: prices and margin ---------------------------------------------------------------------------

    def _money(self, amount: Decimal) -> Decimal:
        return amount.quantize(self.config.money_quantum, rounding=ROUND_HALF_EVEN)

    def _cap(self, symbol: str, size: Decimal) -> Decimal:
        cap = self.state.liquidity.get(symbol)
        return size if cap is None else min(size, cap)

    def _marketable(self, order: SimOrder) -> bool:
        if order.working_kind is OrderKind.MARKET:
            return True
        mark = self.price(order.symbol).mark
        assert order.limit_price is not None
        return order.limit_price >= mark if order.side is Side.BUY else order.limit_price <= mark

    def _protection_price(self, order: SimOrder) -> Decimal:
        spec = self.instrument(order.symbol)
        mark = self.price(order.symbol).mark
        p = self.config.market_protection
        if order.side is Side.BUY:
            return round_to_tick(mark * (ONE + p), spec.tick_size, up=False)
        return round_to_tick(mark * (ONE - p), spec.tick_size, up=True)

    def _taker_price(self, order: SimOrder, spec: InstrumentSpec) -> Decimal:
        mark = self.price(order.symbol).mark
        slip = self.config.taker_slippage
        if not slip:
            return mark
        buy = order.side is Side.BUY
        price = round_to_tick(mark * (ONE + slip if buy else ONE - slip), spec.tick_size, up=buy)
        cap = order.protection_price if order.working_kind is OrderKind.MARKET else order.limit_price
        if cap is not None:
            price = min(price, cap) if buy else max(price, cap)
        return price

    def _margin_of(
        self, account_id: str, collateral: Decimal, positions: Positions, *, exclude: str | None = None
    ) -> MarginSummary:
        upnl = im = mm = ZERO
        for symbol, (size, average) in positions.items():
            if size == 0:
                continue
            spec = self.instrument(symbol)
            mark = self.price(symbol).mark
            upnl += unrealized_pnl(size, average, mark, spec)
            im += initial_margin(size, mark, spec)
            mm += maintenance_margin(size, mark, spec)
        return MarginSummary(
            collateral=collateral,
            unrealized_pnl=upnl,
            initial_margin=im,
            order_margin=self._order_margin(account_id, positions, exclude=exclude),
            maintenance_margin=mm,
        )

    def _order_margin(self, account_id: str, positions: Positions, *, exclude: str | None = None) -> Decimal:
        """Initial margin held by resting orders for the exposure they would add (untriggered stops hold none)."""
        total = ZERO
        for order in self._live_orders(account_id=account_id):
            if order.order_id == exclude or order.reduce_only or order.state is SimOrderState.TRIGGER_PLACED:
                continue
            if not order.working_kind.rests or order.limit_price is None:
                continue
            total += self._resting_margin(order, positions.get(order.symbol, (ZERO, ZERO))[0], order.remaining)
        return total

    def _resting_margin(self, order: SimOrder, position: Decimal, size: Decimal) -> Decimal:
        if size == 0 or order.reduce_only:
            return ZERO
        signed = order.side.sign * size
        adds = increasing_part(position, signed)
        if adds == 0:
            return ZERO
        spec = self.instrument(order.symbol)
        assert order.limit_price is not None
        return notional(adds, order.limit_price, spec) * spec.initial_margin_rate(abs(position + signed))

    def _after_fill(self, order: SimOrder, size: Decimal, price: Decimal) -> tuple[MarginSummary, Decimal]:
        """The account's margin (and this symbol's position) if ``size`` of ``order`` filled at ``price``."""
        account = self._account(order.account_id)
        spec = self.instrument(order.symbol)
        positions = _positions(account)
        collateral = account.collateral
        position, average = positions.get(order.symbol, (ZERO, ZERO))
        if size:
            position, average, realized = apply_fill(
                position, average, order.side.sign * size, price, spec.contract_size
            )
            collateral += self._money(realized) - self._money(fee(size, price, self.config.taker_fee, spec))
            positions[order.symbol] = (position, average)
        return self._margin_of(account.account_id, collateral, positions, exclude=order.order_id), position

    def _check_live(self, order: SimOrder) -> str | None:
        """The checks that depend on the market and the account, for an order about to work (placed or triggered)."""
        account = self._account(order.account_id)
        spec = self.instrument(order.symbol)
        kind = order.working_kind
        marketable = self._marketable(order)
        if kind is OrderKind.POST and marketable:
            return Status.POST_WOULD_EXECUTE
        if kind is OrderKind.IOC and not marketable:
            return Status.IOC_WOULD_NOT_EXECUTE

        position = self.position(order.account_id, order.symbol)
        if (
            not order.reduce_only
            and spec.max_position_size is not None
            and abs(position + order.side.sign * order.remaining) > spec.max_position_size
        ):
            return Status.MAX_POSITION_VIOLATION

        before = self._margin_of(account.account_id, account.collateral, _positions(account), exclude=order.order_id)
        fill_size = self._cap(order.symbol, order.remaining) if marketable else ZERO
        rest = order.remaining - fill_size if kind.rests else ZERO
        mark = self.price(order.symbol).mark
        # Margin is judged as if the fill happened at mark; liquidation at the price it would really get, which
        # only differs from mark with taker slippage (Kraken: "would fill at a worse price than the mark price").
        at_mark, position_after = self._after_fill(order, fill_size, mark)
        adds_now = ZERO if order.reduce_only else increasing_part(position, order.side.sign * fill_size)
        rest_margin = self._resting_margin(order, position_after, rest)
        if (adds_now > 0 or rest_margin > 0) and at_mark.available_margin - rest_margin < 0:
            return Status.INSUFFICIENT_AVAILABLE_FUNDS
        if fill_size:
            actual, _ = self._after_fill(order, fill_size, self._taker_price(order, spec))
            # Only a trade that leaves equity under maintenance *and* worsens the buffer is refused, so that an
            # account already underwater can still reduce (the engine never liquidates on its own).
            buffer_before = before.equity - before.maintenance_margin
            buffer_after = actual.equity - actual.maintenance_margin
            if buffer_after < 0 and buffer_after < buffer_before:
                return Status.WOULD_CAUSE_LIQUIDATION
        return None


def _triggers_above(order: SimOrder) -> bool:
    # A buy stop and a sell take-profit wait for the price to rise; the other two for it to fall.
    return (order.kind is OrderKind.STOP) == (order.side is Side.BUY)


def _positions(account: AccountState) -> Positions:
    return {s: (p.size, p.average_price) for s, p in account.positions.items()}


def _valid_step(value: Decimal, step: Decimal) -> bool:
    return value.is_finite() and value > 0 and is_multiple(value, step)


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC)")
