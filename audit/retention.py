"""Retention of rejected alerts (issue 10, hole 8).

Anyone who holds a route's webhook URL can make rejections (the intake stores up to 30 a minute per route, ~44,600 a
day), so they are kept for a bounded time and capped per route. Decided alerts - the ones that reached the pipeline,
whatever their decision - are the permanent record and are never pruned; nor is a rejection a person was asked to
look at (an Attention row points at it).

`prune_rejections` runs hourly (a django-q2 schedule, routing.schedules) and from `manage.py prune_rejections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from audit.models import Alert, Decision

BATCH = 1000


@dataclass(frozen=True)
class Pruned:
    expired: int  # older than the retention period
    over_cap: int  # beyond the newest N of their route


def prune_rejections(now: datetime, *, keep_days: int | None = None, per_route: int | None = None) -> Pruned:
    keep_days = settings.REJECTION_RETENTION_DAYS if keep_days is None else keep_days
    per_route = settings.REJECTIONS_KEPT_PER_ROUTE if per_route is None else per_route
    rejected = Alert.objects.filter(status=Alert.Status.REJECTED, attention__isnull=True)
    expired = _delete(rejected.filter(received_at__lt=now - timedelta(days=keep_days)))
    over_cap = 0
    crowded = (
        rejected.values("route_id").annotate(n=Count("id")).filter(n__gt=per_route).values_list("route_id", flat=True)
    )
    for route_id in list(crowded):
        newest_first = rejected.filter(route_id=route_id).order_by("-received_at", "-pk")
        over_cap += _delete(newest_first[per_route:])
    return Pruned(expired=expired, over_cap=over_cap)


def _delete(alerts) -> int:  # type: ignore[no-untyped-def]
    """Delete in batches (each rejection's Decision first: it protects its alert), so no lock is held for long."""
    deleted = 0
    while True:
        ids = list(alerts.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        with transaction.atomic():
            Decision.objects.filter(alert_id__in=ids).delete()
            deleted += Alert.objects.filter(pk__in=ids, status=Alert.Status.REJECTED).delete()[0]
