"""``python manage.py fake_kraken --port N``: serve the fake Kraken Futures API until SIGINT or SIGTERM.

Prints exactly ``fake kraken listening on http://127.0.0.1:N`` (flushed) once it accepts connections, which is
what ``make run`` and the real-stack tests wait for. Needs no database.
"""

from __future__ import annotations

import json
import signal
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges.fake.server import FakeKraken
from exchanges.sim.model import ClientIdReuse


class Command(BaseCommand):
    help = "Serve a fake Kraken Futures REST API on 127.0.0.1 (for tests and local runs)."
    requires_system_checks: list[str] = []  # type: ignore[assignment]
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
        parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost", "::1"])
        parser.add_argument("--key", help="API key of an account to create")
        parser.add_argument("--secret", help="its API secret (base64)")
        parser.add_argument("--collateral", default="10000", help="USD collateral of the --key account")
        parser.add_argument(
            "--accounts",
            type=Path,
            help='JSON file: [{"key": ..., "secret": ..., "collateral": "10000", "permissions": "full"}, ...]',
        )
        parser.add_argument("--walk", action="store_true", help="random-walk the mark prices (seeded)")
        parser.add_argument("--walk-interval", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=0, help="seeds ids and the random walk")
        parser.add_argument(
            "--client-order-id-reuse",
            choices=[r.value for r in ClientIdReuse],
            default=ClientIdReuse.FOREVER.value,
            help="forever: a client order id is refused once used; while_open: only while its order is open "
            "(Kraken's behaviour is unverified)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = self._accounts(options)
        fake = FakeKraken(
            host=options["host"],
            port=options["port"],
            accounts=accounts,
            seed=options["seed"],
            walk=options["walk"],
            walk_interval=options["walk_interval"],
            client_order_id_reuse=options["client_order_id_reuse"],
        )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        fake.start()
        try:
            self.stdout.write(f"fake kraken listening on {fake.url}")
            self.stdout.flush()
            # Wake up now and then so that the signal handler runs promptly.
            while not stop.wait(0.2):
                pass
        finally:
            fake.stop()

    def _accounts(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        accounts: list[dict[str, Any]] = []
        if options["accounts"]:
            try:
                data = json.loads(options["accounts"].read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read {options['accounts']}: {exc}") from exc
            rows = data.get("accounts") if isinstance(data, dict) else data
            if not isinstance(rows, list) or not all(
                isinstance(r, dict) and "key" in r and "secret" in r for r in rows
            ):
                raise CommandError("the accounts file must be a list of objects with key and secret")
            accounts.extend(rows)
        if bool(options["key"]) != bool(options["secret"]):
            raise CommandError("--key and --secret go together")
        if options["key"]:
            accounts.append(
                {"key": options["key"], "secret": options["secret"], "collateral": Decimal(options["collateral"])}
            )
        return accounts
