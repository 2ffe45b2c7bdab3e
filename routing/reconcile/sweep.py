"""The sweeper: alerts a dead worker left behind - claimed but never decided, or queued with no one on them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from audit.models import Alert
from routing import pipeline
from routing.reconcile.report import Report

logger = logging.getLogger(__name__)


def reset_dead_claims(now: datetime) -> int:
    """Claimed, no decision, lease long gone: the worker died between the claim and the decision commit. Back in
    the queue (the engine picks it up in its next round)."""
    return Alert.objects.filter(
        status=Alert.Status.PROCESSING,
        claimed_at__lt=now - timedelta(seconds=settings.ROUTE_LEASE_SECONDS),
        decision__isnull=True,
    ).update(status=Alert.Status.QUEUED, claimed_at=None)


def sweep_alerts(report: Report, *, clock: Callable[[], datetime] = timezone.now) -> None:
    now = clock()
    reset_dead_claims(now)
    stuck = (
        Alert.objects.filter(
            status=Alert.Status.QUEUED, received_at__lt=now - timedelta(seconds=settings.SWEEP_STUCK_SECONDS)
        )
        .order_by("route_id", "fired_at", "id")
        .values_list("pk", "route_id")
    )
    seen_routes: set[int] = set()
    for alert_id, route_id in stuck:
        if route_id in seen_routes:
            continue  # process_alert drains the whole route, in order
        seen_routes.add(route_id)
        try:
            pipeline.process_alert(alert_id, clock=clock)
        except Exception as exc:
            # process_alert already ends a failing alert with its own decision; this is a failure around it (the
            # database, the lease). One route's trouble must never stop the sweep of the others.
            logger.exception("sweep: route %s failed (%s)", route_id, type(exc).__name__)
            report.errors.append(f"route {route_id}: sweep failed ({type(exc).__name__})")
            continue
        report.alerts_redriven += 1
