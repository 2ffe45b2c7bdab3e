"""django-q2 task entry points: one-line wrappers that take ids and hold no logic.

Alerts and reconciliation run in the engine (routing/engine.py), not here; `process_alert` and `reconcile` stay so
that tasks queued by an older version still run (they do the same work, under the same leases).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def process_alert(alert_id: int) -> None:
    from ops.logs import bound_alert
    from routing.pipeline import process_alert as run

    with bound_alert(alert_id):  # every log line of this task carries the alert id
        run(alert_id)
        logger.info("alert task finished")


def reconcile() -> str:
    from ops.heartbeat import RECONCILED, beat
    from routing.reconcile import run

    report = repr(run())
    beat(RECONCILED)  # /healthz reports the age of the last completed reconciliation
    return report


def prune_rejections() -> str:
    from django.utils import timezone

    from audit.retention import prune_rejections as prune

    return repr(prune(timezone.now()))
