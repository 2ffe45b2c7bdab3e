from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
RECONCILE_SCHEDULE = "orderrail-reconcile"
_started = threading.Event()


def ensure_schedule() -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=RECONCILE_SCHEDULE,
        defaults={
            "func": "routing.tasks.reconcile",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.RECONCILE_EVERY_MINUTES,
            "repeats": -1,
        },
    )


def on_worker_start(sender: Any = None, proc_name: str = "", **kwargs: Any) -> None:
    # post_spawn fires once per spawned worker process; one reconcile per process start is plenty.
    if _started.is_set():
        return
    _started.set()
    try:
        from django_q.tasks import async_task

        ensure_schedule()
        async_task("routing.tasks.reconcile", task_name="reconcile-on-start")
    except Exception:  # a failure here must not stop the worker from serving alerts
        logger.exception("could not enqueue the start-up reconciliation")
