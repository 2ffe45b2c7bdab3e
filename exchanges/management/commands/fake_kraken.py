"""``python manage.py fake_kraken --port N``: serve the fake Kraken Futures API until SIGINT or SIGTERM.

Prints exactly ``fake kraken listening on http://127.0.0.1:N`` (flushed) once it accepts connections, which is
what ``make run`` and the real-stack tests wait for. Needs no database. With ``--state-file PATH`` the exchange
survives a restart: the state is loaded at start, saved (atomically, debounced) after changes and at shutdown.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges.fake.persistence import StateFileError
from exchanges.fake.server import FakeKraken
from exchanges.sim.model import ClientIdReuse

SPOT_FIELDS = ("spot_key", "spot_secret")  # an account's Kraken key, for the Unified WebSocket's tokens


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
            "--uws-port", type=int, help="also serve the Unified WebSocket (/v2/private, /v2/public) here; 0 = free"
        )
        parser.add_argument("--spot-key", help="Kraken (Spot-style) API key of the --key account, for tokens")
        parser.add_argument("--spot-secret", help="its secret (base64)")
        parser.add_argument(
            "--client-order-id-reuse",
            choices=[r.value for r in ClientIdReuse],
            default=None,
            help="forever (default for a new exchange): a client order id is refused once used; while_open: only "
            "while its order is open (Kraken's behaviour is unverified). Without it a state file's choice stays.",
        )
        parser.add_argument(
            "--state-file",
            type=Path,
            help="load the exchange from this JSON file at start (if it exists) and keep it saved there",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = self._accounts(options)
        try:
            fake = FakeKraken(
                host=options["host"],
                port=options["port"],
                accounts=[{k: v for k, v in row.items() if k not in SPOT_FIELDS} for row in accounts],
                seed=options["seed"],
                walk=options["walk"],
                walk_interval=options["walk_interval"],
                client_order_id_reuse=options["client_order_id_reuse"],
                state_file=options["state_file"],
            )
        except StateFileError as exc:
            raise CommandError(str(exc)) from exc
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        fake.start()
        uws = None
        if options["uws_port"] is not None:
            from exchanges.fake.uws import FakeUnifiedWebSocket

            uws = FakeUnifiedWebSocket(fake, host=options["host"], port=options["uws_port"]).start()
            for row in accounts:
                if row.get("spot_key") and row.get("spot_secret"):
                    uws.add_spot_key(str(row["spot_key"]), str(row["spot_secret"]), futures_key=str(row["key"]))
        try:
            self.stdout.write(f"fake kraken listening on {fake.url}")
            if uws is not None:
                self.stdout.write(f"fake kraken unified websocket listening on {uws.url}")
            self.stdout.flush()
            # Wake up now and then so that the signal handler runs promptly.
            while not stop.wait(0.2):
                pass
        finally:
            if uws is not None:
                uws.stop()
            fake.stop()  # with a state file: the last changes are saved here
        # Stopped and saved. Tearing down the interpreter's loaded modules would take about a second more (it
        # holds `make run`'s Ctrl-C and every test's teardown): flush and leave.
        self.stdout.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

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
        if bool(options["spot_key"]) != bool(options["spot_secret"]):
            raise CommandError("--spot-key and --spot-secret go together")
        if options["key"]:
            accounts.append(
                {
                    "key": options["key"],
                    "secret": options["secret"],
                    "collateral": Decimal(options["collateral"]),
                    "spot_key": options["spot_key"],
                    "spot_secret": options["spot_secret"],
                }
            )
        return accounts
