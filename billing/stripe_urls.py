"""Stands in for `djstripe.urls` (same namespace and name, so dj-stripe's admin builds endpoint URLs from it) with our
guarded view in front of dj-stripe's."""

from __future__ import annotations

from django.urls import path

from billing.webhook import stripe_webhook

app_name = "djstripe"

urlpatterns = [path("webhook/<uuid:uuid>/", stripe_webhook, name="djstripe_webhook_by_uuid")]
