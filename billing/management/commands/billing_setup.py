"""Create (once) the one product and its $30/month price in Stripe, and optionally the customer-portal configuration;
print the settings to put in the environment.

    manage.py billing_setup [--portal]

Idempotent: the price carries a lookup key, so a second run finds it instead of creating another.
"""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from djstripe.settings import djstripe_settings

LOOKUP_KEY = "orderrail_live_monthly"
AMOUNT_CENTS = 3000
CURRENCY = "usd"


class Command(BaseCommand):
    help = "Create the $30/month OrderRail price in Stripe (once) and print STRIPE_PRICE_ID."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--portal", action="store_true", help="also create a portal configuration (cancel at period end, card)"
        )

    def handle(self, *args: Any, portal: bool, **options: Any) -> None:
        api_key = djstripe_settings.get_default_api_key(livemode=settings.STRIPE_LIVE_MODE)
        if not api_key:
            raise CommandError("no Stripe secret key is configured (STRIPE_TEST_SECRET_KEY / STRIPE_LIVE_SECRET_KEY)")
        call = {"api_key": api_key, "stripe_version": djstripe_settings.STRIPE_API_VERSION}
        try:
            found = stripe.Price.list(lookup_keys=[LOOKUP_KEY], limit=1, **call)
            if found["data"]:
                price = found["data"][0]
            else:
                product = stripe.Product.create(
                    name="OrderRail live execution",
                    description="TradingView alerts to Kraken Futures, live. Flat pricing, no per-trade fees.",
                    **call,
                )
                price = stripe.Price.create(
                    product=product["id"],
                    unit_amount=AMOUNT_CENTS,
                    currency=CURRENCY,
                    recurring={"interval": "month"},
                    lookup_key=LOOKUP_KEY,
                    nickname="$30 per month",
                    **call,
                )
            recurring = price["recurring"] or {}
            if (price["unit_amount"], price["currency"], recurring["interval"]) != (AMOUNT_CENTS, CURRENCY, "month"):
                raise CommandError(f"price {price['id']} ({LOOKUP_KEY}) is not $30 per month; fix it in Stripe")
            self.stdout.write(f"STRIPE_PRICE_ID={price['id']}")
            if portal:
                configuration = stripe.billing_portal.Configuration.create(
                    business_profile={"headline": "OrderRail live trading: $30 per month, cancel anytime"},
                    features={
                        "customer_update": {"enabled": False},
                        "invoice_history": {"enabled": True},
                        "payment_method_update": {"enabled": True},
                        "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
                    },
                    **call,
                )
                self.stdout.write(f"STRIPE_PORTAL_CONFIGURATION={configuration['id']}")
        except stripe.StripeError as exc:
            raise CommandError(f"Stripe refused or could not be reached: {type(exc).__name__}") from None
