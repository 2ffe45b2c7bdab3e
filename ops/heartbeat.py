"""Heartbeats: `beat(name)` records that something periodic happened; /healthz reports how long ago.

Names in use:
- WORKER: a django-q2 worker started a task (any task; throttled to one write per THROTTLE_SECONDS per process).
- RECONCILED: a reconciliation pass completed. Call `beat(RECONCILED)` when a full pass has finished
  (routing.tasks.reconcile does, after routing.reconcile.run returns).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.utils import timezone

WORKER = "worker"
RECONCILED = "reconciled"
THROTTLE_SECONDS = 10.0

_last_written: dict[str, float] = {}


def beat(name: str, now: datetime | None = None) -> None:
    from ops.models import Heartbeat

    Heartbeat.objects.update_or_create(name=name, defaults={"at": now or timezone.now()})


def beat_throttled(name: str) -> None:
    """At most one write per THROTTLE_SECONDS per process: a busy worker must not pay a query per task for this."""
    moment = time.monotonic()
    if moment - _last_written.get(name, float("-inf")) < THROTTLE_SECONDS:
        return
    _last_written[name] = moment
    beat(name)


def on_task_start(sender: Any = None, **kwargs: Any) -> None:
    try:
        beat_throttled(WORKER)
    except Exception:  # a heartbeat must never stop a task (the database may be briefly away; the task will say so)
        _last_written.pop(WORKER, None)


def last(names: tuple[str, ...]) -> dict[str, datetime]:
    from ops.models import Heartbeat

    return dict(Heartbeat.objects.filter(name__in=names).values_list("name", "at"))
