"""Canaries for every secret kind - the route secret, the exchange API key and secret (both credential kinds),
Stripe's keys and webhook secret, the SMTP password - set, then driven through the webhook (valid, wrong-secret and
hostile bodies), the pipeline against the fake exchange, every trader page, every admin page, /healthz and Django's
debug error page. None may appear in any HTTP response (headers and body), the logs, the captured output or any
stored row (raw, as the database holds it)."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse

from accounts.models import User
from audit.models import Alert
from routing.models import Route
from tests.routing.conftest import (
    CANARY_ROUTE_SECRET,
    TRADER_KEY,
    TRADER_SECRET,
    TRADER_WS_KEY,
    TRADER_WS_SECRET,
    payload,
    post,
)
from tests.routing.secret_checks import near_copies
from tests.worker import run_queued_tasks
from trader import urls as trader_urls

pytestmark = pytest.mark.django_db

STRIPE = {
    "STRIPE_LIVE_SECRET_KEY": "sk_live_canary51HxQ2mLr8ZtW3vB9nK4pR7yC",
    "STRIPE_TEST_SECRET_KEY": "sk_test_canary51HxQ2mLr8ZtW3vB9nK4pR7yD",
    "DJSTRIPE_WEBHOOK_SECRET": "whsec_canary9pL2vX7nQ4mZ8kR3tB6yW1cH5",
    "STRIPE_WEBHOOK_SECRET": "whsec_canary2Zk8mW4qP7xL1vR9tB3nC6yH",
}
SMTP_PASSWORD = "smtp-canary-password-Kx7Qm2Vb9"
SECRETS = {
    "route secret": CANARY_ROUTE_SECRET,
    "API key": TRADER_KEY,
    "API secret": TRADER_SECRET,
    "WS API key": TRADER_WS_KEY,
    "WS API secret": TRADER_WS_SECRET,
    "SMTP password": SMTP_PASSWORD,
    **{name: value for name, value in STRIPE.items()},
}


def _response_text(response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return headers + "\n" + body.decode(errors="replace")


def _raw_rows() -> str:
    """Every table as the database holds it: encrypted columns stay ciphertext."""
    out = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            out.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(out)


def _debug_page(render):  # type: ignore[no-untyped-def]
    """Raised here, not in the test: the page lists the locals of every frame, and the test's own hold canaries."""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return render(RequestFactory().get("/"), *sys.exc_info())


def test_no_secret_of_any_kind_escapes(client, make_route, account, fake, exchange_url, caplog, capsys, settings):
    caplog.set_level(logging.DEBUG)
    for name, value in STRIPE.items():
        setattr(settings, name, value)
    settings.EMAIL_HOST_PASSWORD = SMTP_PASSWORD
    responses: list[str] = []

    # The webhook: valid, duplicate, wrong secret, and hostile bodies carrying the route secret.
    route = make_route()
    for body in (
        payload(position="0.1"),
        payload(position="0.1"),
        payload("a-wrong-secret", position="0.2"),
        f'{{"action": "{CANARY_ROUTE_SECRET.upper()}", broken'.encode(),
        payload(position="0.3", id="x" + CANARY_ROUTE_SECRET[2:14]),
    ):
        responses.append(_response_text(post(client, route, body)))
    fake.add_fault("sendorder", "reject", count=1, status="insufficientAvailableFunds")
    responses.append(_response_text(post(client, route, payload(position="0.4", id="second"))))
    run_queued_tasks()
    responses.append(_response_text(client.get("/healthz")))

    # Every trader page the owner can open.
    trader = Client()
    trader.force_login(route.owner)
    pages = [reverse(p.name) for p in trader_urls.urlpatterns if isinstance(p, URLPattern) and not p.pattern.converters]
    pages += [reverse("route_detail", args=[route.pk]), reverse("exchange_detail", args=[account.pk])]
    pages += [reverse("alert_detail", args=[pk]) for pk in Alert.objects.values_list("pk", flat=True)]
    for page in pages:
        response = trader.get(page)
        assert response.status_code in (200, 302, 405), (page, response.status_code)  # 405: a POST-only action
        responses.append(_response_text(response))

    # Every admin list, and the change page of every object of ours.
    admin = Client()
    admin.force_login(User.objects.create_superuser("support", "support@example.com", "x" * 12))
    for model in apps.get_models():
        if model._meta.app_label not in ("accounts", "routing", "audit", "billing", "ops"):
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = admin.get(base)
        if response.status_code == 404:
            continue  # not registered in the admin
        responses.append(_response_text(response))
        for pk in model._default_manager.values_list("pk", flat=True)[:5]:
            responses.append(_response_text(admin.get(f"{base}{pk}/change/")))

    # Django's debug error page, as it would look if DEBUG were switched on by mistake: settings are listed there.
    from django.views.debug import technical_500_response

    settings.DEBUG = True
    responses.append(_response_text(_debug_page(technical_500_response)))
    settings.DEBUG = False

    out = capsys.readouterr()
    haystacks = {
        "HTTP responses": "\n".join(responses),
        "logs": caplog.text,
        "output": out.out + out.err,
        "stored rows": _raw_rows(),
    }
    assert Route.objects.filter(pk=route.pk).exists() and len(responses) > 20
    for where, text in haystacks.items():
        for kind, secret in SECRETS.items():
            assert secret not in text, f"the {kind} appears in {where}"
        assert not near_copies(CANARY_ROUTE_SECRET, text), f"a near copy of the route secret is in {where}"
    # Sanity: the canaries were really in play (the secrets were configured and used).
    assert account.credentials() == (TRADER_KEY, TRADER_SECRET)
    assert json.loads(responses[0].split("\n", maxsplit=len(responses[0].splitlines()) - 1)[-1])["status"] == "queued"
