from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from djstripe.models import WebhookEndpoint

from accounts.models import User
from tests.billing.stripe_fake import CANARY_STRIPE_KEY, CANARY_WEBHOOK_SECRET, PRICE_ID, FakeStripe, fake_stripe


@pytest.fixture
def billing_settings(settings: Any) -> Any:
    settings.BILLING_ENABLED = True
    settings.STRIPE_LIVE_MODE = False
    settings.STRIPE_TEST_SECRET_KEY = CANARY_STRIPE_KEY
    settings.STRIPE_PRICE_ID = PRICE_ID
    settings.BILLING_GRACE_DAYS = 3
    settings.BILLING_NOTICE_DAYS = 3
    return settings


@pytest.fixture
def stripe_api(billing_settings: Any) -> Iterator[FakeStripe]:
    # Only api.stripe.com is answered by the fake; the fake Kraken (local HTTP) is reached for real.
    with fake_stripe("http://127.0.0.1", "http://localhost") as stripe:
        yield stripe


@pytest.fixture
def endpoint(db: None, billing_settings: Any, monkeypatch: pytest.MonkeyPatch) -> WebhookEndpoint:
    """The webhook endpoint as an operator creates it for an endpoint made in Stripe's dashboard."""
    monkeypatch.setenv("TEST_STRIPE_WEBHOOK_SECRET", CANARY_WEBHOOK_SECRET)
    call_command(
        "billing_webhook_endpoint", base_url="https://orderrail.example", secret_env="TEST_STRIPE_WEBHOOK_SECRET"
    )
    return WebhookEndpoint.objects.get()


@pytest.fixture
def hook(endpoint: WebhookEndpoint) -> str:
    return f"/stripe/webhook/{endpoint.djstripe_uuid}/"


@pytest.fixture
def subscriber(db: None) -> User:
    return User.objects.create_user(username="payer", email="payer@example.com", password="x" * 12)


# The trading fixtures (fake Kraken over HTTP, a trader with a live account and a route factory) for the tests that
# take an alert all the way to the exchange.
from tests.routing.conftest import account, exchange_url, fake, make_route, trader  # noqa: E402, F401


@pytest.fixture
def transport() -> str:
    """Billing sits above the exchange layer: its end-to-end tests run once, on REST v3 (the routing tests cover
    both transports)."""
    return "rest"
