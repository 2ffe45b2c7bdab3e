"""django-q2 task entry points: one-line wrappers that take ids and hold no logic."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def process_alert(alert_id: int) -> None:
    from ops.logs import bound_alert
    from routing.pipeline import process_alert as run

    with bound_alert(alert_id):  # every log line of this task carries the alert id
        run(alert_id)
        logger.info("alert task finished")


def reconcile_tick(starting: bool = False) -> int:
    from django.utils import timezone

    from routing.reconcile.tick import tick

    return tick(timezone.now(), starting=starting)


def reconcile_account(account_id: int) -> str:
    from ops.heartbeat import RECONCILED, beat
    from routing.reconcile.account import reconcile_account_id
    from routing.reconcile.report import Report

    report = Report()
    reconcile_account_id(account_id, report)
    beat(RECONCILED)  # /healthz reports the age of the last completed reconciliation
    return repr(report)


def sweep() -> int:
    from routing.reconcile.report import Report
    from routing.reconcile.sweep import sweep_alerts

    report = Report()
    sweep_alerts(report)
    return report.alerts_redriven


def reconcile() -> str:
    """Everything inline (schedules created before the tick existed point here)."""
    from ops.heartbeat import RECONCILED, beat
    from routing.reconcile import run

    report = repr(run())
    beat(RECONCILED)
    return report


def prune_rejections() -> str:
    from django.utils import timezone

    from audit.retention import prune_rejections as prune

    return repr(prune(timezone.now()))
