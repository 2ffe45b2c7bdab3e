"""Runs queued django-q2 tasks in the test process, through django-q's own broker and signed packages.

This is the same path `qcluster` takes (dequeue → unpack → call → acknowledge) minus the process pool, so a test
proves the webhook really enqueued a runnable task. Tests that need the real worker process start `manage.py worker`
(see tests/stack.py)."""

from __future__ import annotations

from pydoc import locate

from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage


def run_queued_tasks(limit: int = 10_000) -> int:
    broker = get_broker()
    ran = 0
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
