"""Webhook benchmark against the real stack: gunicorn, the django-q2 worker, PostgreSQL and the fake Kraken.

    python bench/webhook.py --database-url postgres://postgres:postgres@127.0.0.1:5432/orderrail_bench

The load generator runs in a second process and talks HTTP/1.1 keep-alive over loopback. Every run is bounded in
count and time. Reports, per phase: requests/s, ack latency p50/p99/max, errors; for valid alerts also
alert-received → order-accepted-by-the-fake latency p50/p99 (from the order's history). Then hostile inputs
(1 MB body, bad JSON, bad secret) and a bar-close burst: N alerts for N routes released at once.

Every phase also reports the CPU seconds each stack process spent in it (from /proc: the fake, the gunicorn
master and workers, each qcluster process, PostgreSQL, the load generator), and, for valid alerts, where the
pipeline latency goes (received → claimed by a worker → accepted by the fake).

    --ack-only   runs the load phases with the django-q2 worker stopped, so intake capacity is measured on its
                 own; then starts the worker and measures how fast it drains the backlog (alerts/s, CPU ms per
                 alert per process).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import re
import resource
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_SECRET = "YmVuY2gtc2VjcmV0LWZvci10aGUtZmFrZS1rcmFrZW4tb25seS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OQ=="
ROUTE_SECRET = "bench-route-secret"


# --- load generator (runs in its own process) -----------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alert(seq: int) -> bytes:
    # Unique per request (the id), alternating sides so the position stays small.
    return json.dumps(
        {
            "secret": ROUTE_SECRET,
            "action": "buy" if seq % 2 == 0 else "sell",
            "contracts": "0.001",
            "time": _now_iso(),
            "id": f"bench-{os.getpid()}-{seq}",
        }
    ).encode()


def _worker(base: str, paths: list[str], bodies: list[bytes], out: list[tuple[float, int]], deadline: float) -> None:
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    for n, body in enumerate(bodies):
        if time.monotonic() > deadline:
            break
        path = paths[n % len(paths)]
        t0 = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            status = 599
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        out.append((time.perf_counter() - t0, status))
    conn.close()


def load(base: str, paths: list[str], concurrency: int, total: int, seconds: float, kind: str, queue: mp.Queue) -> None:
    per = total // concurrency
    results: list[list[tuple[float, int]]] = [[] for _ in range(concurrency)]
    bodies_for = {
        "valid": lambda i, n: [_alert(i * 1_000_000 + n + k) for k in range(per)],
        "huge": lambda i, n: [b'{"comment": "' + b"x" * 1_000_000 + b'"}'] * per,
        "badjson": lambda i, n: [b'{"secret": "x", "action": '] * per,
        "badsecret": lambda i, n: [_alert(n + k).replace(ROUTE_SECRET.encode(), b"wrong-secret") for k in range(per)],
    }
    stamp = int(time.time() * 1000) % 1_000_000
    threads = [
        threading.Thread(
            target=_worker,
            # Each connection walks the routes from its own offset, so the routes share the load evenly.
            args=(base, paths[i:] + paths[:i], bodies_for[kind](i, stamp), results[i], time.monotonic() + seconds),
        )
        for i in range(concurrency)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    queue.put((elapsed, [r for rs in results for r in rs], _own_cpu()))


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _burst_one(host: str, port: int, path: str, body: bytes, gate: asyncio.Event) -> tuple[float, int]:
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    await gate.wait()
    t0 = time.perf_counter()
    writer.write(request)
    await writer.drain()
    line = await reader.readline()
    await reader.read()
    writer.close()
    return time.perf_counter() - t0, int(line.split()[1]) if line else 599


async def _burst(base: str, paths: list[str]) -> tuple[float, list[tuple[float, int]]]:
    u = urlsplit(base)
    gate = asyncio.Event()
    bodies = [_alert(i) for i in range(len(paths))]
    tasks = [
        asyncio.create_task(_burst_one(u.hostname, u.port, p, b, gate)) for p, b in zip(paths, bodies, strict=True)
    ]
    await asyncio.sleep(1.0)  # every connection open and waiting, as at a candle close
    t0 = time.perf_counter()
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return time.perf_counter() - t0, list(results)


def burst(base: str, paths: list[str], queue: mp.Queue) -> None:
    elapsed, results = asyncio.run(_burst(base, paths))
    queue.put((elapsed, results, _own_cpu()))


# --- per-process CPU accounting (from /proc) -------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict[int, tuple[str, int, int, float, float]]:
    """pid -> (comm, ppid, pgrp, own CPU seconds, reaped children's CPU seconds), for every readable process."""
    out: dict[int, tuple[str, int, int, float, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[0] is stat field 3 (state): ppid 4, pgrp 5, utime 14, stime 15, cutime 16, cstime 17.
        own = (int(fields[11]) + int(fields[12])) / _TICK
        reaped = (int(fields[13]) + int(fields[14])) / _TICK
        out[int(entry.name)] = (comm, int(fields[1]), int(fields[2]), own, reaped)
    return out


class CpuMeter:
    """CPU seconds per role: fake, gunicorn master and workers, the qcluster processes, PostgreSQL.

    Stack processes are told apart by process group (tests/stack.py starts each in its own session). Inside
    qcluster the sentinel spawns the workers first, then the monitor, then the pusher, so their pids give their
    roles; a child that appears later is a recycled or reincarnated worker. Workers (gunicorn's and django-q's)
    are summed over the live ones and those that exited (from their parent's reaped-children counters), so a
    recycled worker's CPU is neither lost nor counted twice."""

    def __init__(self, procs: Any, q_workers: int, database_url: str | None = None) -> None:
        self.procs = procs
        self.q_workers = q_workers
        self.roles: dict[int, str] = {}
        self.database_url = database_url
        self._pg: dict[int, str | None] = {}

    def _postgres_roles(self) -> None:
        """PostgreSQL backends serving the bench database are "postgres"; its own processes (WAL writer,
        checkpointer, autovacuum) are "postgres (shared)"; backends of other databases - another job on the box -
        are left to "other"."""
        if not self.database_url or not self.database_url.startswith("postgres"):
            return
        import psycopg

        u = urlsplit(self.database_url)
        name = u.path.lstrip("/")
        kwargs = {"host": u.hostname, "port": u.port or 5432, "user": u.username, "password": u.password}
        with psycopg.connect(**kwargs, dbname=name, autocommit=True) as conn:
            rows = conn.execute("SELECT pid, datname, backend_type FROM pg_stat_activity").fetchall()
        for pid, datname, backend_type in rows:
            if backend_type == "client backend":
                self._pg[pid] = "postgres" if datname == name else None
            else:
                self._pg.setdefault(pid, "postgres (shared)")

    def _classify(self, stats: dict[int, tuple[str, int, int, float, float]], groups: dict[int, str]) -> None:
        for pid, (comm, ppid, pgrp, _, _) in sorted(stats.items()):
            if pid in self.roles:
                continue
            group = groups.get(pgrp)
            if comm.startswith("postgres"):
                if not self.database_url:
                    self.roles[pid] = "postgres"
                elif pid in self._pg:
                    role = self._pg[pid]
                    if role is not None:
                        self.roles[pid] = role
                    else:
                        self.roles[pid] = "(another database)"
            elif group == "web":
                self.roles[pid] = "web master" if pid == pgrp else "web workers"
            elif group == "fake":
                self.roles[pid] = "fake"
            elif group == "worker":
                if pid == pgrp:
                    self.roles[pid] = "q main"
                elif ppid == pgrp:
                    self.roles[pid] = "q sentinel"
                else:
                    siblings = sorted(p for p, i in stats.items() if i[1] == ppid)
                    if not any(p in self.roles for p in siblings) and len(siblings) >= self.q_workers + 2:
                        names = ["q workers"] * self.q_workers + ["q monitor", "q pusher"]
                        self.roles.update(zip(siblings, names, strict=False))
                    self.roles.setdefault(pid, "q workers")

    def sample(self) -> dict[str, float]:
        groups = {proc.pid: name for name, proc in self.procs.procs.items()}
        self._postgres_roles()
        stats = _proc_stats()
        self._classify(stats, groups)
        totals: dict[str, float] = {"bench": _own_cpu(), "machine": _machine_busy()}
        for pid, info in stats.items():
            role = self.roles.get(pid)
            if role is None or role.startswith("("):
                continue
            totals[role] = totals.get(role, 0.0) + info[3]
            if role in ("web master", "q sentinel"):
                # Workers that exited (recycled) were reaped by these: their CPU stays with the workers.
                key = "web workers" if role == "web master" else "q workers"
                totals[key] = totals.get(key, 0.0) + info[4]
        return totals


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all processes, kernel included), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _TICK


def cpu_delta(before: dict[str, float], after: dict[str, float], loadgen: float = 0.0) -> dict[str, float]:
    """CPU seconds per role between two samples; `other` is what the rest of the machine used meanwhile (another
    job on the box makes a run incomparable - look at it before trusting a figure)."""
    roles = sorted((set(before) | set(after)) - {"machine"})
    delta = {r: round(after.get(r, 0.0) - before.get(r, 0.0), 2) for r in roles}
    if loadgen:
        delta["loadgen"] = round(loadgen, 2)
    delta = {r: v for r, v in delta.items() if v > 0}
    delta["total"] = round(sum(delta.values()), 2)
    machine = after.get("machine", 0.0) - before.get("machine", 0.0)
    if machine:
        delta["other"] = round(max(0.0, machine - delta["total"]), 2)
    return delta


def cpu_groups(delta: dict[str, float]) -> dict[str, float]:
    """Roles folded into processes kinds: gunicorn, qcluster (all its processes), fake, postgres, loadgen, bench."""
    out: dict[str, float] = {}
    for role, seconds in delta.items():
        if role in ("total", "other"):
            continue
        kind = {"web": "gunicorn", "q": "qcluster"}.get(role.split()[0], role)
        out[kind] = round(out.get(kind, 0.0) + seconds, 2)
    return out


def per_alert_ms(delta: dict[str, float], alerts: int) -> dict[str, float]:
    if not alerts:
        return {}
    return {role: round(seconds * 1000 / alerts, 2) for role, seconds in delta.items()}


# --- orchestration ---------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    elapsed: float
    results: list[tuple[float, int]]

    def summary(self) -> dict[str, object]:
        lat = sorted(r[0] * 1000 for r in self.results)
        codes: dict[int, int] = {}
        for _, status in self.results:
            codes[status] = codes.get(status, 0) + 1
        return {
            "phase": self.name,
            "requests": len(lat),
            "rps": round(len(lat) / self.elapsed, 1) if self.elapsed else 0,
            "ack_p50_ms": round(_pct(lat, 50), 1),
            "ack_p99_ms": round(_pct(lat, 99), 1),
            "ack_max_ms": round(lat[-1], 1) if lat else 0,
            "status_codes": codes,
            "5xx": sum(n for c, n in codes.items() if c >= 500),
        }


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def run_in_process(target, *args) -> object:  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get(timeout=600)
    proc.join(timeout=30)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres:postgres@127.0.0.1:5432/orderrail_bench")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--q-workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="bound per load phase")
    parser.add_argument("--requests", type=int, default=3000, help="bound per load phase")
    parser.add_argument("--burst", type=int, default=1000, help="routes (and alerts) in the bar-close burst")
    parser.add_argument("--routes", type=int, default=200, help="routes (each with its own key) the load phases use")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated concurrencies of the valid phases")
    parser.add_argument("--no-hostile", action="store_true", help="skip the hostile phases")
    parser.add_argument("--no-burst", action="store_true", help="skip the bar-close burst")
    parser.add_argument(
        "--ack-only",
        action="store_true",
        help="load phases with the worker stopped (intake on its own); then start it and time the drain",
    )
    parser.add_argument(
        "--keep-backlog", action="store_true", help="with --ack-only: leave the backlog queued (for profiling)"
    )
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for the pipeline, per phase")
    parser.add_argument(
        "--reconcile-every-minutes",
        type=int,
        help="RECONCILE_EVERY_MINUTES for the stack (default: the settings' own); reconciliation walks every "
        "account, so with one account per route it is a large share of the worker's CPU",
    )
    parser.add_argument(
        "--sweep-stuck-seconds",
        type=int,
        help="SWEEP_STUCK_SECONDS for the stack: the sweeper re-drives, inline, every alert queued longer than this",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "webhook.json")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderrail.settings")
    os.environ["BILLING_ENABLED"] = "0"
    from tests.stack import use_test_environment

    use_test_environment()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tests import stack

    _create_database(args.database_url)
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from django_q.models import OrmQ

    from audit import models as audit

    OrmQ.objects.all().delete()
    # Children before parents (the audit trail is PROTECTed); models a checkout does not have yet are skipped.
    for name in ("Attention", "LedgerEntry", "OrderEvent", "Fill", "Order", "Decision", "Alert"):
        model = getattr(audit, name, None)
        if model is not None:
            model.objects.all().delete()
    logs = args.out.parent
    logs.mkdir(parents=True, exist_ok=True)
    load_routes, burst_routes = _seed(args.routes, args.burst, logs / "accounts.json")
    connection.close()

    fake_port = stack.free_port()
    kraken = f"http://127.0.0.1:{fake_port}"
    extra = {"Q_WORKERS": str(args.q_workers), "BILLING_ENABLED": "0"}
    if args.reconcile_every_minutes:
        extra["RECONCILE_EVERY_MINUTES"] = str(args.reconcile_every_minutes)
    if args.sweep_stuck_seconds:
        extra["SWEEP_STUCK_SECONDS"] = str(args.sweep_stuck_seconds)
    env = stack.stack_env(args.database_url, kraken, **extra)
    for name in ("fake.log", "web.log", "worker.log"):  # stack.Processes appends: one run per log
        (logs / name).unlink(missing_ok=True)
    report: dict[str, object] = {
        "when": _now_iso(),
        "cpus": os.cpu_count(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }

    def emit(summary: dict[str, object]) -> None:
        phases.append(summary)
        print(json.dumps(summary), flush=True)

    phases: list[dict[str, object]] = []
    with stack.running() as procs:
        procs.start(
            "fake",
            [
                sys.executable,
                "manage.py",
                "fake_kraken",
                "--port",
                str(fake_port),
                "--accounts",
                str(logs / "accounts.json"),
            ],
            env,
            logs / "fake.log",
        )
        stack.wait_http(kraken + "/derivatives/api/v3/instruments")
        base = stack.start_web(procs, env, workers=args.web_workers, log=logs / "web.log")
        if not args.ack_only:
            stack.start_worker(procs, env, log=logs / "worker.log")
        time.sleep(2)
        meter = CpuMeter(procs, args.q_workers, args.database_url)
        idle0 = meter.sample()
        time.sleep(2)
        emit({"phase": "idle 2 s", "cpu_s": cpu_delta(idle0, meter.sample())})

        for concurrency in (int(c) for c in args.concurrency.split(",") if c):
            since = datetime.now(UTC)
            before = meter.sample()
            elapsed, results, loadgen = run_in_process(
                load, base, load_routes, concurrency, args.requests, args.seconds, "valid"
            )
            after_load = meter.sample()
            summary = Phase(f"valid c={concurrency}", elapsed, results).summary()
            summary["cpu_s_during_load"] = cpu_delta(before, after_load, loadgen)
            if not args.ack_only:
                summary |= _pipeline_latency(since, timeout=args.drain_timeout)
                # Intake and pipeline together, load start to the last decision: what one alert costs end to end.
                whole = cpu_delta(before, meter.sample(), loadgen)
                summary["cpu_ms_per_alert_incl_pipeline"] = per_alert_ms(cpu_groups(whole), len(results))
            emit(summary)
        if not args.no_hostile:
            for kind in ("huge", "badjson", "badsecret"):
                before = meter.sample()
                elapsed, results, loadgen = run_in_process(
                    load, base, load_routes, 8, 400 if kind != "huge" else 80, args.seconds, kind
                )
                summary = Phase(f"hostile {kind} c=8", elapsed, results).summary()
                summary["cpu_s_during_load"] = cpu_delta(before, meter.sample(), loadgen)
                emit(summary)
        if not args.no_burst:
            since = datetime.now(UTC)
            before = meter.sample()
            elapsed, results, loadgen = run_in_process(burst, base, burst_routes)
            summary = Phase(f"burst {len(burst_routes)} routes", elapsed, results).summary()
            summary["all_acked_within_s"] = round(elapsed, 2)
            summary["cpu_s_during_acks"] = cpu_delta(before, meter.sample(), loadgen)
            if not args.ack_only:
                summary |= _burst_outcome(since, len(burst_routes), timeout=args.drain_timeout)
                summary["cpu_s_until_decided"] = cpu_delta(before, meter.sample(), loadgen)
            emit(summary)
        if args.ack_only and not args.keep_backlog:
            emit(_drain(procs, env, meter, logs / "worker.log", timeout=args.drain_timeout))
        report["phases"] = phases
    report["worker_log"] = _worker_events(logs / "worker.log")
    print(json.dumps({"worker_log": report["worker_log"]}))
    args.out.write_text(json.dumps(report, indent=2))
    print(f"written to {args.out}")
    return 0


def _drain(procs: Any, env: dict[str, str], meter: CpuMeter, log: Path, timeout: float) -> dict[str, object]:
    """Start the worker on the backlog the ack-only phases left, and time it from its first decision to its last."""
    from django.db import connection

    from audit.models import Alert
    from tests import stack

    def undecided() -> int:
        return Alert.objects.filter(status__in=["queued", "processing"]).count()

    backlog = undecided()
    t_start = time.monotonic()
    stack.start_worker(procs, env, log=log)
    deadline = t_start + timeout
    while undecided() == backlog and time.monotonic() < deadline:
        time.sleep(0.02)
    t_first, first_left, cpu_first = time.monotonic(), undecided(), meter.sample()
    left = first_left
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = undecided()
    t_end, cpu_end = time.monotonic(), meter.sample()
    done = first_left - left
    window = t_end - t_first
    cpu = cpu_delta(cpu_first, cpu_end)
    decided = Alert.objects.filter(status="decided").count()
    service = _service_times()
    connection.close()
    return {
        "phase": f"drain backlog of {backlog}",
        "worker_start_to_first_decision_s": round(t_first - t_start, 2),
        "decided_in_window": done,
        "window_s": round(window, 2),
        "alerts_per_s": round(done / window, 1) if window else 0,
        "left_undecided": left,
        "decided_total": decided,
        "cpu_s": cpu,
        "cpu_ms_per_alert": per_alert_ms(cpu, done),
        "cpu_util_pct_of_machine": round(100 * cpu["total"] / (window * (os.cpu_count() or 1)), 1) if window else 0,
    } | service


def _worker_events(log: Path) -> dict[str, int]:
    """What the qcluster did besides alerts: worker restarts, task timeouts and failures, reconciliation runs."""
    if not log.exists():
        return {}
    text = log.read_text(errors="replace")
    return {
        "tasks_processed": text.count("Processed '"),
        "tasks_failed": text.count("Failed '"),
        "task_timeouts": text.count("exceeded maximum timeout"),
        "workers_recycled": text.count("recycled worker"),
        "workers_reincarnated": text.count("reincarnated worker"),
        "reconcile_runs_started": len(re.findall(r"processing \S+ 'routing\.tasks\.reconcile'", text)),
        "reconcile_runs_finished": text.count("Processed 'routing.tasks.reconcile'"),
    }


def _service_times(since: datetime | None = None) -> dict[str, object]:
    """Claimed-by-a-worker → accepted-by-the-fake: the pipeline's own time per alert, without its queue wait."""
    from audit.models import OrderEvent

    events = OrderEvent.objects.filter(to_state__in=["open", "filled", "partially_filled"])
    if since is not None:
        events = events.filter(order__decision__alert__received_at__gte=since)
    rows = events.values_list("at", "order__decision__alert__claimed_at")
    lat = sorted((at - claimed).total_seconds() * 1000 for at, claimed in rows if claimed)
    return {
        "claimed_to_accepted_p50_ms": round(_pct(lat, 50), 1),
        "claimed_to_accepted_p99_ms": round(_pct(lat, 99), 1),
    }


def _create_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    u = urlsplit(url)
    name = u.path.lstrip("/")
    with psycopg.connect(
        host=u.hostname, port=u.port or 5432, user=u.username, password=u.password, dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _seed(load_routes: int, burst_routes: int, accounts_file: Path) -> tuple[list[str], list[str]]:
    """One exchange account (its own API key, as each trader has) per route: Kraken's per-key budget of 500 cost
    units per 10 s allows ~35 alerts per key per 10 s, so one key could never carry the load phases."""
    from accounts.models import ExchangeAccount, User
    from routing.models import Route

    user, _ = User.objects.get_or_create(email="bench@example.com", defaults={"username": "bench"})
    Route.objects.filter(owner=user).delete()
    ExchangeAccount.objects.filter(owner=user).delete()
    total = load_routes + burst_routes
    accounts = []
    keys = []
    for i in range(total):
        account = ExchangeAccount(owner=user, label=f"bench {i}")
        key = f"bench-key-{i}"
        account.set_credentials(key, BENCH_SECRET)
        accounts.append(account)
        keys.append({"key": key, "secret": BENCH_SECRET, "collateral": "1000000"})
    ExchangeAccount.objects.bulk_create(accounts)
    accounts_file.write_text(json.dumps(keys))
    probe = Route()
    probe.set_secret(ROUTE_SECRET)
    routes = [
        Route(
            owner=user,
            name=f"bench {i}",
            exchange_account=accounts[i],
            symbol="PF_XBTUSD",
            sizing_mode="contracts",
            max_alert_age_seconds=600,
            token=f"bench-{i}",
            secret_hash=probe.secret_hash,
            secret_sealed=ROUTE_SECRET,
        )
        for i in range(total)
    ]
    Route.objects.bulk_create(routes)
    paths = [f"/hooks/bench-{i}" for i in range(total)]
    return paths[:load_routes], paths[load_routes:]


def _pipeline_latency(since: datetime, timeout: float) -> dict[str, object]:
    from django.db import connection

    from audit.models import Alert, OrderEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = Alert.objects.filter(received_at__gte=since, status__in=["queued", "processing"]).count()
        if pending == 0:
            break
        time.sleep(0.2)
    events = OrderEvent.objects.filter(
        order__decision__alert__received_at__gte=since, to_state__in=["open", "filled", "partially_filled"]
    ).values_list("at", "order__decision__alert__received_at", "order__decision__alert__claimed_at")
    rows = list(events)
    lat = sorted((at - received).total_seconds() * 1000 for at, received, _ in rows)
    wait = sorted((claimed - received).total_seconds() * 1000 for _, received, claimed in rows if claimed)
    decided = Alert.objects.filter(received_at__gte=since, status="decided").count()
    connection.close()
    return {
        "decided": decided,
        "orders_accepted": len(lat),
        "received_to_accepted_p50_ms": round(_pct(lat, 50), 1),
        "received_to_accepted_p99_ms": round(_pct(lat, 99), 1),
        "mean_ms": round(statistics.fmean(lat), 1) if lat else 0,
        "received_to_claimed_p50_ms": round(_pct(wait, 50), 1),
        "received_to_claimed_p99_ms": round(_pct(wait, 99), 1),
    } | _service_times(since)


def _burst_outcome(since: datetime, expected: int, timeout: float) -> dict[str, object]:
    from django.db.models import Max, Min

    from audit.models import Alert

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        undecided = Alert.objects.filter(received_at__gte=since).exclude(status="decided").count()
        if undecided == 0:
            break
        time.sleep(0.2)
    alerts = Alert.objects.filter(received_at__gte=since)
    stored = alerts.count()
    decided = alerts.filter(status="decided").count()
    span = alerts.aggregate(last=Max("decided_at"), first=Min("received_at"))
    # Only a burst that was decided in full has a "decided within" figure.
    within = (
        round((span["last"] - span["first"]).total_seconds(), 2)
        if decided == expected and span["last"] and span["first"]
        else None
    )
    return {"stored": stored, "expected": expected, "decided": decided, "all_decided_within_s": within}


if __name__ == "__main__":
    sys.exit(main())
