"""Webhook signing secrets are sealed at rest under FERNET_KEYS, whichever way an endpoint is saved."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from djstripe.models import WebhookEndpoint, WebhookEventTrigger

from billing.checks import webhook_endpoints_have_secrets
from billing.models import LiveAccess, WebhookSecret
from billing.webhook_secrets import signing_secret
from tests.billing.stripe_fake import CANARY_WEBHOOK_SECRET, deliver

pytestmark = pytest.mark.django_db


def _raw(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
        return repr(cursor.fetchall())


def test_any_save_of_an_endpoint_seals_its_secret(db):
    endpoint = WebhookEndpoint.objects.create(
        id="we_admin_made",
        url="https://orderrail.example/stripe/webhook/x/",
        secret=CANARY_WEBHOOK_SECRET,  # what dj-stripe's admin form or a sync from Stripe's create answer does
        enabled_events=["*"],
        status="enabled",
        djstripe_uuid=uuid.uuid4(),
    )
    endpoint.refresh_from_db()
    assert endpoint.secret == ""
    assert signing_secret(endpoint) == CANARY_WEBHOOK_SECRET
    assert CANARY_WEBHOOK_SECRET not in _raw(WebhookEndpoint._meta.db_table) + _raw(WebhookSecret._meta.db_table)
    # A later save without a secret (a resync: Stripe returns the secret only on creation) keeps the sealed one.
    endpoint.save()
    assert signing_secret(endpoint) == CANARY_WEBHOOK_SECRET


def test_a_secret_no_key_opens_trusts_no_delivery(stripe_api, hook, endpoint, subscriber):
    with connection.cursor() as cursor:  # a ciphertext no FERNET_KEYS can open, as after a lost key
        cursor.execute(f"UPDATE {WebhookSecret._meta.db_table} SET secret = %s", [b"not-a-token"])
    from django.test import Client

    browser = Client()
    browser.force_login(subscriber)
    browser.post("/billing/subscribe/")
    (customer,) = stripe_api.customers
    response = deliver(browser, hook, stripe_api.event("customer.subscription.created", stripe_api.subscribe(customer)))
    assert response.status_code == 503  # nothing verifiable: refused, and Stripe retries once it is fixed
    assert not LiveAccess.objects.filter(status="active").exists()
    assert not WebhookEventTrigger.objects.exists()


def test_the_check_names_an_endpoint_without_a_secret(endpoint):
    assert webhook_endpoints_have_secrets() == []
    WebhookSecret.objects.all().delete()
    (warning,) = webhook_endpoints_have_secrets()
    assert warning.id == "billing.W001" and endpoint.url in warning.msg
