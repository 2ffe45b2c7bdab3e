"""A user's page: their routes, exchange accounts (fingerprint only), subscription and recent alerts."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django.utils.html import escape

from billing.models import LiveAccess
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, TRADER_WS_KEY, TRADER_WS_SECRET

pytestmark = pytest.mark.django_db


def test_everything_about_a_trader_on_one_page(story, support, trader, account, settings):
    settings.BILLING_ENABLED = True
    LiveAccess.objects.filter(user=trader).update(
        status="past_due", renews=True, subscription_id="sub_123", active_until=timezone.now()
    )
    html = support.get(f"/admin/accounts/user/{trader.pk}/change/").content.decode()
    assert f'href="/admin/routing/route/{story["route"].pk}/change/">BTC trend</a>' in html
    assert account.key_fingerprint in html and account.ws_key_fingerprint in html
    for secret in (TRADER_KEY, TRADER_SECRET, TRADER_WS_KEY, TRADER_WS_SECRET):
        assert secret not in html
    assert "Stripe status <strong>past_due</strong>" in html and "sub_123" in html and "renews" in html
    for name in ("sent", "skipped", "refused", "rejected"):
        assert escape(story[name].decision.message) in html
    assert f"?q={trader.email.replace('@', '%40')}" in html  # every alert of theirs, one click away


def test_billing_off_says_so(story, support, trader, settings):
    settings.BILLING_ENABLED = False
    html = support.get(f"/admin/accounts/user/{trader.pk}/change/").content.decode()
    assert "Billing is off on this installation" in html
