"""The engine: the process that decides alerts the moment they are stored and keeps every account reconciled.

Why a process of its own, and not django-q2 tasks:
- The alert table *is* the queue. An alert is stored in the webhook's one transaction and found here by a query;
  nothing about it depends on a task payload signed with SECRET_KEY (a rolling deploy that rotates the key used to
  drop alert tasks as `BadSignature`), and the webhook writes one row instead of two.
- Every exchange call is a network round trip. A pool of threads overlaps them across routes, so a bar close of a
  few hundred alerts is decided in parallel rather than one alert per worker process at a time; the route lease
  (routing/lease.py) keeps each route's alerts one at a time and in TradingView's order, on any number of threads,
  processes and hosts.
- Alerts always go first. Each round starts the routes with queued alerts before anything else, and background
  work (reconciling an account) may only take threads beyond `reserve` - so an alert never waits behind a
  reconciliation pass, however many accounts there are.
- Reconciliation fans out per account: an account is due when it was not reconciled within the period or has
  orders in flight; it is claimed with a compare-and-set (routing/reconcile/tick.py), so several engines share
  the work without doing it twice, and no job ever runs long.

On PostgreSQL the webhook's NOTIFY wakes the engine at once; on SQLite (development) it polls every few tens of
milliseconds. django-q2's cluster keeps the other periodic jobs (paper stops, billing notices, retention).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Min, Q
from django.utils import timezone

from audit.models import Alert
from ops import heartbeat
from orderrail.thread_pools import full_pool
from routing import pipeline
from routing.dispatch import ALERT_CHANNEL
from routing.reconcile import tick
from routing.reconcile.account import reconcile_account_id
from routing.reconcile.report import Report
from routing.reconcile.sweep import reset_dead_claims

logger = logging.getLogger(__name__)

STOP_RETRY_SECONDS = 0.25
Clock = Callable[[], datetime]


@dataclass
class EngineStats:
    routes_started: int = 0
    accounts_started: int = 0
    errors: int = 0
    busy_routes: set[int] = field(default_factory=set)
    busy_accounts: set[int] = field(default_factory=set)


class Engine:
    def __init__(
        self,
        *,
        threads: int | None = None,
        reserve: int | None = None,
        poll_seconds: float | None = None,
        clock: Clock = timezone.now,
        inline: bool = False,
    ) -> None:
        self.threads = threads or settings.ENGINE_THREADS
        # Threads background work may never take: alerts always find one free.
        self.reserve = min(self.threads - 1, reserve if reserve is not None else settings.ENGINE_ALERT_RESERVE)
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.ENGINE_POLL_SECONDS
        self.clock = clock
        self.stats = EngineStats()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Inline: every job runs in the caller's thread (tests inside one database transaction; `--once`).
        self._pool: ThreadPoolExecutor | _Inline = _Inline() if inline else full_pool(self.threads, "engine")
        self._next_background = 0.0
        self._next_sweep = 0.0
        # Accounts found due at the last look (at most every ENGINE_BACKGROUND_SECONDS), claimed as threads free up:
        # an account job takes a few round trips, so threads waiting a whole second for the next look sat idle and a
        # pass over 1,200 accounts outlasted its period.
        self._due: list[int] = []
        # Routes whose worst-case stop needs its upkeep after an alert, and the earliest time to try (a route busy
        # under someone else's lease is tried again a little later). Run once no alert is waiting, so at bar close
        # every entry goes out before any stop's upkeep. Only in memory: if the engine dies first, its successor's
        # start-up reconciliation pass keeps every stop (routing/reconcile/account.py).
        self._stops_due: dict[int, float] = {}
        self.started = clock()

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Until `stop()`: schedule, then wait for a notification, a finished job or the poll interval."""
        listener = _Listener(self._wake) if connection.vendor == "postgresql" else None
        if listener is not None:
            listener.start()
        logger.info("engine running: %s threads (%s kept for alerts)", self.threads, self.reserve)
        try:
            while not self._stop.is_set():
                try:
                    self.step()
                except Exception:
                    # The database went away, say: log, wait, try again. The engine never dies of one bad round.
                    logger.exception("engine: scheduling round failed")
                    close_old_connections()
                    self._stop.wait(1.0)
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
        finally:
            if listener is not None:
                listener.stop()
            cut_off = self._finish(settings.ENGINE_STOP_GRACE_SECONDS)
            with self._lock:
                stops_left = len(self._stops_due)
            # A stop upkeep still due is done by the next engine's start-up reconciliation pass.
            logger.info("engine stopped: %s job(s) cut off, %s stop upkeep(s) left", cut_off, stops_left)

    def _finish(self, grace: float) -> int:
        """Let the jobs under way finish, for at most `grace` seconds; returns how many were still running. A job
        cut off is safe: its alert is claimed and its orders recorded before any call, so the next engine's sweep
        and reconciliation finish it (never a second send)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with self._lock:
                running = len(self.stats.busy_routes) + len(self.stats.busy_accounts)
            if not running:
                return 0
            time.sleep(0.02)
        with self._lock:
            return len(self.stats.busy_routes) + len(self.stats.busy_accounts)

    def stop(self) -> None:
        """Take no new work; jobs under way finish (each is bounded by its route lease and the exchange timeouts)."""
        self._stop.set()
        self._wake.set()

    def step(self) -> int:
        """One scheduling round. Returns how many jobs it started."""
        heartbeat.beat_throttled(heartbeat.WORKER)  # /healthz: the engine is alive and scheduling
        started, alerts_waiting = self._start_routes()
        if not alerts_waiting:
            started += self._start_stops()
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + settings.ENGINE_SWEEP_SECONDS
            reset_dead_claims(self.clock())
        if now >= self._next_background:
            self._next_background = now + settings.ENGINE_BACKGROUND_SECONDS
            self._due = tick.due_accounts(self.clock(), engine_started=self.started)
        if self._due:
            started += self._start_accounts()
        return started

    def drain(self, *, timeout: float = 60.0) -> None:
        """Run rounds until nothing is queued or running (tests, `manage.py engine --once`)."""
        deadline = time.monotonic() + timeout
        self._next_background = float("inf")  # background work only when asked for
        self._due = []
        while time.monotonic() < deadline:
            self.step()
            with self._lock:
                idle = not self.stats.busy_routes and not self.stats.busy_accounts and not self._stops_due
            if idle and not self._ready_routes(1):
                return
            self._wake.wait(0.01)
            self._wake.clear()
        raise TimeoutError("the engine did not drain in time")

    # -- alerts -----------------------------------------------------------------------------------------------

    def _background_room(self) -> int:
        """Threads work other than alerts may take now: all but the reserve kept for alerts (hold the lock)."""
        return self.threads - self.reserve - len(self.stats.busy_accounts) - len(self.stats.busy_routes)

    def _free(self) -> int:
        with self._lock:
            return self.threads - len(self.stats.busy_routes) - len(self.stats.busy_accounts)

    def _start_routes(self) -> tuple[int, bool]:
        """Start the routes with queued alerts, as many as threads are free; returns how many started and whether
        alerts are still waiting for a thread."""
        free = self._free()
        if free <= 0:
            return 0, True
        started = 0
        ready = self._ready_routes(free)
        for route_id in ready:
            with self._lock:
                if route_id in self.stats.busy_routes:
                    continue
                self.stats.busy_routes.add(route_id)
                self.stats.routes_started += 1
            future = self._pool.submit(self._route_job, route_id)
            future.add_done_callback(self._done)
            started += 1
        return started, len(ready) >= free

    def _ready_routes(self, limit: int) -> list[int]:
        """Routes with queued alerts whose lease is free, oldest alert first."""
        now = self.clock()
        with self._lock:
            busy = set(self.stats.busy_routes)
        rows = (
            Alert.objects.filter(status=Alert.Status.QUEUED)
            .filter(Q(route__engine__lease_until__isnull=True) | Q(route__engine__lease_until__lt=now))
            .exclude(route_id__in=busy)
            .values("route_id")
            .annotate(first=Min("received_at"))
            .order_by("first")[:limit]
        )
        return [row["route_id"] for row in rows]

    def _route_job(self, route_id: int) -> None:
        # process_route ends a failing alert with its own decision; what fails here is around it (the database,
        # the lease). The alert stays queued; the next round tries again.
        self._on_route(
            route_id, "route", lambda: pipeline.process_route(route_id, clock=self.clock, stop_due=self._stop_due)
        )

    def _on_route(self, route_id: int, what: str, job: Callable[[], None]) -> None:
        """Run a job of the route's, marked busy in this engine until it ends; a failure is logged and counted."""
        try:
            job()
        except Exception:
            logger.exception("engine: %s %s failed", what, route_id)
            with self._lock:
                self.stats.errors += 1
        finally:
            with self._lock:
                self.stats.busy_routes.discard(route_id)
            self._release_connection()

    # -- the worst-case stops' upkeep, after the alerts ----------------------------------------------------------

    def _stop_due(self, route_id: int) -> None:
        with self._lock:
            self._stops_due.setdefault(route_id, 0.0)
        self._wake.set()

    def _start_stops(self) -> int:
        """Stop upkeep jobs, on the threads alerts do not need (the same reserve as background work)."""
        now = time.monotonic()
        with self._lock:
            room = self._background_room()
            batch = [r for r, at in self._stops_due.items() if at <= now and r not in self.stats.busy_routes][:room]
            for route_id in batch:
                del self._stops_due[route_id]
                self.stats.busy_routes.add(route_id)
        for route_id in batch:
            future = self._pool.submit(self._stop_job, route_id)
            future.add_done_callback(self._done)
        return len(batch)

    def _stop_job(self, route_id: int) -> None:
        def upkeep() -> None:
            if not pipeline.keep_stop(route_id, clock=self.clock):
                with self._lock:  # busy under another lease: again shortly (its holder may be another engine)
                    self._stops_due.setdefault(route_id, time.monotonic() + STOP_RETRY_SECONDS)

        self._on_route(route_id, "stop upkeep of route", upkeep)

    # -- background: reconciliation ---------------------------------------------------------------------------

    def _start_accounts(self) -> int:
        with self._lock:
            room = self._background_room()
        if room <= 0:
            return 0
        started = 0
        with self._lock:
            busy = self.stats.busy_accounts
            batch = [pk for pk in self._due if pk not in busy][:room]
        self._due = [pk for pk in self._due if pk not in batch]
        claimed = tick.claim(batch, self.clock(), engine_started=self.started)
        if claimed:
            logger.debug("engine: reconciling accounts %s", claimed)
        for account_id in claimed:
            with self._lock:
                self.stats.busy_accounts.add(account_id)
                self.stats.accounts_started += 1
            future = self._pool.submit(self._account_job, account_id)
            future.add_done_callback(self._done)
            started += 1
        return started

    def _account_job(self, account_id: int) -> None:
        try:
            reconcile_account_id(account_id, Report(), clock=self.clock)
            heartbeat.beat(heartbeat.RECONCILED)  # /healthz: the age of the last completed reconciliation
        except Exception:
            logger.exception("engine: reconciling account %s failed", account_id)
            with self._lock:
                self.stats.errors += 1
        finally:
            with self._lock:
                self.stats.busy_accounts.discard(account_id)
            self._release_connection()

    def _release_connection(self) -> None:
        if not isinstance(self._pool, _Inline):
            close_old_connections()  # a pool thread's connection: kept for CONN_MAX_AGE, dropped when broken

    def _done(self, _future: Future[None]) -> None:
        self._wake.set()  # a thread is free: schedule again at once


class _Inline:
    """An executor that runs each job at once, in the caller's thread."""

    def submit(self, fn: Callable[..., None], *args: object) -> Future[None]:
        future: Future[None] = Future()
        fn(*args)
        future.set_result(None)
        return future

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        return None


class _Listener:
    """PostgreSQL LISTEN on its own connection: the webhook's NOTIFY (sent on commit) wakes the engine at once."""

    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engine-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import psycopg

        db = settings.DATABASES["default"]
        params = {
            "dbname": db["NAME"],
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "connect_timeout": 5,
        }
        while not self._stop.is_set():
            try:
                with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as conn:
                    conn.execute(f"LISTEN {ALERT_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
            except Exception:
                logger.warning("engine: LISTEN connection lost; polling until it is back", exc_info=True)
                self._stop.wait(1.0)


def claim_lag(now: datetime) -> timedelta | None:
    """How long the oldest queued alert has waited (health checks)."""
    oldest = Alert.objects.filter(status=Alert.Status.QUEUED).aggregate(first=Min("received_at"))["first"]
    return now - oldest if oldest else None
