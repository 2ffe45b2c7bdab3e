"""The Stripe secret key and the webhook signing secret never surface: not in logs, HTTP answers, pages, stored
webhook requests or events, exceptions or command output - through checkout, the portal, good, forged and failing
webhook deliveries. (Every admin page is covered by tests/support/test_canaries.py.)"""

from __future__ import annotations

import json
import logging

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from djstripe.models import Event, WebhookEventTrigger

from tests.billing.stripe_fake import CANARY_STRIPE_KEY, CANARY_WEBHOOK_SECRET, deliver, sign

pytestmark = pytest.mark.django_db

CANARIES = (CANARY_STRIPE_KEY, CANARY_WEBHOOK_SECRET)


def test_stripe_secrets_never_surface(stripe_api, hook, subscriber, caplog, capsys, settings):
    caplog.set_level(logging.DEBUG)
    browser = Client()
    browser.force_login(subscriber)
    answers = [browser.get("/billing/"), browser.post("/billing/subscribe/")]
    (customer,) = stripe_api.customers
    sub = stripe_api.subscribe(customer)
    answers.append(deliver(browser, hook, stripe_api.event("customer.subscription.created", sub)))
    answers.append(deliver(browser, hook, stripe_api.event("invoice.paid", stripe_api.invoice(sub))))
    answers.append(browser.post("/billing/manage/"))
    # A forgery, a forgery under DEBUG carrying a secret header, and a delivery while Stripe is unreachable.
    forged = json.dumps(stripe_api.event("customer.subscription.updated", sub))
    answers.append(
        browser.post(
            hook, data=forged, content_type="application/json", headers={"Stripe-Signature": sign(forged, "whsec_x")}
        )
    )
    settings.DEBUG = True
    answers.append(
        browser.post(
            hook,
            data=forged,
            content_type="application/json",
            headers={
                "Stripe-Signature": sign(forged, CANARY_WEBHOOK_SECRET),
                "X-Djstripe-Webhook-Secret": CANARY_WEBHOOK_SECRET,
            },
        )
    )
    settings.DEBUG = False
    stripe_api.unavailable = True
    answers.append(deliver(browser, hook, stripe_api.event("customer.subscription.updated", sub)))
    answers.append(browser.post("/billing/subscribe/"))
    stripe_api.unavailable = False
    answers.append(browser.get("/billing/"))

    stored = json.dumps(
        [
            list(WebhookEventTrigger.objects.values("headers", "body", "exception", "traceback")),
            list(Event.objects.values("data")),
        ],
        default=str,
    )
    out = capsys.readouterr()
    rows = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    haystacks = {
        "stored rows": "\n".join(rows),
        "logs": caplog.text,
        "answers": "\n".join(a.content.decode() + json.dumps(dict(a.headers)) for a in answers),
        "stored webhook requests": stored,
        "output": out.out + out.err,
    }
    for where, text in haystacks.items():
        for canary in CANARIES:
            assert canary not in text, f"a Stripe secret leaked into {where}"
    assert WebhookEventTrigger.objects.filter(valid=False).exists()  # the forgery was seen and recorded, not trusted
    # dj-stripe would store the key it used (djstripe_apikey) and look the platform account up for it on the first
    # sync; billing.single_account stops both.
    assert stripe_api.requests_to("GET", "/v1/account") == []
    assert "djstripe_apikey" in connection.introspection.table_names()
