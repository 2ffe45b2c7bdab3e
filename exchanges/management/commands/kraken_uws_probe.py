"""``manage.py kraken_uws_probe``: check the Unified WebSocket assumptions against a real Kraken key.

Reads and ``validate: true`` orders only (never a real order; see exchanges/kraken/uws/probe.py). Give the key with
``--account <pk>`` (a stored account's Kraken key) or ``--key``/``--secret`` (or KRAKEN_PROBE_KEY/_SECRET in the
environment, so the secret stays out of the shell history). Prints one line per assumption: holds, differs,
unknown, or ALERT; exits 1 if anything is ALERT.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges.kraken.uws import assumptions as A
from exchanges.kraken.uws import probe


class Command(BaseCommand):
    help = "Check the Kraken Unified WebSocket assumptions with a real key (validate-only; never places an order)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, help="an ExchangeAccount whose Kraken (ws) key to use")
        parser.add_argument("--key", default=os.environ.get("KRAKEN_PROBE_KEY"))
        parser.add_argument("--secret", default=os.environ.get("KRAKEN_PROBE_SECRET"))
        parser.add_argument("--private-url", default=A.PRIVATE_URL)
        parser.add_argument("--public-url", default=A.PUBLIC_URL)
        parser.add_argument("--spot-url", default=A.SPOT_REST_URL)
        parser.add_argument("--symbol", default="PF_XBTUSD")
        parser.add_argument("--timeout", type=float, default=5.0)

    def handle(self, *args: Any, **options: Any) -> None:
        key, secret = options["key"], options["secret"]
        if options["account"]:
            from accounts.models import ExchangeAccount

            key, secret = ExchangeAccount.objects.get(pk=options["account"]).ws_credentials()
        if not key or not secret:
            raise CommandError("give --account, or --key and --secret (or KRAKEN_PROBE_KEY/KRAKEN_PROBE_SECRET)")
        findings = probe.run(
            api_key=key,
            api_secret=secret,
            private_url=options["private_url"],
            public_url=options["public_url"],
            spot_rest_url=options["spot_url"],
            symbol=options["symbol"],
            timeout=options["timeout"],
        )
        for finding in findings:
            self.stdout.write(finding.line())
        checked = {f.assumption.split(" ")[0] for f in findings}
        untested = [a.name for a in A.table() if a.mark != "C" and a.name not in checked]
        self.stdout.write(f"not checkable without trading: {', '.join(untested)}")
        if any(f.verdict == "ALERT" for f in findings):
            raise CommandError("ALERT: see above")
