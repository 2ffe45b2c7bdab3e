"""The django-q2 cluster (`manage.py worker`), stopped cleanly by SIGTERM or SIGINT - sent to it or to its whole
process group, which is what systemd, container runtimes and `make run` do.

Why django-q2's own `qcluster` (1.11.1) cannot (read from django_q/cluster.py): the main process handles SIGTERM
by setting the sentinel's stop event and joining it, but the sentinel resets SIGTERM to the default action ("die")
and every pusher, monitor and worker it forks inherits that. A group SIGTERM therefore kills the sentinel and the
workers at once - mid-task, an alert half-way through its pipeline - while the main process blocks forever in
``stop_event.set()`` (a multiprocessing condition waiting for the dead sentinel to acknowledge), until the
supervisor's grace period ends in SIGKILL.

Here only the main process reacts to the signals; the sentinel and its children ignore them (they are blocked
across the fork, so none slips in before the sentinel ignores it). On a signal the main process sets the stop
event and the sentinel stops in order, within ``WORKER_STOP_GRACE_SECONDS``:

1. the pusher stops taking tasks from the broker;
2. tasks it had already taken but no worker has started go back to the broker at once (ORM broker: their lock is
   released), so they are neither lost nor stuck until django-q's ``retry`` expires;
3. each worker finishes the task in hand and exits; one still busy at the deadline is killed - that is the
   crash every task here is built to survive (the order is unknown and looked up; the sweeper re-drives the
   alert), and it is logged;
4. the monitor records the results that came in, then exits.

The main process gives the sentinel the grace period plus a margin, then kills whatever is left of its family.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.cluster import Cluster, Sentinel, get_mp_context
from django_q.status import Stat

log = logging.getLogger("orderrail.worker")

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
MARGIN = 3.0  # seconds the main process waits beyond the grace before it kills the family


class GracefulSentinel(Sentinel):
    def __init__(  # noqa: PLR0917 - the Process target is called with django-q's positional arguments
        self,
        stop_event: Any,
        start_event: Any,
        cluster_id: uuid.UUID,
        broker: Any = None,
        timeout: int | None = None,
        start: bool = True,
    ) -> None:
        # django-q's __init__ sets SIGTERM back to "die"; the signals are still blocked (see GracefulCluster.start),
        # so nothing can be delivered before they are ignored here - a pending one is discarded by SIG_IGN.
        super().__init__(stop_event, start_event, cluster_id, broker, timeout, start=False)
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # inherited by the pusher, the monitor and every worker
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        self.grace = float(settings.WORKER_STOP_GRACE_SECONDS)
        if start:
            self.start()

    def stop(self) -> None:
        """Stop in order, bounded by the grace period (replaces django-q's unbounded ``Sentinel.stop``)."""
        deadline = time.monotonic() + self.grace
        Stat(self).save()
        log.info("%s stopping the cluster (grace %.1f s)", self.name, self.grace)
        self.event_out.set()  # 1. the pusher ends after its current poll of the broker
        _wait(lambda: not self.pusher.is_alive(), deadline)
        if self.pusher.is_alive():
            self.pusher.kill()
        self.pusher.join(timeout=1)
        released = self._release_queued_tasks()  # 2.
        for _worker in self.pool:  # 3.
            self.task_queue.put("STOP")
        _wait(lambda: not any(p.is_alive() for p in self.pool), deadline)
        killed = [p for p in self.pool if p.is_alive()]
        for process in killed:
            log.warning("worker %s still busy after %.1f s: killed (its task is recovered)", process.pid, self.grace)
            process.kill()
        for process in self.pool:
            process.join(timeout=1)
        self.pool = []
        self.result_queue.put("STOP")  # 4. after every result the workers produced
        self.monitor.join(timeout=max(1.0, deadline - time.monotonic()))
        if self.monitor.is_alive():
            self.monitor.kill()
            self.monitor.join(timeout=1)
        # Never block this process's exit on a queue's feeder thread (a reader may have been killed).
        self.task_queue.cancel_join_thread()
        self.result_queue.cancel_join_thread()
        Stat(self).save()
        log.info("%s stopped: %d queued task(s) released, %d worker(s) killed", self.name, released, len(killed))

    def _release_queued_tasks(self) -> int:
        """Tasks the pusher took from the broker that no worker has started: hand them back for the next taker."""
        released = 0
        while True:
            try:
                task = self.task_queue.get(timeout=0.05)
            except queue.Empty:
                return released
            if task == "STOP":
                continue
            if isinstance(self.broker, ORM) and task.get("ack_id") is not None:
                # The ORM broker locks a taken task until now + retry; a lock in the past makes it takeable again.
                self.broker.get_connection().filter(pk=task["ack_id"]).update(lock=timezone.now())
                released += 1
            else:
                log.warning("task %s not started; the broker hands it out again after its retry", task.get("name"))


class GracefulCluster(Cluster):
    def __init__(self) -> None:
        super().__init__()  # installs django-q's handlers, which block in stop(); replaced here
        self._stop_requested = threading.Event()
        self._signal_name = ""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._request_stop)

    def _request_stop(self, signum: int, frame: Any) -> None:
        # Nothing that can block in a signal handler: the main loop sees the flag.
        self._signal_name = signal.Signals(signum).name
        self._stop_requested.set()

    def start(self) -> int:
        self.stop_event = get_mp_context().Event()
        self.start_event = get_mp_context().Event()
        self.sentinel = get_mp_context().Process(
            target=GracefulSentinel,
            name=f"Process-{uuid.uuid4().hex}",
            args=(self.stop_event, self.start_event, self.cluster_id, self.broker, self.timeout),
        )
        # Blocked across the fork: the sentinel must not die of a signal before it has ignored it.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self.sentinel.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        log.info("Q Cluster %s starting.", self.name)
        while not self.start_event.is_set() and not self._stop_requested.is_set():
            if not self.sentinel.is_alive():
                raise RuntimeError(f"Q Cluster {self.name} failed to start (sentinel exit {self.sentinel.exitcode})")
            time.sleep(0.05)
        return self.pid

    def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT (or the sentinel dies), stop. Returns the process exit status."""
        self.start()
        while not self._stop_requested.is_set() and self.sentinel.is_alive():
            self._stop_requested.wait(0.2)
        died = not self._stop_requested.is_set()
        if died:
            log.error("the cluster's sentinel died (exit %s): stopping", self.sentinel.exitcode)
        else:
            log.info("stop requested by signal %s", self._signal_name)
        begun = time.monotonic()
        self._shutdown()
        log.info("Q Cluster %s stopped in %.2f s", self.name, time.monotonic() - begun)
        return 1 if died else 0

    def _shutdown(self) -> None:
        grace = float(settings.WORKER_STOP_GRACE_SECONDS)
        # Event.set() waits for every waiter to acknowledge; a sentinel that died waiting would block it forever.
        setter = threading.Thread(target=self.stop_event.set, daemon=True)
        setter.start()
        setter.join(timeout=1.0)
        self.sentinel.join(timeout=grace + MARGIN)
        leftovers = descendants(os.getpid())
        if os.getpgrp() == os.getpid():
            # A sentinel that died left its pusher, monitor and workers to init: no longer our descendants, but
            # still in the process group we lead. Nothing of ours may outlive us.
            leftovers += [pid for pid in group_members(os.getpid()) if pid != os.getpid() and pid not in leftovers]
        if self.sentinel.is_alive() or leftovers:
            log.error("the cluster did not stop within %.1f s: killing %d process(es)", grace + MARGIN, len(leftovers))
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.sentinel.join(timeout=1)


def _wait(done: Any, deadline: float) -> None:
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group (Linux /proc)."""
    members = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (Linux /proc; elsewhere none are found and the sentinel's own join rules)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":  # a zombie is already dead; its parent reaps it
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
