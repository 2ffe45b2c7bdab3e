"""Issue 9's two journeys in a real browser (Debian's chromium driven by Playwright), photographed at every step into
tests/browser/screenshots/ (desk-*):

- a trader from the paywall to active live access: the banner and the billing page without a subscription →
  "Subscribe with Stripe" → Stripe Checkout (Stripe is unreachable here: the browser is shown a stand-in page at
  checkout.stripe.com, and `responses` answers the server's calls to api.stripe.com) → back on OrderRail, waiting →
  Stripe's signed events reach the real webhook → the page turns to active live access by itself;
- a support person from an alert id to its explanation: signs in like anyone (allauth), the admin makes them turn on
  two-factor authentication first, then the alert list finds the alert by its id and its page tells the story, with
  the sentence the trader sees; the same person finds it by the trader's e-mail, reads the trader's page;
  then the needs-attention queue shows the drift a trade made by hand on Kraken caused, with what to do, and
  they re-base the route, saying why - recorded on the route's history with their name.

The billing journey runs on an in-process live server, because the fake Stripe (`responses`) can only answer calls
made in this process; the support journey runs against the real stack (gunicorn, the engine, the fake Kraken) with
the admin's two-factor rule switched on as in production."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from audit.models import Alert, Attention, Decision, RouteEvent
from billing.access import has_live_access
from exchanges.base import OrderRequest, OrderType, Side
from exchanges.kraken.adapter import KrakenFutures
from routing.models import Route
from tests.billing.stripe_fake import CANARY_STRIPE_KEY, CANARY_WEBHOOK_SECRET, PRICE_ID, fake_stripe, sign
from tests.browser.browser import Camera, browser, running_stack, totp
from tests.routing.conftest import CANARY_ROUTE_SECRET, TRADER_KEY, TRADER_SECRET, payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "a long and unguessable passphrase 42"
CHECKOUT_STAND_IN = (
    "<!doctype html><html lang=en><head><title>Stripe Checkout (test stand-in)</title></head><body>"
    "<h1>Stripe Checkout</h1><p>Stripe cannot be reached from this machine: this page stands in for Stripe's own, "
    "where the trader pays $30.00 per month. The test then delivers the events Stripe signs.</p></body></html>"
)


def person(email: str) -> User:
    """An account that signed up and confirmed its e-mail (the sign-up itself is walked in test_journeys)."""
    user = User.objects.create_user(username=email.partition("@")[0], email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def sign_in(page: Any, web: str, email: str, camera: Camera | None = None, shot: str = "") -> None:
    page.goto(web + "/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    if camera is not None:
        camera.shot(page, shot, phone=False)
    page.locator("main button[type=submit]").first.click()
    page.wait_for_load_state()


def live_route(owner: User, *, name: str, max_position: str = "1", stop_pct: str = "") -> Route:
    account = ExchangeAccount(owner=owner, label="Main", mode=ExchangeAccount.Mode.LIVE, transport="rest")
    account.set_credentials(TRADER_KEY, TRADER_SECRET)
    account.save()
    route = Route(
        owner=owner,
        name=name,
        exchange_account=account,
        symbol="PF_XBTUSD",
        tv_alias="XBTUSD.P",
        sizing_mode="target",
        max_position=Decimal(max_position),
        worst_case_stop_pct=Decimal(stop_pct) if stop_pct else None,
        max_alert_age_seconds=120,
    )
    route.set_secret(CANARY_ROUTE_SECRET)
    route.save()
    return route


# --- (a) a trader from the paywall to active live access ------------------------------------------------------------


def test_trader_from_the_paywall_to_live_access(live_server: Any, settings: Any, monkeypatch: Any) -> None:
    settings.BILLING_ENABLED = True
    settings.STRIPE_LIVE_MODE = False
    settings.STRIPE_TEST_SECRET_KEY = CANARY_STRIPE_KEY
    settings.STRIPE_PRICE_ID = PRICE_ID
    monkeypatch.setenv("BROWSER_WHSEC", CANARY_WEBHOOK_SECRET)
    call_command("billing_webhook_endpoint", base_url=live_server.url, secret_env="BROWSER_WHSEC")
    from djstripe.models import WebhookEndpoint
    from playwright.sync_api import expect

    hook = f"{live_server.url}/stripe/webhook/{WebhookEndpoint.objects.get().djstripe_uuid}/"
    trader = person("pat.trader@example.com")
    live_route(trader, name="XBT trend 4h (live)")
    web = live_server.url
    camera = Camera("desk-billing")

    def stripe_sends(kind: str, obj: dict[str, Any]) -> None:
        body = json.dumps(stripe.event(kind, obj))
        answer = requests.post(
            hook, data=body, headers={"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)}
        )
        assert answer.status_code == 200, (kind, answer.status_code)

    secret = CANARY_WEBHOOK_SECRET
    with fake_stripe("http://127.0.0.1", "http://localhost") as stripe, browser(camera) as (context, page):
        # Stripe's own pages are not reachable: the browser gets a stand-in for Checkout, and nothing else leaves.
        context.route("https://checkout.stripe.com/**", lambda route: route.fulfill(body=CHECKOUT_STAND_IN))
        sign_in(page, web, trader.email)
        page.wait_for_url("**/dashboard/")
        camera.shot(page, "dashboard-before")
        page.goto(web + "/billing/")
        assert page.get_by_test_id("paywall").is_visible()
        assert "No subscription yet" in page.get_by_test_id("access-status").inner_text()
        assert "XBT trend 4h (live)" in page.get_by_test_id("routes-waiting").inner_text()
        camera.shot(page, "paywall")

        page.get_by_test_id("subscribe").click()
        page.wait_for_url("https://checkout.stripe.com/**")
        camera.shot(page, "stripe-checkout-stand-in", phone=False)
        (customer,) = stripe.customers
        assert stripe.requests_to("POST", "/v1/checkout/sessions")

        # Paid: Stripe sends the trader back to the success URL while its signed events are on their way.
        page.goto(web + "/billing/welcome/")
        assert page.get_by_test_id("waiting").is_visible()
        camera.shot(page, "back-from-checkout-waiting")
        subscription = stripe.subscribe(customer)
        stripe_sends("customer.subscription.created", subscription)
        stripe_sends("invoice.paid", stripe.invoice(subscription))
        # The page's own Refresh header brings it (Playwright's expect retries across those reloads).
        expect(page.locator("[data-testid=access-status] .badge.ok")).to_be_visible(timeout=20_000)
        page.wait_for_load_state()
        assert page.get_by_test_id("access-status").inner_text().strip() == "Active"
        assert page.get_by_test_id("routes-waiting").count() == 0
        assert page.get_by_test_id("paywall").count() == 0 and page.get_by_test_id("manage").is_visible()
        camera.shot(page, "live-access-active")
        assert not camera.errors, camera.errors

    assert has_live_access(trader.pk, timezone.now())
    assert not has_live_access(trader.pk, timezone.now() + timedelta(days=60))  # one paid month, no more


# --- (b) a support person from an alert id to its explanation ------------------------------------------------------


def fire(web: str, route: Route, **fields: str) -> int:
    answer = requests.post(web + route.webhook_path, json=payload(**fields), timeout=5)
    assert answer.status_code == 202, answer.text
    return int(answer.json()["alert"])


def decided(alert_id: int, timeout: float = 30.0) -> Decision:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        decision = Decision.objects.filter(alert_id=alert_id).first()
        if decision is not None and not decision.orders.exclude(state__in=("filled", "rejected", "cancelled")).exists():
            return decision
        time.sleep(0.3)
    raise AssertionError(f"alert {alert_id} was not decided within {timeout} s")


def test_support_from_an_alert_id_to_its_explanation(tmp_path: Path) -> None:
    trader = person("dana.trader@example.com")
    route = live_route(trader, name="XBT trend 4h", stop_pct="5")
    support_email = "helpdesk@example.com"
    person(support_email)
    call_command("support_group", add=support_email, stdout=None)
    camera = Camera("desk-support")
    with running_stack(tmp_path, TRADER_KEY, TRADER_SECRET, ADMIN_REQUIRE_MFA="1") as s:
        sent_id = fire(s.web, route, position="0.1", id="Long")
        sent = decided(sent_id)
        skipped_id = fire(s.web, route, position="3", id="Long add")  # above the route's limit of 1
        skipped = decided(skipped_id)
        # The trader trades by hand on Kraken: reconciliation finds the drift and freezes the route.
        with KrakenFutures(s.kraken, TRADER_KEY, TRADER_SECRET, connect_timeout=2, read_timeout=5) as venue:
            venue.place_order(
                OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.05"), OrderType.MARKET, client_order_id="by-hand-1")
            )
        subprocess.run(
            [sys.executable, "manage.py", "reconcile"], env=s.env, check=True, capture_output=True, timeout=60
        )
        assert Attention.objects.filter(kind=Attention.Kind.POSITION_DRIFT, resolved_at=None).count() == 1
        assert sent.action == Decision.Action.SEND and skipped.reason == "max_position_size"

        with browser(camera) as (_context, page):
            # Staff sign in like anyone; the admin then insists on two-factor authentication.
            sign_in(page, s.web, support_email)
            page.wait_for_url("**/dashboard/")
            page.goto(s.web + "/admin/")
            assert "/2fa/totp/activate/" in page.url or "/reauthenticate/" in page.url, page.url
            assert "Staff need two-factor authentication to use the admin" in page.content()
            camera.shot(page, "admin-asks-for-two-factor", phone=False)
            if "/reauthenticate/" in page.url:
                page.fill("#id_password", PASSWORD)
                page.locator("main button[type=submit]").first.click()
                page.wait_for_url("**/totp/activate/")
            camera.shot(page, "two-factor-activate", phone=False)
            page.fill("#id_code", totp(page.input_value("#authenticator_secret")))
            page.locator("main button[type=submit]").click()
            page.wait_for_load_state()
            page.goto(s.web + "/admin/")
            assert "OrderRail support desk" in page.content() and "Needs attention" in page.content()
            camera.shot(page, "admin-index", phone=False)

            # "Why didn't my trade happen? Alert 42." The alert list finds it by its id.
            page.fill("#desk-q", str(skipped_id))
            page.get_by_test_id("desk-start").get_by_role("button", name="Search").click()
            page.wait_for_url("**/admin/audit/alert/?q=*")
            rows = page.locator("#result_list tbody tr")
            assert rows.count() == 1 and "Max position size (max_position_size)" in rows.first.inner_text()
            camera.shot(page, "alert-found-by-id", phone=False)
            rows.first.get_by_role("link", name=str(skipped_id)).click()
            page.wait_for_url(lambda url: f"/admin/audit/alert/{skipped_id}/change/" in url)
            explanation = page.get_by_test_id("explanation").inner_text()
            assert explanation == skipped.message  # the very sentence the trader sees
            assert "failed: max_position_size" in page.content()
            camera.shot(page, "skipped-alert-explained", phone=False)

            # The trader's other alert, by their e-mail: sent, filled, the fee and the worst-case stop.
            page.goto(s.web + "/admin/audit/alert/")
            page.fill("#searchbar", trader.email)
            page.locator("#changelist-search input[type=submit]").click()
            page.wait_for_load_state()
            assert page.locator("#result_list tbody tr").count() == 2
            camera.shot(page, "alerts-by-email", phone=False)
            page.get_by_role("link", name=str(sent_id), exact=True).click()
            page.wait_for_url(lambda url: f"/admin/audit/alert/{sent_id}/change/" in url)
            assert page.get_by_test_id("explanation").inner_text() == sent.message
            content = page.content()
            assert "Filled" in content and "(resting now)" in content and "fees " in content
            camera.shot(page, "sent-alert-explained", phone=False)

            page.goto(s.web + f"/admin/accounts/user/{trader.pk}/change/")
            assert "XBT trend 4h" in page.content() and TRADER_KEY not in page.content()
            camera.shot(page, "trader-page", phone=False)
            # The queue: the drift the trader's trade by hand caused, with what to do; support re-bases the route.
            page.goto(s.web + "/admin/")
            assert "1 open" in page.get_by_test_id("desk-start").inner_text()
            page.get_by_test_id("desk-start").get_by_role("link", name="Needs attention").click()
            queue = page.get_by_test_id("queue")
            assert "Position drift" in queue.inner_text() and "acknowledge the drift on the route" in queue.inner_text()
            camera.shot(page, "needs-attention-drift", phone=False)
            queue.get_by_role("link", name=f"route {route.pk}").click()
            page.wait_for_url(lambda url: f"/admin/routing/route/{route.pk}/change/" in url)
            assert "Flatten" not in page.content() and "frozen since" in page.content()
            camera.shot(page, "route-frozen", phone=False)
            page.get_by_role("link", name="Acknowledge drift (re-base)").click()
            page.fill("#id_why", "Trader bought 0.05 by hand on Kraken (ticket 812); the exchange is right.")
            camera.shot(page, "acknowledge-drift-form", phone=False)
            page.get_by_role("button", name="Acknowledge drift (re-base)").click()
            page.wait_for_url(lambda url: url.endswith(f"/admin/routing/route/{route.pk}/change/"))
            assert "Drift acknowledged" in page.content() and "not frozen" in page.content()
            history = page.locator("#history-group").inner_text()
            assert "ticket 812" in history and "helpdesk" in history
            assert "Acknowledge drift (re-base)" not in page.content()  # nothing left to re-base
            camera.shot(page, "route-rebased-history", phone=False)
            page.goto(s.web + "/admin/support/needsattention/")
            assert "Nothing needs attention." in page.content()
            assert not camera.errors, camera.errors

    drift = Attention.objects.get(kind=Attention.Kind.POSITION_DRIFT)
    assert drift.resolved_by.email == support_email and "ticket 812" in drift.resolution_note
    event = RouteEvent.objects.get(route=route, kind=RouteEvent.Kind.DRIFT_ACKNOWLEDGED)
    assert event.actor.email == support_email and "0.15" in event.detail
    assert Alert.objects.filter(route=route).count() == 2
