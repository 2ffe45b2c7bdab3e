"""`billing_setup` (the one $30/month price) and `billing_webhook_endpoint` (the endpoint dj-stripe listens on), with
Stripe at the HTTP edge."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from djstripe.models import WebhookEndpoint

from billing.webhook_secrets import signing_secret
from tests.billing.stripe_fake import API, CANARY_STRIPE_KEY, CANARY_WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def _form(request) -> dict[str, str]:
    return {
        k: v[0] for k, v in parse_qs(request.body if isinstance(request.body, str) else request.body.decode()).items()
    }


def test_billing_setup_creates_the_price_once_and_prints_its_id(billing_settings):
    created: list[dict[str, str]] = []
    store: list[dict[str, object]] = []

    def list_prices(request):
        return 200, {}, json.dumps({"object": "list", "data": store, "has_more": False, "url": "/v1/prices"})

    def create_product(request):
        created.append(_form(request))
        return 200, {}, json.dumps({"id": "prod_new", "object": "product"})

    def create_price(request):
        form = _form(request)
        created.append(form)
        price = {
            "id": "price_new",
            "object": "price",
            "unit_amount": int(form["unit_amount"]),
            "currency": form["currency"],
            "recurring": {"interval": form["recurring[interval]"]},
            "lookup_key": form["lookup_key"],
        }
        store.append(price)
        return 200, {}, json.dumps(price)

    with responses.RequestsMock() as mock:
        mock.add_callback("GET", f"{API}/v1/prices", callback=list_prices)
        mock.add_callback("POST", f"{API}/v1/products", callback=create_product)
        mock.add_callback("POST", f"{API}/v1/prices", callback=create_price)
        out = io.StringIO()
        call_command("billing_setup", stdout=out)
        assert out.getvalue().strip() == "STRIPE_PRICE_ID=price_new"
        product, price = created
        assert product["name"] == "OrderRail live execution"
        assert (price["unit_amount"], price["currency"], price["recurring[interval]"]) == ("3000", "usd", "month")
        assert price["product"] == "prod_new" and price["lookup_key"] == "orderrail_live_monthly"
        again = io.StringIO()
        call_command("billing_setup", stdout=again)  # finds it by its lookup key
        assert again.getvalue().strip() == "STRIPE_PRICE_ID=price_new"
        assert len(created) == 2
        for call in mock.calls:
            assert call.request.headers["Authorization"] == f"Bearer {CANARY_STRIPE_KEY}"
    assert CANARY_STRIPE_KEY not in out.getvalue()


def test_billing_setup_refuses_a_price_that_is_not_30_a_month(billing_settings):
    wrong = {"id": "price_x", "unit_amount": 2500, "currency": "usd", "recurring": {"interval": "month"}}
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{API}/v1/prices", json={"object": "list", "data": [wrong], "has_more": False})
        with pytest.raises(CommandError, match="not \\$30 per month"):
            call_command("billing_setup", stdout=io.StringIO())


def test_billing_setup_says_stripe_is_unreachable_without_a_traceback(billing_settings):
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{API}/v1/prices", body=ConnectionError("down"))
        with pytest.raises(CommandError, match="could not be reached: APIConnectionError"):
            call_command("billing_setup", stdout=io.StringIO())


def test_webhook_endpoint_registered_with_stripe_keeps_the_secret_it_returns(billing_settings):
    sent: list[dict[str, str]] = []

    def create(request):
        form = _form(request)
        sent.append(form)
        return (
            200,
            {},
            json.dumps(
                {
                    "id": "we_123",
                    "object": "webhook_endpoint",
                    "url": form["url"],
                    "enabled_events": ["customer.subscription.created"],
                    "status": "enabled",
                    "api_version": form.get("api_version"),
                    "livemode": False,
                    "metadata": {"djstripe_uuid": form["metadata[djstripe_uuid]"]},
                    "secret": CANARY_WEBHOOK_SECRET,
                    "created": 1760000000,
                }
            ),
        )

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback("POST", f"{API}/v1/webhook_endpoints", callback=create)
        mock.add("GET", f"{API}/v1/account", json={"id": "acct_1", "object": "account", "settings": {}})
        out = io.StringIO()
        call_command("billing_webhook_endpoint", base_url="https://orderrail.example/", stdout=out)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.id == "we_123"
    assert endpoint.secret == "" and signing_secret(endpoint) == CANARY_WEBHOOK_SECRET  # sealed, never in plaintext
    (form,) = sent
    assert form["url"] == f"https://orderrail.example/stripe/webhook/{endpoint.djstripe_uuid}/"
    events = {value for key, value in form.items() if key.startswith("enabled_events[")}
    assert {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"} <= events
    assert CANARY_WEBHOOK_SECRET not in out.getvalue()
    assert f"POST https://orderrail.example/stripe/webhook/{endpoint.djstripe_uuid}/" in out.getvalue()


def test_webhook_endpoint_from_the_environment_never_reads_argv(billing_settings, monkeypatch):
    monkeypatch.setenv("WHSEC", "not-a-secret")
    with pytest.raises(CommandError, match="does not hold a Stripe signing secret"):
        call_command("billing_webhook_endpoint", base_url="https://x.example", secret_env="WHSEC")
    assert not WebhookEndpoint.objects.exists()
