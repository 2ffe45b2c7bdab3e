"""The instruments a route may trade, as the exchange lists them: what the route form offers and what a saved
route's symbol is checked against. Linear USD-margined perpetuals only (PF_…): inverse and other contracts would
need their own notional and P&L arithmetic, so they are not offered."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from accounts.models import CredentialsUnreadable, ExchangeAccount
from exchanges.base import InstrumentSpec
from exchanges.connect import exchange_for
from exchanges.errors import ExchangeError
from routing.symbols import normalise_symbol

TTL_SECONDS = 300.0
_cache: dict[str, tuple[float, list[InstrumentSpec]]] = {}
_lock = threading.Lock()


class InstrumentsUnavailable(Exception):
    """The exchange's instrument list could not be read; the sentence says why for the trader."""


@dataclass(frozen=True)
class Choice:
    symbol: str
    label: str


def supported(spec: InstrumentSpec) -> bool:
    return spec.kind == "flexible_futures" and spec.symbol.startswith("PF_") and spec.tradeable


def choices_for(account: ExchangeAccount) -> list[Choice]:
    specs = _listed(account)
    return [
        Choice(
            spec.symbol,
            f"{spec.symbol} — {spec.base or spec.symbol} perpetual{' (suspended)' if spec.suspended else ''}",
        )
        for spec in sorted(specs, key=lambda s: s.symbol)
        if supported(spec)
    ]


def check_symbol(account: ExchangeAccount, raw: str) -> str:
    """The symbol in its one normal form, if the exchange lists it as a supported instrument. Raises ValueError
    with a sentence for the trader otherwise, InstrumentsUnavailable when the list cannot be read."""
    symbol = normalise_symbol(raw or "")
    if symbol is None:
        raise ValueError("Pick an instrument from the list.")
    listed = {spec.symbol: spec for spec in _listed(account)}
    spec = listed.get(symbol)
    if spec is None:
        raise ValueError(f"{symbol} is not listed by the exchange.")
    if not supported(spec):
        raise ValueError(f"{symbol} is not supported: OrderRail trades linear USD-margined perpetuals (PF_…) only.")
    return symbol


def _listed(account: ExchangeAccount) -> list[InstrumentSpec]:
    key = f"{account.venue}:{account.mode}:{settings.KRAKEN_FUTURES_URL}"
    with _lock:
        cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < TTL_SECONDS:
        return cached[1]
    try:
        specs = exchange_for(account).instruments()
    except CredentialsUnreadable:
        raise InstrumentsUnavailable("The account's key cannot be read; replace it first.") from None
    except ExchangeError:
        raise InstrumentsUnavailable(
            "The exchange's instrument list could not be read just now; try again in a minute."
        ) from None
    with _lock:
        _cache[key] = (time.monotonic(), specs)
    return specs


def forget() -> None:
    with _lock:
        _cache.clear()
