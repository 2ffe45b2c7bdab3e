"""Seeds what `make run` needs to show an alert becoming an order: a demo user, an exchange account on the local
fake Kraken, and a route. Idempotent: running it again keeps the same token and secret."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from billing.models import LiveAccess
from routing.models import Route

DEMO_EMAIL = "demo@orderrail.local"
DEMO_PASSWORD = "demo-password-123"
# The fake Kraken is started with this key pair; it is not a real Kraken key.
DEMO_API_KEY = "demo-api-key-for-the-local-fake-kraken"
DEMO_API_SECRET = "ZGVtby1zZWNyZXQtZm9yLXRoZS1sb2NhbC1mYWtlLWtyYWtlbi1zZXJ2ZXItb25seS0xMjM0NTY3ODkwMTI="
# The demo account's Kraken (Spot-style) key, for the Unified WebSocket transport (ORDERRAIL_TRANSPORT=uws make run).
DEMO_WS_API_KEY = "demo-ws-api-key-for-the-local-fake-kraken"
DEMO_WS_API_SECRET = "ZGVtby13ZWJzb2NrZXQtc2VjcmV0LWZvci10aGUtbG9jYWwtZmFrZS1rcmFrZW4tb25seQ=="
DEMO_ROUTE_SECRET = "demo-route-secret"
DEMO_ROUTE_TOKEN = "demo-xbt-target"


class Command(BaseCommand):
    help = "Create the demo user, exchange account (on the fake Kraken) and route used by make run."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            # A superuser with a published password, a known route token and secret, ten years of live access:
            # never outside development (make run sets DEBUG=1).
            raise CommandError(
                "seed_demo only runs in development (DEBUG=1); it creates a superuser with a known password"
            )
        user, created = User.objects.get_or_create(
            email=DEMO_EMAIL, defaults={"username": "demo", "is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(
                user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True}
            )
        LiveAccess.objects.update_or_create(
            user=user, defaults={"active_until": timezone.now() + timedelta(days=3650), "source": "demo"}
        )
        account = ExchangeAccount.objects.filter(owner=user, label="Demo (fake Kraken)").first()
        if account is None:
            account = ExchangeAccount(owner=user, label="Demo (fake Kraken)", mode=ExchangeAccount.Mode.LIVE)
            account.set_credentials(DEMO_API_KEY, DEMO_API_SECRET)
            account.set_ws_credentials(DEMO_WS_API_KEY, DEMO_WS_API_SECRET)
            account.verified_at = timezone.now()
            account.save()
        # make run picks the transport (ORDERRAIL_TRANSPORT=rest|uws); the fake serves both on one engine.
        transport = os.environ.get("ORDERRAIL_TRANSPORT", ExchangeAccount.Transport.REST)
        if transport not in ExchangeAccount.Transport.values:
            raise CommandError(f"ORDERRAIL_TRANSPORT must be one of {ExchangeAccount.Transport.values}")
        if account.transport != transport or not account.ws_key_fingerprint:
            account.transport = transport
            account.set_ws_credentials(DEMO_WS_API_KEY, DEMO_WS_API_SECRET)
            account.save()
        route = Route.objects.filter(token=DEMO_ROUTE_TOKEN).first()
        if route is None:
            route = Route(
                owner=user,
                name="Demo: XBT target position",
                exchange_account=account,
                symbol="PF_XBTUSD",
                tv_alias="XBTUSD",
                sizing_mode="target",
                multiplier=Decimal(1),
                max_position=Decimal("1"),
                max_order_size=Decimal("0.5"),
                max_leverage=Decimal(10),
                worst_case_stop_pct=Decimal(5),
                max_alert_age_seconds=300,
                token=DEMO_ROUTE_TOKEN,
            )
            route.set_secret(DEMO_ROUTE_SECRET)
            route.save()
        self.stdout.write(f"demo route {route.pk} token={route.token} transport={account.transport}")
