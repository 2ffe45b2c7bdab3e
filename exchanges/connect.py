"""Builds the Exchange for a connected account: the only place that knows which adapter serves which venue."""

from __future__ import annotations

import threading

from django.conf import settings

from accounts.models import ExchangeAccount
from exchanges.base import Exchange

_cache: dict[tuple[int, str, str], Exchange] = {}
_lock = threading.Lock()


def exchange_for(account: ExchangeAccount) -> Exchange:
    """Raises accounts.models.CredentialsUnreadable when the stored key cannot be decrypted.

    Adapters are kept per account and key for the life of the process, so their HTTP session (keep-alive) and
    rate budget carry over from one alert to the next; a changed key gets a fresh adapter. Every caller gets it
    behind the account's rate-limit backoff and circuit breaker.
    """
    from exchanges.kraken.adapter import KrakenFutures

    api_key, api_secret = account.credentials()
    cache_key = (account.pk, account.key_fingerprint, settings.KRAKEN_FUTURES_URL)
    with _lock:
        exchange = _cache.get(cache_key)
        if exchange is None:
            exchange = KrakenFutures(
                settings.KRAKEN_FUTURES_URL,
                api_key,
                api_secret,
                connect_timeout=settings.KRAKEN_CONNECT_TIMEOUT,
                read_timeout=settings.KRAKEN_READ_TIMEOUT,
            )
            _cache[cache_key] = exchange
    from routing.breaker import GuardedExchange

    return GuardedExchange(exchange, account)


def forget_exchanges() -> None:
    """Drop cached adapters (tests that restart the fake, key rotation)."""
    with _lock:
        _cache.clear()


def exchange_for_key(venue: str, api_key: str, api_secret: str) -> Exchange:
    """An adapter for a key that is not stored yet, to verify it before it is (`accounts.keys`). Not cached and not
    behind the breaker: a trader typing a wrong key must not pause anybody's account."""
    from exchanges.kraken.adapter import KrakenFutures

    if venue != ExchangeAccount.Venue.KRAKEN_FUTURES:
        raise ValueError(f"no adapter for venue {venue!r}")
    return KrakenFutures(
        settings.KRAKEN_FUTURES_URL,
        api_key,
        api_secret,
        connect_timeout=settings.KRAKEN_CONNECT_TIMEOUT,
        read_timeout=settings.KRAKEN_READ_TIMEOUT,
    )
