"""django-q2's periodic jobs, kept to exactly one row each.

Alerts and reconciliation are not among them: the engine (routing/engine.py) decides alerts from the alert table
and reconciles every account that is due, with alerts always first. What is left for django-q2 is the rest of the
calendar - each job is one row of `wanted_schedules`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
RETENTION_SCHEDULE = "orderrail-prune-rejections"
PAPER_STOPS_SCHEDULE = "orderrail-paper-stops"
BILLING_NOTICES_SCHEDULE = "orderrail-billing-notices"
# Rows earlier versions created; the engine does their work now.
RETIRED = ("orderrail-reconcile", "orderrail-sweep")
_started = threading.Event()


def wanted_schedules() -> dict[str, dict[str, object]]:
    from django_q.models import Schedule

    return {
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
        # The trader's e-mails before and when live access ends (billing/notices.py); each is sent once.
        BILLING_NOTICES_SCHEDULE: {
            "func": "billing.tasks.send_access_notices",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.BILLING_NOTICE_EVERY_MINUTES,
            "repeats": -1,
        },
    }


def ensure_schedules() -> None:
    """Exactly one row per periodic job. Schedule.name is not unique in django-q2, and the workers of a first start
    race here, so a duplicate can appear: the next call keeps the oldest row and deletes the rest."""
    from django_q.models import Schedule

    Schedule.objects.filter(name__in=RETIRED).delete()
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


def on_worker_start(sender: Any = None, proc_name: str = "", **kwargs: Any) -> None:
    # post_spawn fires once per spawned worker process; once per process is plenty.
    if _started.is_set():
        return
    _started.set()
    try:
        ensure_schedules()
    except Exception:  # a failure here must not stop the worker
        logger.exception("could not ensure the periodic schedules")
