"""django-q2 task entry points: one-line wrappers that take ids and hold no logic."""

from __future__ import annotations


def process_alert(alert_id: int) -> None:
    from routing.pipeline import process_alert as run

    run(alert_id)


def reconcile() -> str:
    from routing.reconcile import run

    return repr(run())
