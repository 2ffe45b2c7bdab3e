"""``python manage.py worker``: the django-q2 cluster that runs alerts and reconciliation, stopped cleanly by
SIGTERM or SIGINT to it or to its process group within ``WORKER_STOP_GRACE_SECONDS`` (see ``orderrail.cluster``
for why ``qcluster`` itself cannot). Use it wherever ``qcluster`` would be used."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from orderrail.cluster import GracefulCluster


class Command(BaseCommand):
    help = "Run the django-q2 worker cluster; SIGTERM/SIGINT (to it or its process group) stops it cleanly."

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 - as qcluster does: tasks are signed with it, refuse to start without one
        status = GracefulCluster().run()
        # The cluster has stopped and every child is gone. Tearing down the interpreter's loaded modules would take
        # about a second more here, doing nothing of use: close, flush and leave at once.
        connections.close_all()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
