from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from routing.engine import Engine


class Command(BaseCommand):
    help = (
        "Run the engine: decide alerts as they are stored and keep every account reconciled "
        "(threads overlap exchange round trips; SIGTERM or Ctrl-C stops it after the jobs under way)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--threads", type=int, help="worker threads (default: ENGINE_THREADS)")
        parser.add_argument("--once", action="store_true", help="decide what is queued now, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENGINE_NICE:
            os.nice(settings.ENGINE_NICE)  # the webhook's acks first (settings.ENGINE_NICE says why)
        engine = Engine(threads=options["threads"])
        if options["once"]:
            engine.drain()
            return

        def stop(signum: int, _frame: object) -> None:
            self.stderr.write(f"engine: {signal.Signals(signum).name}, finishing the jobs under way")
            engine.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        engine.run()
        # Jobs cut off after the grace are still running in their threads: leave without waiting for them (their
        # work is recorded before every call; the next engine finishes it).
        connections.close_all()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
