"""Issue 10 hole 8: rejected alerts are kept for a bounded time and capped per route; decided alerts are kept for
ever. The rejections are made through the real webhook."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import Alert, Attention, Decision
from audit.retention import prune_rejections
from tests.routing.conftest import payload, post
from tests.worker import run_queued_tasks

pytestmark = pytest.mark.django_db


def _reject(client, route, n: int) -> None:
    for i in range(n):
        assert post(client, route, b"garbage %d" % i).status_code == 400


def test_rejections_older_than_the_retention_are_deleted_decided_alerts_never(client, make_route, exchange_url):
    route = make_route()
    assert post(client, route, payload(position="0.1")).status_code == 202
    run_queued_tasks()
    _reject(client, route, 5)
    now = timezone.now()
    Alert.objects.update(received_at=now - timedelta(days=40))  # all of them, the decided one too
    Decision.objects.update(created_at=now - timedelta(days=40))
    pruned = prune_rejections(now, keep_days=30, per_route=1000)
    assert pruned.expired == 5
    assert list(Alert.objects.values_list("status", flat=True)) == [Alert.Status.DECIDED]
    assert Decision.objects.count() == 1


def test_each_route_keeps_only_its_newest_rejections(client, make_route, settings):
    settings.REJECTIONS_KEPT_PER_ROUTE = 3
    route = make_route()
    other = make_route(symbol="PF_ETHUSD")
    _reject(client, route, 7)
    _reject(client, other, 2)
    newest = list(Alert.objects.filter(route=route).order_by("-received_at", "-pk").values_list("pk", flat=True)[:3])
    call_command("prune_rejections")
    assert sorted(Alert.objects.filter(route=route).values_list("pk", flat=True)) == sorted(newest)
    assert Alert.objects.filter(route=other).count() == 2
    assert Decision.objects.count() == 5


def test_a_rejection_someone_was_asked_to_look_at_is_kept(client, make_route):
    route = make_route()
    _reject(client, route, 1)
    alert = Alert.objects.get()
    Attention.objects.create(
        route=route, alert=alert, kind=Attention.Kind.ORDER_UNRESOLVED, detail="look", created_at=timezone.now()
    )
    assert prune_rejections(timezone.now() + timedelta(days=400), keep_days=1, per_route=0).expired == 0
    assert Alert.objects.count() == 1


def test_the_prune_runs_as_a_django_q2_schedule_and_task():
    from django_q.models import Schedule

    from routing import schedules, tasks

    schedules.ensure_schedules()
    schedules.ensure_schedules()  # twice: still one row
    schedule = Schedule.objects.get(name=schedules.RETENTION_SCHEDULE)
    assert schedule.func == "routing.tasks.prune_rejections" and schedule.schedule_type == Schedule.HOURLY
    assert "expired=0" in tasks.prune_rejections()
