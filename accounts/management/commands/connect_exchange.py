"""`manage.py connect_exchange --owner EMAIL [--label L] [--account ID]`: verify a Kraken Futures key with the exchange
and store it encrypted - the same check as the trader's page (`accounts.keys`). The key and secret are read from
the environment (ORDERRAIL_API_KEY / ORDERRAIL_API_SECRET) or prompted for without echo, never from the command
line, where they would stay in the shell history and the process list."""

from __future__ import annotations

import getpass
import os

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.keys import KeyRefused, connect_account, replace_key
from accounts.models import ExchangeAccount, User


class Command(BaseCommand):
    help = "Verify a Kraken Futures API key (works, can trade, cannot withdraw) and store it encrypted."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--owner", required=True, help="the trader's e-mail address")
        parser.add_argument("--label", default="Kraken Futures", help="a name for the account")
        parser.add_argument("--account", type=int, help="replace the key of this existing account instead")

    def handle(self, *args: object, **options: object) -> None:
        owner = User.objects.filter(email__iexact=str(options["owner"])).first()
        if owner is None:
            raise CommandError(f"no user with the e-mail address {options['owner']}")
        api_key = os.environ.get("ORDERRAIL_API_KEY") or getpass.getpass("Kraken Futures API key: ")
        api_secret = os.environ.get("ORDERRAIL_API_SECRET") or getpass.getpass("Private key (secret): ")
        now = timezone.now()
        try:
            if options["account"]:
                account = ExchangeAccount.objects.filter(pk=options["account"], owner=owner).first()
                if account is None:
                    raise CommandError(f"{owner.email} has no exchange account {options['account']}")
                account = replace_key(account=account, api_key=api_key, api_secret=api_secret, now=now)
                verb = "replaced the key of"
            else:
                account = connect_account(
                    owner=owner, label=str(options["label"]), api_key=api_key, api_secret=api_secret, now=now
                )
                verb = "connected"
        except KeyRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{verb} exchange account {account.pk} ({account.label}), key {account.key_fingerprint}")
