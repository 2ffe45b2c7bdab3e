"""Webhook signing secrets sealed at rest (billing.models.WebhookSecret), never in dj-stripe's plaintext column.

Whatever saves a dj-stripe WebhookEndpoint - `manage.py billing_webhook_endpoint`, dj-stripe's admin form, a resync -
the secret it carries is taken off the row before it is written and sealed in our table after. A resync from Stripe
carries no secret (Stripe returns it only when the endpoint is created) and leaves the sealed one alone.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from djstripe.models import WebhookEndpoint

from accounts.fields import UNREADABLE
from billing.models import WebhookSecret

_CARRIED = "_orderrail_signing_secret"


def _take(sender: Any, instance: WebhookEndpoint, **kwargs: Any) -> None:
    if instance.secret:
        setattr(instance, _CARRIED, instance.secret)
        instance.secret = ""


def _seal(sender: Any, instance: WebhookEndpoint, **kwargs: Any) -> None:
    secret = getattr(instance, _CARRIED, None)
    if secret:
        WebhookSecret.objects.update_or_create(endpoint=instance, defaults={"secret": secret})
        delattr(instance, _CARRIED)


def signing_secret(endpoint: WebhookEndpoint) -> str:
    """The endpoint's secret, opened in memory; "" when there is none or no FERNET_KEYS opens it (every delivery then
    fails verification - a 400 - rather than being trusted)."""
    value = WebhookSecret.objects.filter(endpoint=endpoint).values_list("secret", flat=True).first()
    return "" if not value or value == UNREADABLE else value


pre_save.connect(_take, sender=WebhookEndpoint, dispatch_uid="billing-take-webhook-secret")
post_save.connect(_seal, sender=WebhookEndpoint, dispatch_uid="billing-seal-webhook-secret")
