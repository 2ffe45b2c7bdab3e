"""Create the Stripe webhook endpoint dj-stripe receives events on (`/stripe/webhook/<uuid>/`, kept in the database).

    manage.py billing_webhook_endpoint --base-url https://orderrail.example
        registers the endpoint with Stripe and stores it with the signing secret Stripe returns;
    WHSEC=whsec_… manage.py billing_webhook_endpoint --base-url https://… --secret-env WHSEC
        stores an endpoint made elsewhere (the Stripe dashboard, or `stripe listen` in development) with its secret,
        without calling Stripe.

The secret is read from the environment (never from the command line, which `ps` shows) and never printed.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from djstripe.models import WebhookEndpoint
from djstripe.settings import djstripe_settings

from billing.receivers import SUBSCRIPTION_EVENTS

ENABLED_EVENTS = [
    *SUBSCRIPTION_EVENTS,
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
]


class Command(BaseCommand):
    help = "Create the Stripe webhook endpoint (stripe/webhook/<uuid>/) that live access listens on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", required=True, help="public origin, e.g. https://orderrail.example")
        parser.add_argument(
            "--secret-env",
            metavar="NAME",
            help="store an endpoint created elsewhere; its signing secret (whsec_…) is in this environment variable",
        )

    def handle(self, *args: Any, base_url: str, secret_env: str | None, **options: Any) -> None:
        if not settings.BILLING_ENABLED:
            raise CommandError("BILLING_ENABLED is off: there is nothing to receive")
        marker = uuid.uuid4()
        url = base_url.rstrip("/") + reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": marker})
        if secret_env:
            secret = os.environ.get(secret_env, "")
            if not secret.startswith("whsec_"):
                raise CommandError(f"environment variable {secret_env} does not hold a Stripe signing secret (whsec_…)")
            endpoint = WebhookEndpoint.objects.create(
                id=f"we_local_{marker.hex[:24]}",
                url=url,
                secret=secret,
                enabled_events=ENABLED_EVENTS,
                status="enabled",
                api_version=djstripe_settings.STRIPE_API_VERSION,
                livemode=settings.STRIPE_LIVE_MODE,
                djstripe_uuid=marker,
                metadata={"djstripe_uuid": str(marker)},
                stripe_data={"object": "webhook_endpoint", "url": url, "enabled_events": ENABLED_EVENTS},
            )
        else:
            api_key = djstripe_settings.get_default_api_key(livemode=settings.STRIPE_LIVE_MODE)
            if not api_key:
                raise CommandError("no Stripe secret key configured (STRIPE_TEST_SECRET_KEY / STRIPE_LIVE_SECRET_KEY)")
            data = WebhookEndpoint._api_create(
                url=url,
                enabled_events=ENABLED_EVENTS,
                api_version=djstripe_settings.STRIPE_API_VERSION,
                metadata={"djstripe_uuid": str(marker)},
                api_key=api_key,
                livemode=settings.STRIPE_LIVE_MODE,
            )
            endpoint = WebhookEndpoint.sync_from_stripe_data(data, api_key=api_key)
        self.stdout.write(f"webhook endpoint {endpoint.id}: POST {url}")
        self.stdout.write(f"events: {', '.join(ENABLED_EVENTS)}")
