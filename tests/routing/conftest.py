from __future__ import annotations

import json
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


@pytest.fixture
def fake() -> Iterator[Any]:
    from exchanges.fake.server import FakeKraken

    server = FakeKraken(host="127.0.0.1", port=0).start()
    server.add_account(TRADER_KEY, TRADER_SECRET, collateral=Decimal("100000"))
    yield server
    server.stop()


@pytest.fixture
def exchange_url(fake: Any, settings: Any) -> Iterator[str]:
    settings.KRAKEN_FUTURES_URL = fake.url
    settings.KRAKEN_READ_TIMEOUT = 1.0
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
def account(trader: User) -> ExchangeAccount:
    acc = ExchangeAccount(owner=trader, label="Main", mode=ExchangeAccount.Mode.LIVE)
    acc.set_credentials(TRADER_KEY, TRADER_SECRET)
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
