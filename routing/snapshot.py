"""Reads the state a decision is made from: the exchange's (instrument, mark, position, margin) and ours (orders
in the last hour, today's realised P&L). Any failure to read becomes `read_error` - never a guess."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from accounts.models import CredentialsUnreadable, ExchangeAccount
from audit.models import Fill, Order
from audit.order_states import OrderState
from exchanges.base import Exchange, InstrumentSpec
from exchanges.connect import exchange_for
from exchanges.errors import ExchangeError
from routing.breaker import breaker_open_until
from routing.domain import InstrumentSnapshot, Snapshot
from routing.models import Route

# Instrument specs change rarely (tick size, step); a short cache saves a request per alert. Tradeability
# (suspension) is read from the ticker every time.
INSTRUMENT_TTL_SECONDS = 60.0
_instruments: dict[str, tuple[float, dict[str, InstrumentSpec]]] = {}
_instruments_lock = threading.Lock()


def read_snapshot(
    route: Route, account: ExchangeAccount | None, now: datetime, *, live_access: bool
) -> tuple[Snapshot, Exchange | None]:
    base = {
        "taken_at": now,
        "account_connected": bool(account and account.connected),
        "credentials_readable": True,
        "live": bool(account and account.mode == ExchangeAccount.Mode.LIVE),
        "live_access": live_access,
        "orders_last_hour": _orders_last_hour(route, now),
        "realized_pnl_today": _realized_pnl_today(route, now),
    }
    if account is None or not account.connected:
        return Snapshot(**base), None
    paused = breaker_open_until(account, now)
    if paused is not None:
        reason = f"Unavailable: circuit breaker open until {paused:%H:%M:%S} UTC after repeated exchange failures"
        return Snapshot(**{**base, "read_error": reason}), None
    try:
        exchange = exchange_for(account)
    except CredentialsUnreadable:
        return Snapshot(**{**base, "credentials_readable": False}), None
    try:
        spec = instrument_spec(exchange, account, route.symbol)
        ticker = exchange.ticker(route.symbol) if spec else None
        position = next((p.size for p in exchange.positions() if p.symbol == route.symbol), Decimal(0))
        summary = exchange.account()
    except ExchangeError as exc:
        return Snapshot(**{**base, "read_error": f"{type(exc).__name__}: {exc.venue_code or exc}"[:200]}), exchange
    instrument = (
        InstrumentSnapshot(
            symbol=spec.symbol,
            tick_size=spec.tick_size,
            size_step=spec.size_step,
            contract_size=spec.contract_size,
            tradeable=spec.tradeable,
            suspended=spec.suspended or bool(ticker and ticker.suspended),
        )
        if spec
        else None
    )
    return (
        Snapshot(
            **base,
            instrument=instrument,
            mark_price=ticker.mark_price if ticker else None,
            position=position,
            equity=summary.equity,
            available_margin=summary.available_margin,
        ),
        exchange,
    )


def instrument_spec(exchange: Exchange, account: ExchangeAccount, symbol: str) -> InstrumentSpec | None:
    key = str(account.pk)
    with _instruments_lock:
        cached = _instruments.get(key)
    if cached is None or time.monotonic() - cached[0] > INSTRUMENT_TTL_SECONDS:
        specs = {spec.symbol: spec for spec in exchange.instruments()}
        cached = (time.monotonic(), specs)
        with _instruments_lock:
            _instruments[key] = cached
    return cached[1].get(symbol.upper())


def forget_instruments() -> None:
    with _instruments_lock:
        _instruments.clear()


def _orders_last_hour(route: Route, now: datetime) -> int:
    return (
        Order.objects.filter(route=route, purpose=Order.Purpose.STRATEGY, created_at__gt=now - timedelta(hours=1))
        .exclude(state=OrderState.REJECTED)
        .values("decision_id")
        .distinct()
        .count()
    )


def _realized_pnl_today(route: Route, now: datetime) -> Decimal:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    total = Fill.objects.filter(route=route, filled_at__gte=midnight).aggregate(
        pnl=Sum("realized_pnl"), fees=Sum("fee")
    )
    # Fees are a realised loss too: a limit on "what I lost today" that ignored them would be generous.
    return (total["pnl"] or Decimal(0)) - (total["fees"] or Decimal(0))
