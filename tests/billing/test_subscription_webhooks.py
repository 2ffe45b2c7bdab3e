"""Checkout, the portal, and live access moved only by Stripe's signed webhook events through dj-stripe.

Stripe itself is `responses` at the HTTP edge (tests/billing/stripe_fake.py); every event goes through the real
`/stripe/webhook/<uuid>/` view with a real signature, dj-stripe's verification, its re-read of the subscription and
our receiver, exactly as in production.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from djstripe.models import Event, WebhookEventTrigger

from billing.access import has_live_access
from billing.models import LiveAccess
from tests.billing.stripe_fake import (
    CANARY_STRIPE_KEY,
    CANARY_WEBHOOK_SECRET,
    DAY,
    FakeStripe,
    deliver,
    sign,
)

pytestmark = pytest.mark.django_db


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


@pytest.fixture
def browser(subscriber) -> Client:
    client = Client()
    client.force_login(subscriber)
    return client


@pytest.fixture
def customer(stripe_api: FakeStripe, browser: Client) -> str:
    """The trader pressed Subscribe: Stripe now has their customer (and a Checkout session, never completed yet)."""
    assert browser.post("/billing/subscribe/").status_code == 303
    (customer_id,) = stripe_api.customers
    return customer_id


def live(user) -> bool:
    return has_live_access(user.pk, timezone.now())


# --- Checkout and the portal ---------------------------------------------------------------------------------------


def test_subscribe_sends_the_trader_to_stripe_checkout_for_the_one_price(stripe_api, browser, subscriber):
    page = browser.get("/billing/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="paywall"' in html and "$30 per month, flat" in html and "No per-trade fees" in html

    response = browser.post("/billing/subscribe/")
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    (created,) = stripe_api.requests_to("POST", "/v1/customers")
    assert created["email"] == "payer@example.com"
    assert created["metadata[djstripe_subscriber]"] == str(subscriber.pk)
    (session,) = stripe_api.requests_to("POST", "/v1/checkout/sessions")
    assert session["mode"] == "subscription"
    assert session["customer"] == next(iter(stripe_api.customers))
    assert (session["line_items[0][price]"], session["line_items[0][quantity]"]) == ("price_orderrail_monthly", "1")
    assert session["success_url"] == "http://testserver/billing/welcome/?session_id={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == "http://testserver/billing/"
    # Coming back from Checkout proves nothing: no access until Stripe's signed event says so.
    back = browser.get("/billing/welcome/?session_id=cs_test_forged")
    assert back["Refresh"] == "3" and "Not active" in back.content.decode()
    assert not live(subscriber)


def test_a_second_subscribe_reuses_the_stripe_customer(stripe_api, browser, customer):
    assert browser.post("/billing/subscribe/").status_code == 303
    assert len(stripe_api.requests_to("POST", "/v1/customers")) == 1
    assert len(stripe_api.requests_to("POST", "/v1/checkout/sessions")) == 2


def test_a_subscribed_trader_is_sent_to_the_portal_not_charged_twice(stripe_api, browser, customer, hook):
    deliver(browser, hook, stripe_api.event("customer.subscription.created", stripe_api.subscribe(customer)))
    response = browser.post("/billing/subscribe/")
    assert response.status_code == 303 and response["Location"] == "/billing/"
    assert len(stripe_api.requests_to("POST", "/v1/checkout/sessions")) == 1
    html = browser.get("/billing/").content.decode()
    assert 'data-testid="paywall"' not in html and 'data-testid="manage"' in html


def test_the_portal_is_where_a_trader_cancels_or_changes_the_card(stripe_api, browser, customer):
    response = browser.post("/billing/manage/")
    assert response.status_code == 303
    assert response["Location"].startswith("https://billing.stripe.com/p/session/")
    (portal,) = stripe_api.requests_to("POST", "/v1/billing_portal/sessions")
    assert portal == {"customer": customer, "return_url": "http://testserver/billing/"}


def test_the_portal_uses_the_configured_portal_settings(stripe_api, browser, customer, settings):
    settings.STRIPE_PORTAL_CONFIGURATION = "bpc_orderrail"
    browser.post("/billing/manage/")
    (portal,) = stripe_api.requests_to("POST", "/v1/billing_portal/sessions")
    assert portal["configuration"] == "bpc_orderrail"


def test_no_portal_without_a_customer(stripe_api, browser):
    response = browser.post("/billing/manage/", follow=True)
    assert response.redirect_chain == [("/billing/", 303)]
    assert "could not be opened" in response.content.decode()
    assert stripe_api.calls == []


def test_stripe_unreachable_at_checkout_is_a_clear_message_not_an_error_page(stripe_api, browser, caplog):
    caplog.set_level(logging.DEBUG)
    stripe_api.unavailable = True
    response = browser.post("/billing/subscribe/", follow=True)
    assert response.redirect_chain == [("/billing/", 303)]
    assert "nothing was charged" in response.content.decode()
    assert CANARY_STRIPE_KEY not in caplog.text


def test_billing_pages_need_a_login_and_buttons_need_post(stripe_api, client):
    assert client.get("/billing/").status_code == 302
    assert client.post("/billing/subscribe/").status_code == 302
    assert stripe_api.calls == []


def test_buttons_refuse_get(browser, stripe_api):
    assert browser.get("/billing/subscribe/").status_code == 405
    assert browser.get("/billing/manage/").status_code == 405


# --- subscription events move access on and off ------------------------------------------------------------------


def test_created_turns_live_access_on_until_the_period_end_plus_grace(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer)
    response = deliver(browser, hook, stripe_api.event("customer.subscription.created", sub))
    assert response.status_code == 200
    access = LiveAccess.objects.get(user=subscriber)
    period_end = at(sub["items"]["data"][0]["current_period_end"])
    assert (access.status, access.active_until, access.renews, access.subscription_id) == (
        "active",
        period_end,
        True,
        sub["id"],
    )
    assert live(subscriber)
    html = browser.get("/billing/").content.decode()
    assert '<span class="badge ok">Active</span>' in html and f"Renews on <strong>{period_end:%-d %B %Y}" in html


def test_renewed_moves_access_to_the_next_period(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer, start=int(time.time()) - 30 * DAY + 60)
    deliver(browser, hook, stripe_api.event("customer.subscription.created", sub))
    first_end = LiveAccess.objects.get(user=subscriber).active_until
    stripe_api.renew(sub, paid=True)
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", sub))
    access = LiveAccess.objects.get(user=subscriber)
    assert access.active_until == first_end + timedelta(days=30) and access.renews
    assert has_live_access(subscriber.pk, first_end + timedelta(days=20))


def test_past_due_keeps_access_through_the_grace_period_only(stripe_api, browser, customer, hook, subscriber):
    now = int(time.time())
    sub = stripe_api.subscribe(customer, start=now - 31 * DAY)  # the period ended a day ago
    stripe_api.renew(sub, paid=False)  # and the renewal was declined
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", sub))
    access = LiveAccess.objects.get(user=subscriber)
    renewal = at(now - DAY)
    assert (access.status, access.active_until, access.renews) == ("past_due", renewal, True)
    assert live(subscriber)  # a day into a 3-day grace period
    assert has_live_access(subscriber.pk, renewal + timedelta(days=3) - timedelta(seconds=1))
    assert not has_live_access(subscriber.pk, renewal + timedelta(days=3))
    html = browser.get("/billing/").content.decode()
    assert 'data-testid="grace"' in html and "renewal payment failed" in html


def test_the_grace_period_is_a_setting(stripe_api, browser, customer, hook, subscriber, settings):
    sub = stripe_api.subscribe(customer, start=int(time.time()) - 31 * DAY)
    stripe_api.renew(sub, paid=False)
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", sub))
    settings.BILLING_GRACE_DAYS = 0
    assert not live(subscriber)
    settings.BILLING_GRACE_DAYS = 7
    assert live(subscriber)


def test_cancelled_at_period_end_keeps_access_to_the_end_without_grace(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer)
    deliver(browser, hook, stripe_api.event("customer.subscription.created", sub))
    stripe_api.cancel_at_period_end(sub)
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", sub))
    access = LiveAccess.objects.get(user=subscriber)
    end = at(sub["items"]["data"][0]["current_period_end"])
    assert (access.active_until, access.renews) == (end, False)
    assert live(subscriber)
    assert not has_live_access(subscriber.pk, end)
    html = browser.get("/billing/").content.decode()
    assert f"Ends on <strong>{end:%-d %B %Y}" in html


def test_deleted_ends_access_at_once(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer)
    deliver(browser, hook, stripe_api.event("customer.subscription.created", sub))
    assert live(subscriber)
    stripe_api.end(sub)
    deliver(browser, hook, stripe_api.event("customer.subscription.deleted", sub))
    access = LiveAccess.objects.get(user=subscriber)
    assert access.status == "canceled" and not access.renews
    assert not live(subscriber)
    html = browser.get("/billing/").content.decode()
    assert "Not active" in html and 'data-testid="paywall"' in html  # free to subscribe again


def test_unpaid_after_the_retries_ends_access(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer, start=int(time.time()) - 40 * DAY)
    stripe_api.renew(sub, paid=False)
    sub["status"] = "unpaid"
    deliver(browser, hook, stripe_api.event("customer.subscription.updated", sub))
    assert not live(subscriber)


def test_a_subscription_to_another_price_grants_nothing(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer)
    sub["items"]["data"][0]["price"] = {**stripe_api.price, "id": "price_something_else"}
    deliver(browser, hook, stripe_api.event("customer.subscription.created", sub))
    assert not live(subscriber)


def test_invoices_appear_on_the_billing_page(stripe_api, browser, customer, hook):
    sub = stripe_api.subscribe(customer)
    deliver(browser, hook, stripe_api.event("customer.subscription.created", sub))
    invoice = stripe_api.invoice(sub)
    assert deliver(browser, hook, stripe_api.event("invoice.paid", invoice)).status_code == 200
    html = browser.get("/billing/").content.decode()
    assert invoice["number"] in html and "30.00 USD" in html and invoice["hosted_invoice_url"] in html


# --- what cannot move access -------------------------------------------------------------------------------------


def test_a_replayed_event_is_processed_once(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer)
    event = stripe_api.event("customer.subscription.created", sub)
    deliver(browser, hook, event)
    stripe_api.end(sub)  # Stripe's truth changes; an old delivery replayed must not re-apply anything
    assert deliver(browser, hook, event).status_code == 200
    assert Event.objects.filter(id=event["id"]).count() == 1
    assert WebhookEventTrigger.objects.count() == 2
    assert len(stripe_api.requests_to("GET", f"/v1/subscriptions/{sub['id']}")) == 1
    assert live(subscriber)


def test_events_out_of_order_leave_stripes_current_state(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer)
    created = stripe_api.event("customer.subscription.created", sub, created=int(time.time()) - 120)
    stripe_api.end(sub)
    deleted = stripe_api.event("customer.subscription.deleted", sub)
    deliver(browser, hook, deleted)  # the newer event arrives first
    deliver(browser, hook, created)  # then the older one, whose payload still says "active"
    assert LiveAccess.objects.get(user=subscriber).status == "canceled"
    assert not live(subscriber)


@pytest.mark.parametrize(
    "forgery",
    ["attacker_secret", "tampered_body", "no_signature", "too_old", "debug_secret_header"],
)
def test_forged_events_are_rejected_and_change_nothing(
    stripe_api, browser, customer, hook, subscriber, forgery, settings
):
    sub = stripe_api.subscribe(customer)
    event = stripe_api.event("customer.subscription.created", sub)
    body = json.dumps(event)
    now = int(time.time())
    headers = {"Stripe-Signature": sign(body, CANARY_WEBHOOK_SECRET, now)}
    if forgery == "attacker_secret":
        headers = {"Stripe-Signature": sign(body, "whsec_attacker", now)}
    elif forgery == "tampered_body":
        body = body.replace('"active"', '"active" ')
    elif forgery == "no_signature":
        headers = {}
    elif forgery == "too_old":
        headers = {"Stripe-Signature": sign(body, CANARY_WEBHOOK_SECRET, now - 301)}
    elif forgery == "debug_secret_header":
        # dj-stripe lets this header replace the endpoint secret under DEBUG (reliability.md table row 20).
        settings.DEBUG = True
        headers = {"Stripe-Signature": sign(body, "whsec_attacker", now), "X-Djstripe-Webhook-Secret": "whsec_attacker"}
    response = browser.post(hook, data=body, content_type="application/json", headers=headers)
    assert 400 <= response.status_code < 500
    assert not live(subscriber)
    assert not LiveAccess.objects.filter(user=subscriber, status="active").exists()
    assert stripe_api.requests_to("GET", f"/v1/subscriptions/{sub['id']}") == []
    assert not Event.objects.exists()
    assert not WebhookEventTrigger.objects.filter(valid=True).exists()


def test_a_rotated_secret_signing_with_two_v1_values_is_accepted(stripe_api, browser, customer, hook, subscriber):
    sub = stripe_api.subscribe(customer)
    body = json.dumps(stripe_api.event("customer.subscription.created", sub))
    now = int(time.time())
    good = sign(body, CANARY_WEBHOOK_SECRET, now).split("v1=")[1]
    header = f"t={now},v1={'0' * 64},v1={good}"
    response = browser.post(hook, data=body, content_type="application/json", headers={"Stripe-Signature": header})
    assert response.status_code == 200
    assert live(subscriber)


def test_an_unknown_endpoint_is_404_and_stores_nothing(stripe_api, browser, customer, endpoint):
    sub = stripe_api.subscribe(customer)
    response = deliver(
        browser,
        "/stripe/webhook/00000000-0000-4000-8000-000000000000/",
        stripe_api.event("customer.subscription.created", sub),
    )
    assert response.status_code == 404
    assert not WebhookEventTrigger.objects.exists()


def test_stripe_unreachable_while_processing_is_a_503_that_stripe_retries(
    stripe_api, browser, customer, hook, subscriber
):
    sub = stripe_api.subscribe(customer)
    event = stripe_api.event("customer.subscription.created", sub)
    stripe_api.unavailable = True
    response = deliver(browser, hook, event)
    assert response.status_code == 503
    assert not live(subscriber)
    trigger = WebhookEventTrigger.objects.get()
    assert trigger.valid and not trigger.processed and trigger.exception
    stripe_api.unavailable = False
    assert deliver(browser, hook, event).status_code == 200  # Stripe's retry
    assert live(subscriber)
