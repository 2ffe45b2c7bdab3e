"""With billing on, production needs a Stripe key and the price: `manage.py check --deploy` says so, by name."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def stripe_configured(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.BILLING_ENABLED:
        return []
    key = settings.STRIPE_LIVE_SECRET_KEY if settings.STRIPE_LIVE_MODE else settings.STRIPE_TEST_SECRET_KEY
    errors = []
    if not key:
        name = "STRIPE_LIVE_SECRET_KEY" if settings.STRIPE_LIVE_MODE else "STRIPE_TEST_SECRET_KEY"
        errors.append(
            checks.Error(
                f"BILLING_ENABLED is on but {name} is not set", hint="or set BILLING_ENABLED=false", id="billing.E001"
            )
        )
    if not settings.STRIPE_PRICE_ID:
        errors.append(
            checks.Error(
                "BILLING_ENABLED is on but STRIPE_PRICE_ID is not set",
                hint="`manage.py billing_setup` creates the $30/month price and prints its id",
                id="billing.E002",
            )
        )
    return errors


@checks.register()
def webhook_endpoints_have_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """dj-stripe's own checks (W005, I006) look for the secret on its plaintext column, which we keep empty
    (billing.webhook_secrets); this is the same check against the sealed copy."""
    from django.db import DatabaseError
    from djstripe.models import WebhookEndpoint

    try:
        missing = list(WebhookEndpoint.objects.filter(webhooksecret__isnull=True).values_list("url", flat=True))
    except DatabaseError:
        return []  # not migrated yet
    return [
        checks.Warning(
            f"Stripe webhook endpoint {url} has no signing secret: every event sent to it will be refused",
            hint="create it again with `manage.py billing_webhook_endpoint`",
            id="billing.W001",
        )
        for url in missing
    ]
