"""Telling the engine an alert is waiting. The alert table is the queue (routing/engine.py): nothing else is
needed for an alert to be decided, this only makes it happen without waiting for the engine's next poll."""

from __future__ import annotations

from django.db import connection

# The engine LISTENs here (routing/engine.py).
ALERT_CHANNEL = "orderrail_alert"


def alert_stored() -> None:
    """Wake the engine when the current transaction commits (not at all if it rolls back). SQLite has no
    notifications; the engine polls it. The webhook's own INSERT carries its notification itself
    (`orderrail.statements.insert(notify=ALERT_CHANNEL)`): one round trip instead of four."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {ALERT_CHANNEL}")


def wake_route(route_id: int) -> None:
    """Alerts of the route may have queued while its lease was held: make sure the engine looks again now."""
    alert_stored()
