"""BILLING_ENABLED=false, for self-hosters: every account has live access, and there is no billing page, no Stripe
endpoint and no Stripe setting needed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from audit.reasons import Reason
from billing.access import has_live_access
from billing.models import LiveAccess
from tests.billing.test_live_access_e2e import alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_off(settings):
    settings.BILLING_ENABLED = False
    settings.STRIPE_TEST_SECRET_KEY = ""
    settings.STRIPE_LIVE_SECRET_KEY = ""
    settings.STRIPE_PRICE_ID = ""
    return settings


def test_every_account_trades_live_without_a_subscription(billing_off, trader, make_route, fake, exchange_url, client):
    LiveAccess.objects.filter(user=trader).delete()
    assert has_live_access(trader.pk, timezone.now())
    decision = alert(client, make_route(), position="0.1")
    assert decision.reason == Reason.ORDER_SENT
    assert fake.position("trader-api-key-0001", "PF_XBTUSD") == Decimal("0.1")
    live_check = next(c for c in decision.checks if c["name"] == "live_access")
    assert live_check["passed"]


def test_no_billing_pages_and_no_stripe_endpoint(trader, endpoint, billing_off):
    browser = Client()
    browser.force_login(trader)
    assert browser.get("/billing/").status_code == 404
    assert browser.post("/billing/subscribe/").status_code == 404
    assert browser.post("/billing/manage/").status_code == 404
    hook = f"/stripe/webhook/{endpoint.djstripe_uuid}/"
    assert (
        browser.post(hook, data="{}", content_type="application/json", headers={"Stripe-Signature": "x"}).status_code
        == 404
    )


def test_no_stripe_setting_is_needed(billing_off):
    call_command("check", "--deploy", "--tag", "security")  # the billing checks stay quiet
    with pytest.raises(CommandError, match="BILLING_ENABLED is off"):
        call_command("billing_webhook_endpoint", base_url="https://x.example", secret_env="NOPE")


def test_with_billing_on_the_deploy_check_names_what_is_missing(settings):
    from billing.checks import stripe_configured

    settings.BILLING_ENABLED = True
    settings.STRIPE_LIVE_MODE = True
    settings.STRIPE_LIVE_SECRET_KEY = ""
    settings.STRIPE_PRICE_ID = ""
    assert [e.id for e in stripe_configured()] == ["billing.E001", "billing.E002"]
    assert "STRIPE_LIVE_SECRET_KEY" in stripe_configured()[0].msg
