"""What every benchmark here shares: the real stack as separate processes, a database of its own, seeded accounts
and routes, the load generators, per-role CPU accounting and the pipeline's own timings from the database.

The stack is the production shape, each part its own process (group):
- web: gunicorn from gunicorn.conf.py (the webhook pool: GUNICORN_POOL=webhook);
- floor: gunicorn sync x4 serving bench/floor (a minimal view doing the webhook's durable work), for the ratio;
- engine (and engine2 for scale-out): `manage.py engine` - alerts and reconciliation, threads in one process;
- djangoq: `manage.py worker` - django-q2's periodic jobs;
- fake: the fake Kraken (`manage.py fake_kraken`), with its latency switch on every endpoint when asked.

Every process's PostgreSQL connections carry its role as application_name (libpq's PGAPPNAME), so the database's
CPU is split by role too. Everything talks over loopback; every load is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import multiprocessing as mp
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_SECRET = "YmVuY2gtc2VjcmV0LWZvci10aGUtZmFrZS1rcmFrZW4tb25seS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OQ=="
ROUTE_SECRET = "bench-route-secret"
DEFAULT_DB = "postgres://postgres:postgres@127.0.0.1:5432/orderrail_bench"
RESULTS = ROOT / "bench" / "results"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of already sorted values; 0 for none."""
    if not values:
        return 0.0
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def machine_load() -> dict[str, float]:
    """The 1/5/15-minute load averages: the machine is shared, so every result says what else was running."""
    one, five, fifteen = os.getloadavg()
    return {"load1": round(one, 2), "load5": round(five, 2), "load15": round(fifteen, 2)}


# --- Django and the database --------------------------------------------------------------------------------------


def setup_django(database_url: str, **env: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderrail.settings")
    os.environ["BILLING_ENABLED"] = "0"
    os.environ.update(env)
    from tests.stack import use_test_environment

    use_test_environment()
    import django

    django.setup()


def create_database(url: str) -> None:
    import psycopg

    u = urlsplit(url)
    name = u.path.lstrip("/")
    with psycopg.connect(
        host=u.hostname, port=u.port or 5432, user=u.username, password=u.password, dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def reset_database(database_url: str) -> None:
    """Migrated and empty of everything a previous run left (alerts, orders, accounts, routes, schedules)."""
    create_database(database_url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    tables = [
        "audit_attention",
        "audit_ledgerentry",
        "audit_orderevent",
        "audit_fill",
        "audit_order",
        "audit_decision",
        "audit_alert",
        "routing_routestate",
        "routing_routeevent",
        "routing_route",
        "accounts_exchangeaccount",
        "django_q_ormq",
        "django_q_schedule",
        "django_q_task",
    ]
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        present = [t for t in tables if t in existing]
        cursor.execute(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE")
        cursor.execute("DROP TABLE IF EXISTS bench_floor_alert")
        from bench.floor.urls import CREATE

        cursor.execute(CREATE)
    connection.close()


def seed(
    count: int,
    accounts_file: Path,
    *,
    stop_pct: str | None = "5",
    max_alert_age_seconds: int = 60,
    prefix: str = "bench",
) -> list[str]:
    """`count` exchange accounts with one route each (its own API key, as each trader has: Kraken's per-key budget
    of 500 cost units per 10 s allows ~35 alerts per key per 10 s). Returns the routes' webhook paths.

    The routes trade 0.001 XBT in contracts mode with a worst-case stop `stop_pct` % away (each alert opens or
    closes the position, so each one also places or cancels the stop), and the default alert age limit (60 s)."""
    from accounts.models import ExchangeAccount, User
    from routing.models import Route, RouteState

    user, _ = User.objects.get_or_create(email="bench@example.com", defaults={"username": "bench"})
    accounts = []
    keys = []
    for i in range(count):
        account = ExchangeAccount(owner=user, label=f"{prefix} {i}")
        key = f"{prefix}-key-{i}"
        account.set_credentials(key, BENCH_SECRET)
        accounts.append(account)
        keys.append({"key": key, "secret": BENCH_SECRET, "collateral": "1000000"})
    ExchangeAccount.objects.bulk_create(accounts, batch_size=500)
    accounts_file.parent.mkdir(parents=True, exist_ok=True)
    accounts_file.write_text(json.dumps(keys))
    probe = Route()
    probe.set_secret(ROUTE_SECRET)
    routes = [
        Route(
            owner=user,
            name=f"{prefix} {i}",
            exchange_account=accounts[i],
            symbol="PF_XBTUSD",
            sizing_mode="contracts",
            max_alert_age_seconds=max_alert_age_seconds,
            worst_case_stop_pct=stop_pct,
            token=f"{prefix}-{i}",
            secret_hash=probe.secret_hash,
            secret_sealed=ROUTE_SECRET,
        )
        for i in range(count)
    ]
    Route.objects.bulk_create(routes, batch_size=500)
    RouteState.objects.bulk_create([RouteState(route=r) for r in routes], batch_size=500)
    return [f"/hooks/{prefix}-{i}" for i in range(count)]


def alert_body(seq: int, *, side: str | None = None, tag: str = "") -> bytes:
    """A valid alert, unique per call (its id); alternating sides keep the position at 0 or 0.001."""
    return json.dumps(
        {
            "secret": ROUTE_SECRET,
            "action": side or ("buy" if seq % 2 == 0 else "sell"),
            "contracts": "0.001",
            "time": now_iso(),
            "id": f"b{tag}{os.getpid()}-{seq}-{time.monotonic_ns()}",
        }
    ).encode()


# --- the stack -----------------------------------------------------------------------------------------------------


class Stack:
    """The processes of one run. `start_*` each start one role; `stop()` stops them all (SIGTERM to each group,
    then SIGKILL to what is left). Logs go to `logs/<role>.log`, one run per log."""

    def __init__(self, database_url: str, logs: Path, **settings: str) -> None:
        from tests import stack

        self.database_url = database_url
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs = stack.Processes()
        self.fake_port = stack.free_port()
        self.kraken = f"http://127.0.0.1:{self.fake_port}"
        self.settings = {"BILLING_ENABLED": "0", "LOG_FORMAT": "plain", **settings}
        self.web = ""
        self.floor = ""

    def env(self, role: str, **extra: str) -> dict[str, str]:
        from tests import stack

        return stack.stack_env(self.database_url, self.kraken, PGAPPNAME=f"bench-{role}", **self.settings, **extra)

    def _start(self, role: str, args: list[str], env: dict[str, str]) -> None:
        log = self.logs / f"{role}.log"
        log.unlink(missing_ok=True)
        self.procs.start(role, args, env, log)

    def start_fake(self, accounts_file: Path, latency_ms: float = 0.0) -> None:
        from tests import stack

        args = [sys.executable, "manage.py", "fake_kraken", "--port", str(self.fake_port)]
        self._start("fake", [*args, "--accounts", str(accounts_file)], self.env("fake"))
        stack.wait_http(self.kraken + "/_fake/health", timeout=120)
        self.set_latency(latency_ms)

    def set_latency(self, latency_ms: float) -> None:
        """The fake's latency switch on every endpoint (each request waits this long before it is served)."""
        import requests

        requests.post(f"{self.kraken}/_fake/faults/clear", timeout=10)
        if latency_ms > 0:
            requests.post(
                f"{self.kraken}/_fake/faults",
                json={"endpoint": "*", "kind": "latency", "count": 10**9, "seconds": latency_ms / 1000},
                timeout=10,
            ).raise_for_status()

    def start_web(self, workers: int | None = None, threads: int | None = None) -> str:
        """gunicorn with the product's gunicorn.conf.py, as production runs the webhook pool."""
        from tests import stack

        port = stack.free_port()
        extra = {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_POOL": "webhook"}
        if workers:
            extra["WEB_WORKERS"] = str(workers)
        if threads:
            extra["WEB_THREADS"] = str(threads)
        self._start("web", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], self.env("web", **extra))
        self.web = f"http://127.0.0.1:{port}"
        stack.wait_http(self.web + "/hooks/not-a-route", timeout=60)
        return self.web

    def start_floor(self) -> str:
        """The floor: bench/floor on gunicorn sync x4, the same database."""
        from tests import stack

        port = stack.free_port()
        args = [sys.executable, "-m", "gunicorn", "bench.floor.wsgi", "--bind", f"127.0.0.1:{port}"]
        args += ["--workers", "4", "--worker-class", "sync", "--backlog", "2048"]
        self._start("floor", args, self.env("floor", DJANGO_SETTINGS_MODULE="bench.floor.settings"))
        self.floor = f"http://127.0.0.1:{port}"
        stack.wait_http(self.floor + "/hooks/warm", timeout=60)
        return self.floor

    def start_engine(self, role: str = "engine", threads: int | None = None, nice: int = 0) -> None:
        args = [sys.executable, "manage.py", "engine"]
        if threads:
            args += ["--threads", str(threads)]
        if nice:
            args = ["nice", "-n", str(nice), *args]
        self._start(role, args, self.env(role))

    def start_djangoq(self) -> None:
        self._start("djangoq", [sys.executable, "manage.py", "worker"], self.env("djangoq"))

    def stop_role(self, role: str) -> None:
        import signal

        if role in self.procs.procs:
            self.procs.kill(role, signal.SIGTERM)

    def pid(self, role: str) -> int | None:
        proc = self.procs.procs.get(role)
        return proc.pid if proc else None

    def stop(self) -> None:
        self.procs.stop_all()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- per-role CPU accounting (from /proc) -------------------------------------------------------------------------

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


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all processes, kernel included), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _TICK


class CpuMeter:
    """CPU seconds per role. Stack processes are told apart by process group (each role is started in its own
    session): gunicorn's master and workers are one role, the engine is one process with its threads, the django-q2
    cluster's processes are one role. PostgreSQL backends are split by the application_name of the process they
    serve (`postgres:engine`, `postgres:web`, ...); PostgreSQL's own processes (WAL writer, checkpointer,
    autovacuum) are `postgres:shared`; backends of other databases (another job on the box) are left out and show
    in `other`. Exited children (recycled gunicorn workers) count through their parent's reaped-children CPU."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.roles: dict[int, str] = {}

    def _postgres_roles(self) -> dict[int, str | None]:
        import psycopg

        u = urlsplit(self.stack.database_url)
        name = u.path.lstrip("/")
        kwargs = {"host": u.hostname, "port": u.port or 5432, "user": u.username, "password": u.password}
        out: dict[int, str | None] = {}
        with psycopg.connect(**kwargs, dbname=name, autocommit=True, application_name="bench-meter") as conn:
            rows = conn.execute("SELECT pid, datname, backend_type, application_name FROM pg_stat_activity").fetchall()
        for pid, datname, backend_type, app in rows:
            if backend_type == "client backend":
                if datname != name:
                    out[pid] = None
                else:
                    role = (app or "").removeprefix("bench-") or "unnamed"
                    out[pid] = f"postgres:{role}"
            else:
                out[pid] = "postgres:shared"
        return out

    def sample(self) -> dict[str, float]:
        groups = {proc.pid: name for name, proc in self.stack.procs.procs.items()}
        pg = self._postgres_roles()
        stats = _proc_stats()
        totals: dict[str, float] = {"machine": _machine_busy()}
        for pid, (comm, _ppid, pgrp, own, reaped) in stats.items():
            role = self.roles.get(pid)
            if role is None:
                if pgrp in groups:
                    role = groups[pgrp]
                elif comm.startswith("postgres") and pid in pg:
                    role = pg[pid]
                if role is None:
                    continue
                self.roles[pid] = role
            totals[role] = totals.get(role, 0.0) + own + (reaped if role in ("web", "floor", "djangoq") else 0.0)
        return totals


def cpu_delta(before: dict[str, float], after: dict[str, float], loadgen: float = 0.0) -> dict[str, float]:
    """CPU seconds per role between two samples, `stack` their sum (the load generator apart), and `other`: what the
    rest of the machine used meanwhile (other jobs on a shared box)."""
    roles = sorted((set(before) | set(after)) - {"machine"})
    delta = {r: round(after.get(r, 0.0) - before.get(r, 0.0), 3) for r in roles}
    delta = {r: v for r, v in delta.items() if v > 0}
    delta["stack"] = round(sum(delta.values()), 3)
    if loadgen:
        delta["loadgen"] = round(loadgen, 3)
    machine = after.get("machine", 0.0) - before.get("machine", 0.0)
    if machine:
        delta["other"] = round(max(0.0, machine - delta["stack"] - loadgen), 3)
        delta["wall_machine_busy"] = round(machine, 3)
    return delta


def per_alert_ms(delta: dict[str, float], alerts: int) -> dict[str, float]:
    if not alerts:
        return {}
    return {role: round(seconds * 1000 / alerts, 2) for role, seconds in delta.items()}


def rss_kib(pid: int) -> int:
    return _status_field(pid, "VmRSS:")


def thread_count(pid: int) -> int:
    return _status_field(pid, "Threads:")


def _status_field(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name):
                return int(line.split()[1])
    return 0


# --- load generators (each runs in a process of its own) ----------------------------------------------------------


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _client(base: str, paths: list[str], bodies: list[bytes], out: list[tuple[float, int]], deadline: float) -> None:
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
            if resp.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            status = 599
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        out.append((time.perf_counter() - t0, status))
    conn.close()


def _bodies(kind: str, i: int, per: int) -> list[bytes]:
    if kind == "valid":
        return [alert_body(i * 1_000_000 + k) for k in range(per)]
    if kind == "huge":
        return [b'{"comment": "' + b"x" * 1_000_000 + b'"}'] * per
    if kind == "badjson":
        return [b'{"secret": "x", "action": '] * per
    if kind == "badsecret":
        return [alert_body(k).replace(ROUTE_SECRET.encode(), b"wrong-secret") for k in range(per)]
    raise ValueError(kind)


def load(base: str, paths: list[str], concurrency: int, total: int, seconds: float, kind: str, queue: Any) -> None:
    """`concurrency` keep-alive clients POST `total` requests between them (or for `seconds`), each walking the
    routes from its own offset so the routes share the load evenly."""
    per = max(1, total // concurrency)
    results: list[list[tuple[float, int]]] = [[] for _ in range(concurrency)]
    threads = [
        threading.Thread(
            target=_client,
            args=(base, paths[i:] + paths[:i], _bodies(kind, i, per), results[i], time.monotonic() + seconds),
        )
        for i in range(concurrency)
    ]
    cpu0 = _own_cpu()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    queue.put((elapsed, [r for rs in results for r in rs], _own_cpu() - cpu0))


async def _burst_one(host: str, port: int, path: str, body: bytes, gate: asyncio.Event) -> tuple[float, int, float]:
    for _attempt in range(3):
        try:
            reader, writer = await asyncio.open_connection(host, port)
            break
        except OSError:
            await asyncio.sleep(0.5)
    else:
        return 0.0, 598, 0.0
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    await gate.wait()
    sent = time.time()
    t0 = time.perf_counter()
    try:
        writer.write(request)
        await writer.drain()
        line = await reader.readline()
        await reader.read()
        writer.close()
    except OSError:
        return time.perf_counter() - t0, 599, sent
    return time.perf_counter() - t0, int(line.split()[1]) if line else 599, sent


async def _burst(base: str, paths: list[str], timeout: float) -> tuple[float, list[tuple[float, int, float]]]:
    u = urlsplit(base)
    gate = asyncio.Event()
    bodies = [alert_body(i, tag="burst") for i in range(len(paths))]
    # Connections are opened ahead (at most a few hundred at a time, as a listen backlog allows), then every
    # request is written at once: a candle close.
    limit = asyncio.Semaphore(256)

    async def opened(path: str, body: bytes) -> tuple[float, int, float]:
        async with limit:
            conn = asyncio.ensure_future(_burst_one(u.hostname, u.port, path, body, gate))
            await asyncio.sleep(0)
        return await conn

    tasks = [asyncio.create_task(opened(p, b)) for p, b in zip(paths, bodies, strict=True)]
    await asyncio.sleep(min(10.0, 1.0 + len(paths) / 1000))
    t0 = time.perf_counter()
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=timeout)
    return time.perf_counter() - t0, list(results)


def burst(base: str, paths: list[str], timeout: float, queue: Any) -> None:
    """One alert per path, all written at the same moment on connections opened beforehand."""
    cpu0 = _own_cpu()
    elapsed, results = asyncio.run(_burst(base, paths, timeout))
    queue.put((elapsed, results, _own_cpu() - cpu0))


def run_in_process(target: Callable[..., None], *args: object, timeout: float = 900) -> Any:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get(timeout=timeout)
    proc.join(timeout=30)
    return result


def ack_summary(name: str, elapsed: float, results: Iterable[tuple[float, int]]) -> dict[str, object]:
    rows = list(results)
    lat = sorted(r[0] * 1000 for r in rows)
    codes: dict[int, int] = {}
    for row in rows:
        codes[row[1]] = codes.get(row[1], 0) + 1
    return {
        "phase": name,
        "requests": len(lat),
        "rps": round(len(lat) / elapsed, 1) if elapsed else 0,
        "ack_p50_ms": round(pct(lat, 50), 2),
        "ack_p99_ms": round(pct(lat, 99), 2),
        "ack_max_ms": round(lat[-1], 1) if lat else 0,
        "status_codes": {str(k): v for k, v in sorted(codes.items())},
        "5xx": sum(n for c, n in codes.items() if c >= 500),
    }


# --- what the pipeline did, from the database ----------------------------------------------------------------------


def wait_decided(since: datetime, expected: int, timeout: float, *, poll: float = 0.2) -> float | None:
    """Seconds until `expected` alerts received since `since` are decided (None: not within `timeout`)."""
    from django.db import connection

    from audit.models import Alert

    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            decided = Alert.objects.filter(received_at__gte=since, status="decided").count()
            if decided >= expected:
                return time.monotonic() - t0
            time.sleep(poll)
        return None
    finally:
        connection.close()


def outcome(since: datetime) -> dict[str, object]:
    """What became of the alerts received since `since`: decisions by reason, orders by state, and the latencies
    from receipt to the exchange's acceptance of the entry (the order's own history)."""
    from django.db import connection
    from django.db.models import Count, Max, Min

    from audit.models import Alert, Decision, OrderEvent

    alerts = Alert.objects.filter(received_at__gte=since)
    reasons = dict(
        Decision.objects.filter(alert__received_at__gte=since)
        .values_list("reason")
        .annotate(n=Count("id"))
        .values_list("reason", "n")
    )
    accepted = (
        OrderEvent.objects.filter(
            order__decision__alert__received_at__gte=since,
            order__purpose="strategy",
            to_state__in=["open", "filled", "partially_filled"],
        )
        .values("order__decision__alert_id")
        .annotate(at=Min("at"))
        .values_list("at", "order__decision__alert__received_at", "order__decision__alert__claimed_at")
    )
    rows = list(accepted)
    lat = sorted((at - received).total_seconds() * 1000 for at, received, _ in rows)
    wait = sorted((claimed - received).total_seconds() * 1000 for _, received, claimed in rows if claimed)
    service = sorted((at - claimed).total_seconds() * 1000 for at, _, claimed in rows if claimed)
    span = alerts.aggregate(first=Min("received_at"), last=Max("decided_at"))
    result = {
        "stored": alerts.count(),
        "decided": alerts.filter(status="decided").count(),
        "reasons": reasons,
        "orders_accepted": len(lat),
        "received_to_accepted_p50_ms": round(pct(lat, 50), 1),
        "received_to_accepted_p99_ms": round(pct(lat, 99), 1),
        "received_to_accepted_max_ms": round(lat[-1], 1) if lat else 0,
        "received_to_claimed_p50_ms": round(pct(wait, 50), 1),
        "claimed_to_accepted_p50_ms": round(pct(service, 50), 1),
        "claimed_to_accepted_p99_ms": round(pct(service, 99), 1),
        "first_received_to_last_decided_s": round((span["last"] - span["first"]).total_seconds(), 2)
        if span["last"] and span["first"]
        else None,
    }
    connection.close()
    return result


def engine_idle(timeout: float = 120.0) -> bool:
    """Wait until no alert is queued or processing and no account is claimed for reconciliation."""
    from django.db import connection

    from accounts.models import ExchangeAccount
    from audit.models import Alert

    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            busy = Alert.objects.filter(status__in=["queued", "processing"]).exists()
            claimed = ExchangeAccount.objects.filter(reconcile_queued_at__isnull=False).exists()
            if not busy and not claimed:
                return True
            time.sleep(0.25)
        return False
    finally:
        connection.close()


def all_reconciled_since(moment: datetime, timeout: float) -> float | None:
    """Seconds until every connected account was reconciled after `moment` (None: not within `timeout`)."""
    from django.db import connection

    from accounts.models import ExchangeAccount

    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            left = ExchangeAccount.objects.filter(connected=True).exclude(reconciled_at__gte=moment).count()
            if left == 0:
                return time.monotonic() - t0
            time.sleep(0.5)
        return None
    finally:
        connection.close()


def write_result(name: str, result: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path
