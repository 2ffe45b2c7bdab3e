"""The periodic jobs, kept to exactly one row each, and what a worker does when it starts."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
RECONCILE_SCHEDULE = "orderrail-reconcile"
SWEEP_SCHEDULE = "orderrail-sweep"
RETENTION_SCHEDULE = "orderrail-prune-rejections"
PAPER_STOPS_SCHEDULE = "orderrail-paper-stops"
_started = threading.Event()


def wanted_schedules() -> dict[str, dict[str, object]]:
    from django_q.models import Schedule

    every_period = {"schedule_type": Schedule.MINUTES, "minutes": settings.RECONCILE_EVERY_MINUTES, "repeats": -1}
    return {
        # The tick only queues one short task per account that is due (routing/reconcile/tick.py).
        RECONCILE_SCHEDULE: {"func": "routing.tasks.reconcile_tick", **every_period},
        SWEEP_SCHEDULE: {"func": "routing.tasks.sweep", **every_period},
        # Hourly pruning of old rejections (audit.retention).
        RETENTION_SCHEDULE: {"func": "routing.tasks.prune_rejections", "schedule_type": Schedule.HOURLY, "repeats": -1},
        # Every minute, resting paper stops fire if the mark crossed them (exchanges/paper/tasks.py); running twice
        # changes nothing the first run did not.
        PAPER_STOPS_SCHEDULE: {
            "func": "exchanges.paper.tasks.trigger_stops",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    }


def ensure_schedules() -> None:
    """Exactly one row per periodic job. Schedule.name is not unique in django-q2, and the workers of a first start
    race here, so a duplicate can appear: the next call keeps the oldest row and deletes the rest."""
    from django_q.models import Schedule

    for name, wanted in wanted_schedules().items():
        rows = list(Schedule.objects.filter(name=name).order_by("pk"))
        if not rows:
            Schedule.objects.create(name=name, **wanted)
            continue
        keep, extra = rows[0], rows[1:]
        if extra:
            Schedule.objects.filter(pk__in=[row.pk for row in extra]).delete()
        if any(getattr(keep, field) != value for field, value in wanted.items()):
            Schedule.objects.filter(pk=keep.pk).update(**wanted)


ensure_schedule = ensure_schedules  # the name the worker start and older callers use


def on_worker_start(sender: Any = None, proc_name: str = "", **kwargs: Any) -> None:
    # post_spawn fires once per spawned worker process; the start-up tick it queues is idempotent across the
    # cluster's workers (and across clusters): an account queued by one is not queued again by the next.
    if _started.is_set():
        return
    _started.set()
    from django_q.tasks import async_task

    # The start-up tick first, and on its own: nothing about the schedules may stand in its way.
    try:
        async_task("routing.tasks.reconcile_tick", True, task_name="reconcile-on-start")
        async_task("routing.tasks.sweep", task_name="sweep-on-start")
    except Exception:  # a failure here must not stop the worker from serving alerts
        logger.exception("could not enqueue the start-up reconciliation")
    try:
        ensure_schedules()
    except Exception:
        logger.exception("could not ensure the periodic schedules")
