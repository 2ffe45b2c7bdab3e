from __future__ import annotations

import secrets
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ExchangeAccount, User
from routing import instruments
from routing.models import Route

LIMITS = ("max_order_size", "max_position", "max_notional", "max_leverage", "daily_loss_limit", "price_deviation_pct")


class Command(BaseCommand):
    help = "Create a route and print its webhook URL and secret (shown once; only a hash is stored)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--owner", required=True, help="owner's email")
        parser.add_argument("--account", type=int, help="exchange account id")
        parser.add_argument("--name", required=True)
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--alias", default="")
        parser.add_argument("--sizing", choices=["target", "contracts", "fixed"], default="target")
        parser.add_argument("--multiplier", type=Decimal, default=Decimal(1))
        parser.add_argument("--fixed-size", type=Decimal)
        parser.add_argument("--side", choices=["both", "long_only", "short_only"], default="both")
        for name in LIMITS:
            parser.add_argument("--" + name.replace("_", "-"), type=Decimal)
        parser.add_argument("--orders-per-hour", type=int)
        parser.add_argument("--max-alert-age", type=int, default=60)
        parser.add_argument("--worst-case-stop-pct", type=Decimal)
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: object, **o: object) -> None:
        owner = User.objects.filter(email=o["owner"]).first()
        if owner is None:
            raise CommandError("no such user")
        account = ExchangeAccount.objects.filter(pk=o["account"], owner=owner).first() if o["account"] else None
        if o["account"] and account is None:
            raise CommandError(f"{owner.email} has no exchange account {o['account']}")
        symbol = str(o["symbol"])
        if account is not None:
            # The same check as the route pages: the exchange lists it and it is a supported (linear USD) contract.
            try:
                symbol = instruments.check_symbol(account, symbol)
            except instruments.InstrumentsUnavailable as exc:
                raise CommandError(str(exc)) from None
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        route = Route(
            owner=owner,
            exchange_account=account,
            name=o["name"],
            symbol=symbol.upper(),
            tv_alias=o["alias"],
            sizing_mode=o["sizing"],
            multiplier=o["multiplier"],
            fixed_size=o["fixed_size"],
            side_policy=o["side"],
            orders_per_hour=o["orders_per_hour"],
            max_alert_age_seconds=o["max_alert_age"],
            worst_case_stop_pct=o["worst_case_stop_pct"],
            **{name: o[name] for name in LIMITS},
        )
        secret = secrets.token_urlsafe(24)
        route.set_secret(secret)
        try:
            route.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        route.save()
        self.stdout.write(f"route {route.pk}: {o['base_url']}{route.webhook_path}")
        self.stdout.write(f"secret (shown once, put it in the TradingView message): {secret}")
