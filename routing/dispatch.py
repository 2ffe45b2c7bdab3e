"""Getting alerts processed: enqueueing an alert's task, and waking a route's queue when its lease is released."""

from __future__ import annotations

from django_q.brokers import get_broker
from django_q.tasks import async_task

from audit.models import Alert

PROCESS_TASK = "routing.tasks.process_alert"

_BROKER = None


def broker():  # type: ignore[no-untyped-def]
    # get_broker() builds a new broker object on every call; one per process is enough.
    global _BROKER  # noqa: PLW0603
    if _BROKER is None:
        _BROKER = get_broker()
    return _BROKER


def enqueue(alert_id: int) -> None:
    """Must run in the transaction that stores the alert (ORM broker, same database): both exist or neither."""
    async_task(PROCESS_TASK, alert_id, broker=broker(), task_name=f"alert-{alert_id}")


def wake_route(route_id: int) -> None:
    """Alerts of the route queued while someone else held its lease: start on the oldest now."""
    first = (
        Alert.objects.filter(route_id=route_id, status=Alert.Status.QUEUED)
        .order_by("fired_at", "received_at", "id")
        .values_list("pk", flat=True)
        .first()
    )
    if first is not None:
        enqueue(first)
