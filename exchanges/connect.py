"""Builds the Exchange for a connected account: the only place that knows which adapter serves which venue.

A paper account (``mode == paper``) gets the paper adapter and nothing else, whatever its transport or stored keys:
it is built without any credentials and prices from the venue's public endpoints only, so no path leads from a
paper account to a private endpoint.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from accounts.models import ExchangeAccount
from exchanges.base import Exchange
from exchanges.guard import GuardedExchange
from exchanges.paper.market import CachedMarket

if TYPE_CHECKING:
    from exchanges.paper.adapter import PaperExchange

_cache: dict[tuple[object, ...], Exchange] = {}
_markets: dict[str, CachedMarket] = {}
_lock = threading.Lock()


def exchange_for(account: ExchangeAccount) -> Exchange:
    """Raises accounts.models.CredentialsUnreadable when the stored key of a live account cannot be decrypted.

    Adapters are kept per account, credentials version and transport for the life of the process, so their HTTP
    session (keep-alive) and rate budget carry over from one alert to the next, and a replaced key or secret (which
    bumps the version) gets a fresh adapter in every running worker at once - without decrypting the key for every
    alert. Every caller gets it behind the account's rate-limit backoff and circuit breaker.
    """
    if account.mode == ExchangeAccount.Mode.PAPER:
        return GuardedExchange(paper_exchange(account), account)
    if account.mode != ExchangeAccount.Mode.LIVE:
        raise ValueError(f"exchange account {account.pk}: unknown mode {account.mode!r}")
    if account.transport == ExchangeAccount.Transport.UWS:
        return _unified_websocket(account)
    cache_key = (account.pk, "rest", account.credentials_version, settings.KRAKEN_FUTURES_URL)
    exchange = _cached(cache_key)
    if exchange is None:
        from exchanges.kraken.adapter import KrakenFutures

        api_key, api_secret = account.credentials()
        exchange = _keep(
            cache_key,
            KrakenFutures(
                settings.KRAKEN_FUTURES_URL,
                api_key,
                api_secret,
                connect_timeout=settings.KRAKEN_CONNECT_TIMEOUT,
                read_timeout=settings.KRAKEN_READ_TIMEOUT,
            ),
        )
    return GuardedExchange(exchange, account)


def _cached(cache_key: tuple[object, ...]) -> Exchange | None:
    with _lock:
        return _cache.get(cache_key)


def _keep(cache_key: tuple[object, ...], exchange: Exchange) -> Exchange:
    """Cache `exchange`; adapters of older credentials of the same account are dropped (their key is gone)."""
    stale: list[Exchange] = []
    with _lock:
        current = _cache.get(cache_key)
        if current is not None:
            stale.append(exchange)  # another thread built one first: keep theirs
            exchange = current
        else:
            for key in [k for k in _cache if k[0] == cache_key[0]]:
                stale.append(_cache.pop(key))
            _cache[cache_key] = exchange
    for old in stale:
        close = getattr(old, "close", None)
        if callable(close):
            close()
    return exchange


def _unified_websocket(account: ExchangeAccount) -> Exchange:
    """The Unified WebSocket adapter of an account whose transport is ``uws``: signed with the account's Kraken
    (Spot-style) key, kept per process like the REST adapter, so its connection and stream state carry over."""
    from exchanges.kraken.uws.adapter import KrakenUnifiedWebSocket

    cache_key = (
        account.pk,
        "uws",
        account.credentials_version,
        settings.KRAKEN_UWS_PRIVATE_URL,
        settings.KRAKEN_SPOT_URL,
    )
    exchange = _cached(cache_key)
    if exchange is None:
        api_key, api_secret = account.ws_credentials()
        exchange = _keep(
            cache_key,
            KrakenUnifiedWebSocket(
                api_key=api_key,
                api_secret=api_secret,
                private_url=settings.KRAKEN_UWS_PRIVATE_URL,
                public_url=settings.KRAKEN_UWS_PUBLIC_URL,
                spot_rest_url=settings.KRAKEN_SPOT_URL,
                open_timeout=settings.KRAKEN_CONNECT_TIMEOUT,
                ready_timeout=settings.KRAKEN_UWS_READY_TIMEOUT,
                ack_timeout=settings.KRAKEN_UWS_ACK_TIMEOUT,
                # The same deadline every order attempt carries (routing/orders.py): "no trace" is read only after it.
                deadline_seconds=settings.ORDER_DEADLINE_SECONDS,
            ),
        )
    return GuardedExchange(exchange, account)


def paper_exchange(account: ExchangeAccount) -> PaperExchange:
    """The paper adapter of a paper account, without the breaker (the periodic stop task and the paper services
    use it directly). Cheap to build: all it keeps is the account's id and the process's shared market cache."""
    from exchanges.paper.adapter import PaperExchange

    if account.mode != ExchangeAccount.Mode.PAPER:
        raise ValueError(f"exchange account {account.pk} is not a paper account")
    return PaperExchange(
        account.pk,
        paper_market(),
        clock=timezone.now,
        default_balance=Decimal(str(settings.PAPER_STARTING_BALANCE)),
    )


def paper_market() -> CachedMarket:
    """Public instruments and tickers of the venue at KRAKEN_FUTURES_URL, cached for the process: every paper account
    prices from the same read (tickers for PAPER_MARK_TTL_SECONDS). No key: it can only make public calls."""
    from exchanges.kraken.public import KrakenPublicMarket

    url = settings.KRAKEN_FUTURES_URL
    with _lock:
        market = _markets.get(url)
        if market is None or market.ticker_ttl != settings.PAPER_MARK_TTL_SECONDS:
            feed = KrakenPublicMarket(
                url, connect_timeout=settings.KRAKEN_CONNECT_TIMEOUT, read_timeout=settings.KRAKEN_READ_TIMEOUT
            )
            market = _markets[url] = CachedMarket(feed, ticker_ttl=settings.PAPER_MARK_TTL_SECONDS)
    return market


def forget_exchanges() -> None:
    """Drop cached adapters and paper market reads (tests that restart the fake, key rotation); streaming adapters
    close their sockets."""
    from exchanges.kraken.uws.adapter import KrakenUnifiedWebSocket, forget_market_feeds

    with _lock:
        dropped = list(_cache.values())
        _cache.clear()
        _markets.clear()
    for exchange in dropped:
        if isinstance(exchange, KrakenUnifiedWebSocket):
            exchange.close()
    forget_market_feeds()


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


def unified_websocket_for_key(api_key: str, api_secret: str) -> Exchange:
    """The Unified WebSocket adapter for a Kraken (Spot-style) key that is not stored yet, to verify it
    (``key_permissions()``: one signed REST call, ``GetApiKeyInfo``; no socket is opened). Not cached, not behind
    the breaker. Refuse the key when ``withdrawal`` is true."""
    from exchanges.kraken.uws.adapter import KrakenUnifiedWebSocket

    return KrakenUnifiedWebSocket(
        api_key=api_key,
        api_secret=api_secret,
        private_url=settings.KRAKEN_UWS_PRIVATE_URL,
        public_url=settings.KRAKEN_UWS_PUBLIC_URL,
        spot_rest_url=settings.KRAKEN_SPOT_URL,
        open_timeout=settings.KRAKEN_CONNECT_TIMEOUT,
    )
