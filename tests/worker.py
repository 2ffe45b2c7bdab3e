"""Runs queued work in the test process, the way the real processes do.

- Alerts: `routing.engine.Engine` in inline mode - the same scheduling rounds, queries, leases and pipeline as
  `manage.py engine`, with every job run in the test's own thread (so it sees the test's transaction). Tests that
  need the real processes start them (see tests/stack.py).
- django-q2 tasks (other periodic jobs): through django-q's own broker and signed packages, the path
  `manage.py worker` takes (dequeue → unpack → call → acknowledge) minus the process pool.
"""

from __future__ import annotations

from pydoc import locate

from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from audit.models import Alert


def run_queued_tasks(limit: int = 10_000) -> int:
    """Everything queued now: alerts decided, django-q2 tasks run. Returns how many alerts and tasks it ran."""
    from routing.engine import Engine

    before = Alert.objects.filter(status=Alert.Status.DECIDED).count()
    Engine(threads=1, inline=True).drain()
    ran = Alert.objects.filter(status=Alert.Status.DECIDED).count() - before
    broker = get_broker()
    while ran < limit and OrmQ.objects.exists():
        batch = broker.dequeue() or []
        if not batch:
            break
        for task_pk, payload in batch:
            task = SignedPackage.loads(payload)
            func = task["func"]
            if isinstance(func, str):
                func = locate(func)
            func(*task["args"], **task["kwargs"])
            broker.acknowledge(task_pk)
            ran += 1
    return ran
