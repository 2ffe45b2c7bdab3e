"""Two traders with an account on the fake Kraken, a route and a decided alert each: the isolation tests check that
A can never see or change B's, and the page tests use A's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from audit.models import Alert
from billing.models import LiveAccess
from routing import instruments
from routing.models import Route
from tests.routing.conftest import (  # noqa: F401  (fixtures shared with the routing tests)
    TRADER_KEY,
    TRADER_SECRET,
    exchange_url,
    fake,
    payload,
    post,
)
from tests.worker import run_queued_tasks

OTHER_KEY = "other-api-key-0002"
OTHER_SECRET = "b3RoZXItc2VjcmV0LWZvci10aGUtZmFrZS1rcmFrZW4tc2VydmVyLW9ubHktMDk4NzY1NDMyMTAwMDAwMDAwMDA="
ROUTE_SECRET_A = "route-secret-of-trader-a-5b1c"
ROUTE_SECRET_B = "route-secret-of-trader-b-9e2d"
PASSWORD = "correct horse battery staple"


@dataclass
class Trader:
    user: User
    account: ExchangeAccount
    route: Route
    alert: Alert
    client: Client


def make_trader(email: str, key: str, secret: str, route_secret: str, *, name: str) -> Trader:
    user = User.objects.create_user(username=email.split("@", maxsplit=1)[0], email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    LiveAccess.objects.create(user=user, active_until=timezone.now() + timedelta(days=30))
    account = ExchangeAccount(owner=user, label=f"{name} main", mode=ExchangeAccount.Mode.LIVE)
    account.set_credentials(key, secret)
    account.verified_at = timezone.now()
    account.save()
    route = Route(
        owner=user,
        name=f"{name} XBT",
        exchange_account=account,
        symbol="PF_XBTUSD",
        tv_alias="XBTUSD.P",
        sizing_mode="target",
        max_alert_age_seconds=120,
        worst_case_stop_pct=Decimal(10),
    )
    route.set_secret(route_secret)
    route.save()
    client = Client()
    client.force_login(user)
    answer = post(client, route, payload(route_secret, position="0.01", market_position="long", symbol="XBTUSD.P"))
    assert answer.status_code == 202, answer.content
    run_queued_tasks()
    alert = Alert.objects.get(pk=answer.json()["alert"])
    return Trader(user=user, account=account, route=route, alert=alert, client=client)


@pytest.fixture
def transport() -> str:
    """The trader pages and key checks are transport-agnostic above `exchanges/`; they run once, on REST v3 (the
    routing tests cover both transports)."""
    return "rest"


@pytest.fixture
def traders(db: None, request: pytest.FixtureRequest) -> Iterator[tuple[Trader, Trader]]:
    server = request.getfixturevalue("fake")
    request.getfixturevalue("exchange_url")
    server.add_account(OTHER_KEY, OTHER_SECRET, collateral=Decimal("50000"))
    instruments.forget()
    a = make_trader("alice@example.com", TRADER_KEY, TRADER_SECRET, ROUTE_SECRET_A, name="Alice")
    b = make_trader("bob@example.com", OTHER_KEY, OTHER_SECRET, ROUTE_SECRET_B, name="Bob")
    yield a, b
    instruments.forget()
