from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        import stripe
        from django.conf import settings

        # System checks, dj-stripe's webhook receivers, sealing of webhook signing secrets.
        from billing import checks, receivers, single_account, webhook_secrets  # noqa: F401

        single_account.install()  # no copy of the Stripe secret key in the database

        # stripe-python waits 80 s by default; a trader's click must not hold a web worker that long.
        stripe.default_http_client = stripe.RequestsClient(
            timeout=(settings.STRIPE_CONNECT_TIMEOUT, settings.STRIPE_READ_TIMEOUT)
        )
