"""Reads the state a decision is made from: the exchange's (instrument, mark, position, margin) and ours (orders
in flight, orders in the last hour, today's realised P&L, the newest decided alert, the circuit breaker).

What every order needs - the instrument and the position - failing to read is `read_error`: nothing is sent. What
only some checks use - the mark price, the account's equity - failing to read leaves the value empty with a
warning, and the checks that need it fail closed: an exit never waits for data it does not use.

The exchange reads are independent of one another, so on a transport whose reads are network round trips
(`capabilities.concurrent_reads`: REST) they are made at once, on a small pool of threads that touch no database:
one round trip instead of three or four before the decision."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.db import connections

from accounts.models import CredentialsUnreadable, ExchangeAccount
from exchanges.base import AccountSummary, Exchange, InstrumentSpec, Position, Ticker
from exchanges.connect import exchange_for
from exchanges.errors import AuthenticationFailed, ExchangeError, PermissionDenied
from exchanges.guard import breaker_open_until
from orderrail.thread_pools import full_pool
from routing import credentials, selectors
from routing.domain import InstrumentSnapshot, Snapshot
from routing.models import Route, RouteState

# Instrument specs change rarely (tick size, step); a short cache saves a request per alert. Tradeability
# (suspension) is read from the ticker every time. Kept per market (Exchange.market_id), not per account: the list is
# public, and at bar close a thousand accounts each reading it first (two requests and a few ms of parsing each,
# the alert's reads waiting on the slower one) cost more than anything else in their first alert.
INSTRUMENT_TTL_SECONDS = 60.0
_instruments: dict[str, tuple[float, dict[str, InstrumentSpec]]] = {}
_instruments_lock = threading.Lock()
# Threads that only wait on the exchange (no database): a few per engine thread reading at the same moment.
READ_THREADS = 64
_reads: ThreadPoolExecutor | None = None
_reads_lock = threading.Lock()


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
        orders_last_hour=selectors.orders_last_hour(route.pk, now) if route.orders_per_hour is not None else None,
        realized_pnl_today=selectors.realized_pnl_today(route.exchange_account_id, route.symbol, now)
        if route.daily_loss_limit is not None
        else None,
        last_fired_at=state.last_fired_at,
        orders_in_flight=in_flight,
        breaker_open_until=breaker_open_until(account, now) if account else None,
    )


def read_snapshot(base: Snapshot, route: Route, account: ExchangeAccount, exchange: Exchange) -> Snapshot:
    """`base` completed with what the exchange says now."""
    specs = _cached_specs(exchange)
    reads: dict[str, Callable[[], object]] = {
        "positions": exchange.positions,
        "ticker": lambda: exchange.ticker(route.symbol),
        "account": exchange.account,
    }
    if specs is None:
        reads["instruments"] = exchange.instruments
    got = read_all(exchange, reads)
    # What every order needs: failing to read either is `read_error` (the instrument's failure named first, as
    # when they were read one after the other).
    try:
        if specs is None:
            specs = _keep_specs(exchange, cast(list[InstrumentSpec], value_of(got["instruments"])))
        spec = specs.get(route.symbol)
        listed = cast(list[Position], value_of(got["positions"]))
    except ExchangeError as exc:
        _note_credentials(account, exc, base.taken_at)
        return _replace(base, read_error=_error_text(exc))
    position = next((p.size for p in listed if p.symbol == route.symbol), Decimal(0))
    credentials.clear_if_working(account, base.taken_at)
    # What only some checks use: a failure is a warning and an empty value.
    warnings = []
    ticker: Ticker | None = None
    summary: AccountSummary | None = None
    if spec is not None:
        if isinstance(got["ticker"], ExchangeError):
            warnings.append(f"mark price: {_error_text(got['ticker'])}")
        else:
            ticker = cast(Ticker, got["ticker"])
    if isinstance(got["account"], ExchangeError):
        warnings.append(f"account: {_error_text(got['account'])}")
    else:
        summary = cast(AccountSummary, got["account"])
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


def read_all(exchange: Exchange, reads: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Each read's value, or the ExchangeError it raised (anything else propagates). At once when the transport's
    reads may overlap, one after the other otherwise."""
    if len(reads) > 1 and getattr(exchange.capabilities, "concurrent_reads", False):
        pool = _read_pool()
        futures = {name: pool.submit(_attempt_in_thread, read) for name, read in reads.items()}
        return {name: future.result() for name, future in futures.items()}
    return {name: _attempt(read) for name, read in reads.items()}


def _attempt(read: Callable[[], object]) -> object:
    try:
        return read()
    except ExchangeError as exc:
        return exc


def _attempt_in_thread(read: Callable[[], object]) -> object:
    """`_attempt` on a pool thread. The reads of a transport that overlaps them are network calls that touch no
    database; should one ever open a connection on this thread, it is closed here, not left open for good on a
    thread that lives as long as the process."""
    try:
        return _attempt(read)
    finally:
        connections.close_all()


def value_of(result: object) -> object:
    """A `read_all` result's value; raises the ExchangeError it holds."""
    if isinstance(result, ExchangeError):
        raise result
    return result


def _read_pool() -> ThreadPoolExecutor:
    global _reads  # noqa: PLW0603 - one pool per process, made on first use
    with _reads_lock:
        if _reads is None:
            _reads = full_pool(READ_THREADS, "exchange-read")
        return _reads


def position_of(exchange: Exchange, symbol: str) -> Decimal:
    """The signed position in `symbol` (0 when the exchange lists none). Raises what the read raised."""
    return next((p.size for p in exchange.positions() if p.symbol == symbol), Decimal(0))


def instrument_spec(exchange: Exchange, symbol: str) -> InstrumentSpec | None:
    specs = _cached_specs(exchange)
    if specs is None:
        specs = _keep_specs(exchange, exchange.instruments())
    return specs.get(symbol)


def _cached_specs(exchange: Exchange) -> dict[str, InstrumentSpec] | None:
    with _instruments_lock:
        cached = _instruments.get(exchange.market_id)
    if cached is None or time.monotonic() - cached[0] > INSTRUMENT_TTL_SECONDS:
        return None
    return cached[1]


def _keep_specs(exchange: Exchange, listed: list[InstrumentSpec]) -> dict[str, InstrumentSpec]:
    specs = {spec.symbol: spec for spec in listed}
    with _instruments_lock:
        _instruments[exchange.market_id] = (time.monotonic(), specs)
    return specs


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
