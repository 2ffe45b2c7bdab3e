from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
RECONCILE_SCHEDULE = "orderrail-reconcile"
RETENTION_SCHEDULE = "orderrail-prune-rejections"
PAPER_STOPS_SCHEDULE = "orderrail-paper-stops"
_started = threading.Event()


def ensure_schedule() -> None:
    """Exactly one periodic reconcile schedule. Schedule.name is not unique in django-q2, and the workers of a first
    start race here, so a duplicate can appear: the next call keeps the oldest row and deletes the rest."""
    from django_q.models import Schedule

    wanted = {
        "func": "routing.tasks.reconcile",
        "schedule_type": Schedule.MINUTES,
        "minutes": settings.RECONCILE_EVERY_MINUTES,
        "repeats": -1,
    }
    rows = list(Schedule.objects.filter(name=RECONCILE_SCHEDULE).order_by("pk"))
    if not rows:
        Schedule.objects.create(name=RECONCILE_SCHEDULE, **wanted)
        return
    keep, extra = rows[0], rows[1:]
    if extra:
        Schedule.objects.filter(pk__in=[row.pk for row in extra]).delete()
    if any(getattr(keep, name) != value for name, value in wanted.items()):
        Schedule.objects.filter(pk=keep.pk).update(**wanted)


def ensure_retention_schedule() -> None:
    """Hourly pruning of old rejections (audit.retention). A duplicate from racing first starts only prunes twice."""
    from django_q.models import Schedule

    if not Schedule.objects.filter(name=RETENTION_SCHEDULE).exists():
        Schedule.objects.create(
            name=RETENTION_SCHEDULE, func="routing.tasks.prune_rejections", schedule_type=Schedule.HOURLY, repeats=-1
        )


def ensure_paper_stops_schedule() -> None:
    """Every minute, resting paper stops fire if the mark crossed them (exchanges/paper/tasks.py). A duplicate from
    racing first starts only applies the marks twice, which changes nothing the first did not."""
    from django_q.models import Schedule

    if not Schedule.objects.filter(name=PAPER_STOPS_SCHEDULE).exists():
        Schedule.objects.create(
            name=PAPER_STOPS_SCHEDULE,
            func="exchanges.paper.tasks.trigger_stops",
            schedule_type=Schedule.MINUTES,
            minutes=1,
            repeats=-1,
        )


def on_worker_start(sender: Any = None, proc_name: str = "", **kwargs: Any) -> None:
    # post_spawn fires once per spawned worker process; one reconcile per process start is plenty.
    if _started.is_set():
        return
    _started.set()
    from django_q.tasks import async_task

    # The start-up reconcile first, and on its own: nothing about the schedule may stand in its way.
    try:
        async_task("routing.tasks.reconcile", task_name="reconcile-on-start")
    except Exception:  # a failure here must not stop the worker from serving alerts
        logger.exception("could not enqueue the start-up reconciliation")
    try:
        ensure_schedule()
    except Exception:
        logger.exception("could not ensure the reconcile schedule")
    try:
        ensure_retention_schedule()
    except Exception:
        logger.exception("could not ensure the rejection-retention schedule")
    try:
        ensure_paper_stops_schedule()
    except Exception:
        logger.exception("could not ensure the paper-stops schedule")
