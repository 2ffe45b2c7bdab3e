"""Reads the state a decision is made from: the exchange's (instrument, mark, position, margin) and ours (orders
in flight, orders in the last hour, today's realised P&L, the newest decided alert, the circuit breaker).

What every order needs - the instrument and the position - failing to read is `read_error`: nothing is sent. What
only some checks use - the mark price, the account's equity - failing to read leaves the value empty with a
warning, and the checks that need it fail closed: an exit never waits for data it does not use."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from accounts.models import CredentialsUnreadable, ExchangeAccount
from exchanges.base import Exchange, InstrumentSpec
from exchanges.connect import exchange_for
from exchanges.errors import AuthenticationFailed, ExchangeError, PermissionDenied
from exchanges.guard import breaker_open_until
from routing import credentials, selectors
from routing.domain import InstrumentSnapshot, Snapshot
from routing.models import Route, RouteState

# Instrument specs change rarely (tick size, step); a short cache saves a request per alert. Tradeability
# (suspension) is read from the ticker every time.
INSTRUMENT_TTL_SECONDS = 60.0
_instruments: dict[str, tuple[float, dict[str, InstrumentSpec]]] = {}
_instruments_lock = threading.Lock()


def open_exchange(account: ExchangeAccount | None, now: datetime) -> tuple[Exchange | None, bool]:
    """The account's exchange, and whether its credentials could be read. None when there is no connected account,
    its key cannot be decrypted (reported once, loudly) or no adapter serves it (a paper account without paper
    trading)."""
    if account is None or not account.connected:
        return None, True
    try:
        return exchange_for(account), True
    except CredentialsUnreadable:
        credentials.report_broken(account, "no configured FERNET_KEYS key can decrypt it", now)
        return None, False
    except ExchangeError:
        return None, True


def base_snapshot(
    route: Route,
    account: ExchangeAccount | None,
    now: datetime,
    *,
    live_access: bool,
    state: RouteState,
    in_flight: tuple[str, ...] = (),
    credentials_readable: bool = True,
) -> Snapshot:
    """Everything that comes from our own books."""
    return Snapshot(
        taken_at=now,
        account_connected=bool(account and account.connected),
        credentials_readable=credentials_readable,
        live=bool(account and account.mode == ExchangeAccount.Mode.LIVE),
        live_access=live_access,
        orders_last_hour=selectors.orders_last_hour(route.pk, now),
        realized_pnl_today=selectors.realized_pnl_today(route.exchange_account_id, route.symbol, now),
        last_fired_at=state.last_fired_at,
        orders_in_flight=in_flight,
        breaker_open_until=breaker_open_until(account, now) if account else None,
    )


def read_snapshot(base: Snapshot, route: Route, account: ExchangeAccount, exchange: Exchange) -> Snapshot:
    """`base` completed with what the exchange says now."""
    try:
        spec = instrument_spec(exchange, account, route.symbol)
        position = position_of(exchange, route.symbol)
    except ExchangeError as exc:
        _note_credentials(account, exc, base.taken_at)
        return _replace(base, read_error=_error_text(exc))
    credentials.clear_if_working(account, base.taken_at)
    warnings = []
    ticker = summary = None
    if spec is not None:
        try:
            ticker = exchange.ticker(route.symbol)
        except ExchangeError as exc:
            warnings.append(f"mark price: {_error_text(exc)}")
    try:
        summary = exchange.account()
    except ExchangeError as exc:
        warnings.append(f"account: {_error_text(exc)}")
    instrument = (
        InstrumentSnapshot(
            symbol=spec.symbol,
            tick_size=spec.tick_size,
            size_step=spec.size_step,
            contract_size=spec.contract_size,
            tradeable=spec.tradeable,
            suspended=spec.suspended or bool(ticker and ticker.suspended),
            kind=spec.kind,
            quote=spec.quote,
        )
        if spec
        else None
    )
    return _replace(
        base,
        instrument=instrument,
        mark_price=ticker.mark_price if ticker else None,
        position=position,
        equity=summary.equity if summary else None,
        available_margin=summary.available_margin if summary else None,
        read_warnings="; ".join(warnings)[:300],
    )


def position_of(exchange: Exchange, symbol: str) -> Decimal:
    """The signed position in `symbol` (0 when the exchange lists none). Raises what the read raised."""
    return next((p.size for p in exchange.positions() if p.symbol == symbol), Decimal(0))


def instrument_spec(exchange: Exchange, account: ExchangeAccount, symbol: str) -> InstrumentSpec | None:
    key = str(account.pk)
    with _instruments_lock:
        cached = _instruments.get(key)
    if cached is None or time.monotonic() - cached[0] > INSTRUMENT_TTL_SECONDS:
        specs = {spec.symbol: spec for spec in exchange.instruments()}
        cached = (time.monotonic(), specs)
        with _instruments_lock:
            _instruments[key] = cached
    return cached[1].get(symbol)


def forget_instruments() -> None:
    with _instruments_lock:
        _instruments.clear()


def _note_credentials(account: ExchangeAccount, exc: ExchangeError, now: datetime) -> None:
    if isinstance(exc, AuthenticationFailed | PermissionDenied):
        credentials.report_broken(account, f"the exchange refused the key ({_error_text(exc)})", now)


def _error_text(exc: ExchangeError) -> str:
    return f"{type(exc).__name__}: {exc.venue_code or exc}"[:200]


def _replace(snapshot: Snapshot, **changes: object) -> Snapshot:
    return replace(snapshot, **changes)  # type: ignore[arg-type]
