"""Canaries for a route secret, an exchange API key and secret of both credential kinds, the Stripe secret key and
a Stripe webhook signing secret, every one in play (a route, an account trading on the fake, a subscription paid
through Stripe's signed events), then every admin list and every change page - of every registered model, and the
support desk's own pages - rendered as a support person and as a superuser: none appears, nor in the logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse

from audit.models import Alert, Attention
from routing.attention import raise_attention
from tests.billing.stripe_fake import CANARY_STRIPE_KEY, CANARY_WEBHOOK_SECRET, PRICE_ID, deliver, fake_stripe
from tests.routing.conftest import CANARY_ROUTE_SECRET, TRADER_KEY, TRADER_SECRET, TRADER_WS_KEY, TRADER_WS_SECRET

pytestmark = pytest.mark.django_db

SECRETS = {
    "route secret": CANARY_ROUTE_SECRET,
    "API key": TRADER_KEY,
    "API secret": TRADER_SECRET,
    "WebSocket API key": TRADER_WS_KEY,
    "WebSocket API secret": TRADER_WS_SECRET,
    "Stripe secret key": CANARY_STRIPE_KEY,
    "Stripe webhook secret": CANARY_WEBHOOK_SECRET,
}


def _subscribe(trader: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trader pays through Stripe: customer, Checkout, signed subscription and invoice events (dj-stripe stores
    the customer, subscription, invoice, event and webhook request rows the admin then lists)."""
    monkeypatch.setenv("CANARY_WHSEC", CANARY_WEBHOOK_SECRET)
    call_command("billing_webhook_endpoint", base_url="https://orderrail.example", secret_env="CANARY_WHSEC")
    from djstripe.models import WebhookEndpoint

    hook = f"/stripe/webhook/{WebhookEndpoint.objects.get().djstripe_uuid}/"
    browser = Client()
    browser.force_login(trader)
    with fake_stripe("http://127.0.0.1", "http://localhost") as stripe:
        assert browser.post("/billing/subscribe/").status_code == 303
        (customer,) = stripe.customers
        subscription = stripe.subscribe(customer)
        assert deliver(browser, hook, stripe.event("customer.subscription.created", subscription)).status_code == 200
        assert deliver(browser, hook, stripe.event("invoice.paid", stripe.invoice(subscription))).status_code == 200
        assert browser.post("/billing/manage/").status_code == 303


def _every_admin_page(client: Client) -> tuple[list[str], dict[str, int]]:
    pages = ["/admin/", "/admin/support/needsattention/"]
    for model in admin.site._registry:
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        pages.append(base)
        try:
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[0])
        except NoReverseMatch:
            continue  # no change page (the support desk's queue is a list only)
        for pk in model._default_manager.values_list("pk", flat=True)[:5]:
            pages.append(f"{base}{pk}/change/")
    pages += [
        f"/admin/routing/route/{pk}/{action}/" for pk in _route_ids() for action in ("pause", "acknowledge-drift")
    ]
    statuses: dict[str, int] = {}
    bodies = []
    for page in pages:
        response = client.get(page)
        statuses[page] = response.status_code
        assert response.status_code in (200, 302, 403), (page, response.status_code)
        bodies.append("\n".join(f"{k}: {v}" for k, v in response.items()) + response.content.decode(errors="replace"))
    return bodies, statuses


def _route_ids() -> list[int]:
    from routing.models import Route

    return list(Route.objects.values_list("pk", flat=True))


def test_no_secret_on_any_admin_page_for_support_or_superuser(
    story, support, superuser, trader, account, billing_settings, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    _subscribe(trader, monkeypatch)
    raise_attention(
        kind=Attention.Kind.INTERNAL_ERROR,
        route=story["route"],
        alert=story["sent"],
        detail="processing failed (KeyError)",
        now=story["sent"].received_at,
    )
    assert billing_settings.STRIPE_PRICE_ID == PRICE_ID and account.credentials() == (TRADER_KEY, TRADER_SECRET)

    support_pages, support_status = _every_admin_page(support)
    superuser_pages, superuser_status = _every_admin_page(superuser)

    haystacks = {
        "support's admin pages": "\n".join(support_pages),
        "the superuser's admin pages": "\n".join(superuser_pages),
        "logs": caplog.text,
    }
    for where, text in haystacks.items():
        for kind, secret in SECRETS.items():
            assert secret not in text, f"the {kind} appears in {where}"
    # Sanity: the pages that matter really rendered, for both, and the superuser saw everything registered.
    sent = story["sent"].pk
    for page in (
        f"/admin/audit/alert/{sent}/change/",
        f"/admin/routing/route/{story['route'].pk}/change/",
        f"/admin/accounts/exchangeaccount/{account.pk}/change/",
        f"/admin/accounts/user/{trader.pk}/change/",
        "/admin/djstripe/subscription/",
        "/admin/billing/liveaccess/",
        "/admin/support/needsattention/",
    ):
        assert support_status[page] == 200, page
    assert all(status == 200 for status in superuser_status.values()), {
        page: status for page, status in superuser_status.items() if status != 200
    }
    assert len(superuser_status) > 60
    assert Alert.objects.count() == 4
