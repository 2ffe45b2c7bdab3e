"""Serving-shape benchmark (issue 10, hole 3): does the webhook still answer within TradingView's 3 s while slow
clients and a login flood hit the same server? Real gunicorn on PostgreSQL, the load generator in this process.

    python bench/serving.py --database-url postgres://postgres:postgres@127.0.0.1:5432/orderrail_bench_serving

Shapes (each started fresh, one after the other):
  sync4     gunicorn sync x 4, one pool (the shape the hostile-input run attacked)
  gthread   gunicorn.conf.py, one pool (GUNICORN_POOL=all: gthread 2 x 8)
  pools     gunicorn.conf.py twice: the webhook pool gets /hooks/, the web pool (niced) everything else - what the
            proxy's `location /hooks/` does in production

Phases per shape (valid alerts are sent one at a time the whole phase long; their ack latency is the figure):
  baseline     nothing else
  slow-5       5 connections announce a 400-byte body and send a byte every 0.5 s
  login-32     32 threads POST the login form with a wrong password for the admin, back to back (one client IP:
               allauth's throttle trips after 10 failures a minute - what a single attacker meets)
  flood-32     the same with a new e-mail and a new client IP (X-Forwarded-For, one trusted proxy) each time: every
               attempt hashes a password - an attacker with many addresses; the shape alone must hold
No worker runs: acknowledgement is the web's job alone (bench/run.py measures the pipeline).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUTE_SECRET = "bench-serving-route-secret-0123456789"
ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "bench-admin-password-123"


def _alert(n: int) -> bytes:
    from datetime import UTC, datetime

    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"secret": ROUTE_SECRET, "action": "buy", "contracts": "0.001", "time": when, "id": f"s{os.getpid()}-{n}"}
    return json.dumps(body).encode()


def measure_acks(base: str, path: str, seconds: float, counter: list[int]) -> list[float]:
    """Valid alerts one after another for `seconds`; each ack latency in ms (a failure counts as 10 s)."""
    u = urlsplit(base)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counter[0] += 1
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            conn.request("POST", path, body=_alert(counter[0]), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            ok = response.status == 202
        except (OSError, http.client.HTTPException):
            ok = False
        latencies.append((time.perf_counter() - started) * 1000 if ok else 10_000.0)
        time.sleep(0.05)
    return latencies


def slow_clients(base: str, path: str, n: int, stop: threading.Event) -> None:
    u = urlsplit(base)
    socks = []
    for _ in range(n):
        s = socket.create_connection((u.hostname, u.port), timeout=5)
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 400\r\n\r\n{{".encode())
        socks.append(s)
    while not stop.wait(0.5):
        for s in socks:
            with contextlib.suppress(OSError):
                s.sendall(b" ")
    for s in socks:
        s.close()


def login_flood(base: str, threads: int, stop: threading.Event, distinct: bool, tally: dict[str, int]) -> None:
    u = urlsplit(base)
    lock = threading.Lock()

    def one(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            ip = f"10.{worker}.{n // 250 % 250}.{n % 250 + 1}"
            try:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                headers = {"X-Forwarded-For": ip} if distinct else {}
                conn.request("GET", "/accounts/login/", headers=headers)
                page = conn.getresponse()
                html = page.read().decode(errors="replace")
                cookie = page.getheader("Set-Cookie", "").split(";")[0]
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
                email = f"nobody{worker}-{n}@bench.example" if distinct else ADMIN_EMAIL
                form = f"csrfmiddlewaretoken={token.group(1) if token else ''}&login={email}&password=wrong-{n}"
                conn.request(
                    "POST",
                    "/accounts/login/",
                    body=form,
                    headers={
                        **headers,
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Cookie": cookie,
                        "Referer": base + "/accounts/login/",
                    },
                )
                answer = conn.getresponse()
                answer.read()
                conn.close()
                key = str(answer.status)
            except (OSError, http.client.HTTPException) as exc:
                key = type(exc).__name__
            with lock:
                tally[key] = tally.get(key, 0) + 1

    workers = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=40)


def summary(name: str, lat: list[float], extra: dict[str, object] | None = None) -> dict[str, object]:
    lat = sorted(lat)

    def pct(p: float) -> float:
        return round(lat[max(0, min(len(lat) - 1, round(p / 100 * (len(lat) - 1))))], 1) if lat else 0.0

    out: dict[str, object] = {
        "phase": name,
        "alerts": len(lat),
        "ack_p50_ms": pct(50),
        "ack_p99_ms": pct(99),
        "ack_max_ms": round(lat[-1], 1) if lat else 0,
        "over_3s": sum(1 for v in lat if v > 3000),
        "mean_ms": round(statistics.fmean(lat), 1) if lat else 0,
    }
    out.update(extra or {})
    return out


def run_shape(shape: str, env: dict[str, str], seconds: float, logs: Path) -> list[dict[str, object]]:
    from tests import stack

    results = []
    with stack.running() as procs:
        gunicorn = [sys.executable, "-m", "gunicorn"]
        if shape == "sync4":
            hook = web = stack.start_web(procs, env, workers=4, log=logs / "web-sync4.log")
        else:
            pools = [("web", "all")] if shape == "gthread" else [("hook", "webhook"), ("web", "web")]
            urls = {}
            for name, pool in pools:
                port = stack.free_port()
                procs.start(
                    name,
                    [*gunicorn, "-c", "gunicorn.conf.py"],
                    {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_POOL": pool},
                    logs / f"{name}-{shape}.log",
                )
                urls[name] = f"http://127.0.0.1:{port}"
                stack.wait_http(urls[name] + "/healthz")
            web = urls["web"]
            hook = urls.get("hook", web)
        counter = [0]
        measure_acks(hook, "/hooks/bench-serving", 1.0, counter)  # warm up
        results.append(summary(f"{shape} baseline", measure_acks(hook, "/hooks/bench-serving", seconds, counter)))

        stop = threading.Event()
        slow = threading.Thread(target=slow_clients, args=(hook, "/hooks/bench-serving", 5, stop), daemon=True)
        slow.start()
        time.sleep(1.0)
        lat = measure_acks(hook, "/hooks/bench-serving", seconds, counter)
        stop.set()
        slow.join(timeout=10)
        results.append(summary(f"{shape} slow-5", lat))

        for name, distinct in (("login-32", False), ("flood-32", True)):
            _clear_throttles()
            stop = threading.Event()
            tally: dict[str, int] = {}
            flood = threading.Thread(target=login_flood, args=(web, 32, stop, distinct, tally), daemon=True)
            flood.start()
            time.sleep(1.0)
            lat = measure_acks(hook, "/hooks/bench-serving", seconds, counter)
            stop.set()
            flood.join(timeout=60)
            results.append(summary(f"{shape} {name}", lat, {"login_answers": tally}))
        for row in results:
            print(json.dumps(row), flush=True)
    return results


def _clear_throttles() -> None:
    from django.core.cache import cache

    cache.clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres:postgres@127.0.0.1:5432/orderrail_bench_serving")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--shapes", default="sync4,gthread,pools")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serving.json")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderrail.settings")
    os.environ["ORDERRAIL_TESTING"] = "1"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.harness import create_database as _create_database
    from tests import stack

    _create_database(args.database_url)
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    _seed()
    connection.close()
    logs = args.out.parent
    logs.mkdir(parents=True, exist_ok=True)
    env = stack.stack_env(args.database_url, "http://127.0.0.1:9", TRUSTED_PROXY_COUNT="1", BILLING_ENABLED="0")
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    rows = []
    for shape in args.shapes.split(","):
        rows += run_shape(shape, env, args.seconds, logs)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    report = {"args": vars(args) | {"out": str(args.out)}, "loadavg_before": load_before, "loadavg_after": load_after}
    args.out.write_text(json.dumps(report | {"phases": rows}, indent=2, default=str))
    print(f"written to {args.out} (load average before {load_before}, after {load_after})")
    return 0


def _seed() -> None:
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from audit.models import Alert, Decision
    from routing.models import Route

    Decision.objects.filter(route__token="bench-serving").delete()
    Alert.objects.filter(route__token="bench-serving").delete()
    admin, _ = User.objects.get_or_create(
        email=ADMIN_EMAIL, defaults={"username": "bench-admin", "is_staff": True, "is_superuser": True}
    )
    admin.set_password(ADMIN_PASSWORD)
    admin.save()
    EmailAddress.objects.get_or_create(user=admin, email=ADMIN_EMAIL, defaults={"verified": True, "primary": True})
    if not Route.objects.filter(token="bench-serving").exists():
        route = Route(
            owner=admin, name="bench serving", symbol="PF_XBTUSD", sizing_mode="contracts", token="bench-serving"
        )
        route.set_secret(ROUTE_SECRET)
        route.save()


if __name__ == "__main__":
    sys.exit(main())
