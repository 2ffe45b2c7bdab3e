from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from billing.models import LiveAccess
from exchanges.connect import forget_exchanges
from routing.models import Route
from routing.snapshot import forget_instruments

TRADER_KEY = "trader-api-key-0001"
# 64 random bytes, base64: the shape of a real Kraken Futures secret (88 characters).
TRADER_SECRET = "q3eI3mB8Yx6hE2pZbq0n1mRkQfYVd8Hq0m7gN9pK1wLrT5sXc2vB4nM6aZ8dF0gH1jK3lQ5wE7rT9yU1iO3pA5sD7w=="
CANARY_ROUTE_SECRET = "canary-route-secret-7f3a9c"  # must never appear in logs, bodies, pages or output
# The same account's Kraken (Spot-style) key, for the Unified WebSocket transport.
TRADER_WS_KEY = "trader-ws-api-key-0001"
TRADER_WS_SECRET = "dHJhZGVyIHVuaWZpZWQgd2Vic29ja2V0IHNlY3JldCBmb3IgdGVzdHMgb25seSwgMDEyMzQ1Njc4OQ=="

# Every test that talks to the fake Kraken runs on both transports: REST v3 and the Unified WebSocket (one engine
# behind both; the account's transport picks the adapter). Tests that need no exchange run once, on REST.
TRANSPORTS = ("rest", "uws")


@pytest.fixture(params=TRANSPORTS)
def transport(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def fake(transport: str) -> Iterator[Any]:
    from exchanges.fake.server import FakeKraken
    from exchanges.fake.uws import FakeUnifiedWebSocket

    server = FakeKraken(host="127.0.0.1", port=0).start()
    server.add_account(TRADER_KEY, TRADER_SECRET, collateral=Decimal("100000"))
    server.transport = transport
    server.uws = None
    if transport == "uws":
        server.uws = FakeUnifiedWebSocket(server).start()
        server.uws.add_spot_key(TRADER_WS_KEY, TRADER_WS_SECRET, futures_key=TRADER_KEY)
    yield server
    forget_exchanges()  # close the sockets before the server goes
    if server.uws is not None:
        server.uws.stop()
    server.stop()


def venue_word(fake: Any, status: str) -> str:
    """The venue's own word for a refusal the fake's ``reject`` fault produces, as the test's transport carries it
    (REST: Kraken's sendStatus word; Unified WebSocket: the fake's error text for it)."""
    if fake.uws is None:
        return status
    from exchanges.fake.uws.render import rejection_text

    return rejection_text(status)


def settle(fake: Any) -> None:
    """After changing the venue behind the client's back (a price move that fires a stop, an order by hand): on the
    Unified WebSocket the client learns it from the streams a moment later - publish now and let it arrive."""
    if fake.uws is not None:
        fake.uws.flush()
        time.sleep(0.2)


def make_reads_fail(fake: Any) -> None:
    """The next decision cannot read what every order needs. REST: the positions endpoint answers "Unavailable"
    once. Unified WebSocket: the connection drops and no token (so no connection) can be had - reads answer
    Unavailable."""
    if fake.uws is None:
        fake.add_fault("openpositions", "unavailable", count=1)
    else:
        fake.uws.spot.unavailable = True
        fake.uws.drop_connections()


@pytest.fixture
def exchange_url(fake: Any, settings: Any) -> Iterator[str]:
    settings.KRAKEN_FUTURES_URL = fake.url
    settings.KRAKEN_READ_TIMEOUT = 1.0
    if fake.uws is not None:
        settings.KRAKEN_UWS_PRIVATE_URL = fake.uws.private_url
        settings.KRAKEN_UWS_PUBLIC_URL = fake.uws.public_url
        settings.KRAKEN_SPOT_URL = fake.url
        settings.KRAKEN_UWS_ACK_TIMEOUT = 1.0
        settings.KRAKEN_UWS_READY_TIMEOUT = 1.0
    forget_exchanges()
    forget_instruments()
    yield fake.url
    forget_exchanges()
    forget_instruments()


@pytest.fixture
def trader(db: None) -> User:
    user = User.objects.create_user(username="trader", email="trader@example.com", password="x" * 12)
    LiveAccess.objects.create(user=user, active_until=timezone.now() + timedelta(days=30))
    return user


@pytest.fixture
def account(trader: User, request: Any) -> ExchangeAccount:
    transport = request.getfixturevalue("transport") if "transport" in request.fixturenames else "rest"
    acc = ExchangeAccount(owner=trader, label="Main", mode=ExchangeAccount.Mode.LIVE, transport=transport)
    acc.set_credentials(TRADER_KEY, TRADER_SECRET)
    acc.set_ws_credentials(TRADER_WS_KEY, TRADER_WS_SECRET)
    acc.save()
    return acc


RouteFactory = Callable[..., Route]


@pytest.fixture
def make_route(trader: User, account: ExchangeAccount) -> RouteFactory:
    def factory(**overrides: Any) -> Route:
        fields: dict[str, Any] = {
            "owner": trader,
            "name": "XBT strategy",
            "exchange_account": account,
            "symbol": "PF_XBTUSD",
            "tv_alias": "XBTUSD.P",
            "sizing_mode": "target",
            "max_alert_age_seconds": 120,
        }
        fields.update(overrides)
        route = Route(**fields)
        route.set_secret(CANARY_ROUTE_SECRET)
        route.save()
        return route

    return factory


def payload(secret: str = CANARY_ROUTE_SECRET, *, fired: datetime | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"secret": secret, "action": "buy", "time": _iso(fired or datetime.now(UTC))}
    body.update(fields)
    return body


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(client: Client, route: Route, body: dict[str, Any] | bytes, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(route.webhook_path, data=data, content_type=content_type)
