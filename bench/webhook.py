"""Webhook benchmark against the real stack: gunicorn, the django-q2 worker, PostgreSQL and the fake Kraken.

    python bench/webhook.py --database-url postgres://postgres:postgres@127.0.0.1:5432/orderrail_bench

The load generator runs in a second process and talks HTTP/1.1 keep-alive over loopback. Every run is bounded in
count and time. Reports, per phase: requests/s, ack latency p50/p99/max, errors; for valid alerts also
alert-received → order-accepted-by-the-fake latency p50/p99 (from the order's history). Then hostile inputs
(1 MB body, bad JSON, bad secret) and a bar-close burst: N alerts for N routes released at once.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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
    queue.put((elapsed, [r for rs in results for r in rs]))


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
    queue.put(asyncio.run(_burst(base, paths)))


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
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "webhook.json")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderrail.settings")
    os.environ["ORDERRAIL_TESTING"] = "1"
    os.environ["BILLING_ENABLED"] = "0"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tests import stack

    _create_database(args.database_url)
    call_command("migrate", verbosity=0)
    from audit.models import Alert, Decision, Fill, Order, OrderEvent

    OrderEvent.objects.all().delete()
    Fill.objects.all().delete()
    Order.objects.all().delete()
    Decision.objects.all().delete()
    Alert.objects.all().delete()
    logs = args.out.parent
    logs.mkdir(parents=True, exist_ok=True)
    load_routes, burst_routes = _seed(args.routes, args.burst, logs / "accounts.json")
    connection.close()

    fake_port = stack.free_port()
    kraken = f"http://127.0.0.1:{fake_port}"
    env = stack.stack_env(args.database_url, kraken, Q_WORKERS=str(args.q_workers), BILLING_ENABLED="0")
    report: dict[str, object] = {
        "when": _now_iso(),
        "cpus": os.cpu_count(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with stack.running() as procs:
        fake = procs.start(
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
        stack.start_worker(procs, env, log=logs / "worker.log")
        time.sleep(2)
        phases = []
        for concurrency in (1, 8, 32):
            since = datetime.now(UTC)
            elapsed, results = run_in_process(
                load, base, load_routes, concurrency, args.requests, args.seconds, "valid"
            )
            phase = Phase(f"valid c={concurrency}", elapsed, results)
            summary = phase.summary()
            summary |= _pipeline_latency(since, timeout=60)
            phases.append(summary)
            print(json.dumps(summary))
        for kind in ("huge", "badjson", "badsecret"):
            elapsed, results = run_in_process(
                load, base, load_routes, 8, 400 if kind != "huge" else 80, args.seconds, kind
            )
            summary = Phase(f"hostile {kind} c=8", elapsed, results).summary()
            phases.append(summary)
            print(json.dumps(summary))
        since = datetime.now(UTC)
        elapsed, results = run_in_process(burst, base, burst_routes)
        summary = Phase(f"burst {len(burst_routes)} routes", elapsed, results).summary()
        summary["all_acked_within_s"] = round(elapsed, 2)
        summary |= _burst_outcome(since, len(burst_routes), timeout=60)
        phases.append(summary)
        print(json.dumps(summary))
        report["phases"] = phases
        del fake
    args.out.write_text(json.dumps(report, indent=2))
    print(f"written to {args.out}")
    return 0


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
        time.sleep(0.5)
    events = OrderEvent.objects.filter(
        order__decision__alert__received_at__gte=since, to_state__in=["open", "filled", "partially_filled"]
    ).values_list("at", "order__decision__alert__received_at")
    lat = sorted((at - received).total_seconds() * 1000 for at, received in events)
    decided = Alert.objects.filter(received_at__gte=since, status="decided").count()
    connection.close()
    return {
        "decided": decided,
        "orders_accepted": len(lat),
        "received_to_accepted_p50_ms": round(_pct(lat, 50), 1),
        "received_to_accepted_p99_ms": round(_pct(lat, 99), 1),
        "mean_ms": round(statistics.fmean(lat), 1) if lat else 0,
    }


def _burst_outcome(since: datetime, expected: int, timeout: float) -> dict[str, object]:
    from django.db.models import Max

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
    last = alerts.aggregate(last=Max("decided_at"), first=Max("received_at"))
    first_received = (
        Alert.objects.filter(received_at__gte=since)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    span = (last["last"] - first_received).total_seconds() if last["last"] and first_received else None
    return {"stored": stored, "expected": expected, "decided": decided, "all_decided_within_s": span}


if __name__ == "__main__":
    sys.exit(main())
