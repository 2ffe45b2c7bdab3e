"""Webhook -> order-accepted latency on each transport (REST v3 and the Unified WebSocket), the same real stack:
gunicorn, the django-q2 worker (qcluster), the fake Kraken as its own process with every request delayed by its
latency switch (a "*" latency fault, default 50 ms; on the Unified WebSocket it delays every order call).

    .venv/bin/python bench/transports.py --alerts 40 --latency 0.05          # both transports, one after the other

One route, target mode, alerts one at a time (each waits for its decision), alternating 0.1 / 0 so every alert is an
order. Reports received -> accepted (from the order's own history) p50/p90/max per transport. Each transport gets a
fresh SQLite database and a fresh fake. Bounded in count and time; loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY, SECRET = "bench-transport-key", "YmVuY2gtdHJhbnNwb3J0LXNlY3JldC1vbmx5LWZvci10aGUtbG9jYWwtZmFrZQ=="
WS_KEY, WS_SECRET = "bench-transport-ws-key", "YmVuY2gtdHJhbnNwb3J0LXdzLXNlY3JldC1vbmx5LWZvci10aGUtZmFrZQ=="
ROUTE_SECRET = "bench-transport-route-secret"


def one(transport: str, alerts: int, latency: float) -> dict[str, object]:
    db = Path(tempfile.mkdtemp(prefix=f"orderrail-bench-{transport}-")) / "db.sqlite3"
    os.environ.update(
        {"DATABASE_URL": f"sqlite:///{db}", "DJANGO_SETTINGS_MODULE": "orderrail.settings", "ORDERRAIL_TESTING": "1"}
    )
    import django

    django.setup()
    import requests
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import ExchangeAccount, User
    from audit.models import Alert, OrderEvent
    from routing.models import Route
    from tests import stack

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(username="bench", email="bench@example.com", password="x" * 12)
    account = ExchangeAccount(owner=user, label="bench", transport=transport)
    account.set_credentials(KEY, SECRET)
    account.set_ws_credentials(WS_KEY, WS_SECRET)
    account.save()
    route = Route(
        owner=user,
        name="bench",
        exchange_account=account,
        symbol="PF_XBTUSD",
        tv_alias="XBTUSD",
        sizing_mode="target",
        max_alert_age_seconds=300,
    )
    route.set_secret(ROUTE_SECRET)
    route.save()
    connection.close()

    fake_port, uws_port = stack.free_port(), stack.free_port()
    kraken = f"http://127.0.0.1:{fake_port}"
    env = stack.stack_env(
        f"sqlite:///{db}",
        kraken,
        BILLING_ENABLED="0",
        KRAKEN_SPOT_URL=kraken,
        KRAKEN_UWS_PRIVATE_URL=f"ws://127.0.0.1:{uws_port}/v2/private",
        KRAKEN_UWS_PUBLIC_URL=f"ws://127.0.0.1:{uws_port}/v2/public",
    )
    accounts = db.parent / "accounts.json"
    accounts.write_text(
        json.dumps(
            [{"key": KEY, "secret": SECRET, "collateral": "1000000", "spot_key": WS_KEY, "spot_secret": WS_SECRET}]
        )
    )
    latencies: list[float] = []
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
                str(accounts),
                "--uws-port",
                str(uws_port),
            ],
            env,
            db.parent / "fake.log",
        )
        stack.wait_http(kraken + "/_fake/health")
        requests.post(
            f"{kraken}/_fake/faults",
            json={"endpoint": "*", "kind": "latency", "count": 10**9, "seconds": latency},
            timeout=5,
        ).raise_for_status()
        web = stack.start_web(procs, env, workers=2, log=db.parent / "web.log")
        stack.start_worker(procs, env, log=db.parent / "worker.log")
        for i in range(alerts + 1):  # the first warms the worker's connection/session up and is not counted
            body = {
                "secret": ROUTE_SECRET,
                "action": "buy" if i % 2 == 0 else "sell",
                "position": "0.1" if i % 2 == 0 else "0",
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "id": f"t{i}",
            }
            answer = requests.post(f"{web}/hooks/{route.token}", json=body, timeout=10)
            alert_id = answer.json()["alert"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                alert = Alert.objects.get(pk=alert_id)
                if alert.status == "decided":
                    break
                time.sleep(0.02)
            events: list = []
            while time.monotonic() < deadline and not events:  # the decision commits before its order is sent
                events = list(
                    OrderEvent.objects.filter(
                        order__decision__alert_id=alert_id, to_state__in=["open", "filled", "partially_filled"]
                    ).values_list("at")
                )
                time.sleep(0.01)
            if not events:
                print(f"alert {alert_id}: no order ({getattr(alert, 'decision', None) and alert.decision.message})")
            if i and events:
                latencies.append((min(e[0] for e in events) - alert.received_at).total_seconds() * 1000)
            connection.close()
            time.sleep(1.1)  # the route's orders-per-hour and freshness are not what is measured here
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return {
        "transport": transport,
        "orders": len(latencies),
        "latency_ms": latency * 1000,
        "received_to_accepted_p50_ms": round(pick(0.5), 1),
        "p90_ms": round(pick(0.9), 1),
        "max_ms": round(latencies[-1], 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=["rest", "uws", "both"], default="both")
    parser.add_argument("--alerts", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.05, help="the fake's latency switch, seconds")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(one(args.only, args.alerts, args.latency)), flush=True)
        return 0
    for transport in ("rest", "uws") if args.transport == "both" else (args.transport,):
        # A process per transport: each needs its own database settings at django.setup().
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--only",
                transport,
                "--alerts",
                str(args.alerts),
                "--latency",
                str(args.latency),
            ],
            check=True,
            cwd=ROOT,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
