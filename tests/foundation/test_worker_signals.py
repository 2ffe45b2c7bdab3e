"""The two worker processes stop cleanly on a SIGTERM to their process group (what systemd and container runtimes
send).

- `manage.py worker` (django-q2's cluster, for the periodic jobs): django-q2's own `qcluster` does not stop cleanly -
  the group signal kills the sentinel and the workers at once, mid-task, and the main process hangs until SIGKILL
  (orderrail/cluster.py says why).
- `manage.py engine` (alerts and reconciliation, routing/engine.py): takes no new work, lets the jobs under way
  finish for at most ENGINE_STOP_GRACE_SECONDS, and leaves; a job cut off is finished by the next engine.

Each runs in its own process group against the test database and the fake Kraken (its own process); the signal
goes to the whole group.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ

from accounts.models import ExchangeAccount, User
from audit.models import Alert, Decision, Order
from audit.order_states import OrderState
from orderrail.cluster import descendants
from routing.models import Route
from tests import stack
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, account, make_route, payload, trader

__all__ = ["account", "make_route", "trader"]  # fixtures shared with tests/routing, used here

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SYMBOL = "PF_XBTUSD"
WORKERS = 2
TUNING = {
    "BILLING_ENABLED": "0",
    "Q_WORKERS": str(WORKERS),
    "ROUTE_LEASE_SECONDS": "3",
    "SWEEP_STUCK_SECONDS": "2",
    "KRAKEN_CONNECT_TIMEOUT": "0.5",
    "KRAKEN_READ_TIMEOUT": "4",
    "KRAKEN_UWS_ACK_TIMEOUT": "1",
    "ORDER_LOOKUP_WINDOW_SECONDS": "8",  # must exceed connect + read timeout, and the order deadline + clock skew
    "ORDER_DEADLINE_SECONDS": "5",
    "CLOCK_SKEW_SECONDS": "0.5",
}


@dataclass
class Worker:
    """One of the two worker processes: `manage.py worker` (name "django_q") or `manage.py engine` ("worker")."""

    procs: stack.Processes
    kraken: str
    env: dict[str, str]
    logs: Path
    name: str = "django_q"
    starts: int = 0

    def start(self, **extra: str) -> Path:
        self.starts += 1
        log = self.logs / f"{self.name}-{self.starts}.log"
        env = {**self.env, **extra}
        if self.name == "django_q":
            stack.start_django_q(self.procs, env, log=log)
            wait_until(
                lambda: log.exists() and "] running." in log.read_text(errors="replace"),
                f"cluster running (workers, pusher and monitor all started)\n{stack.log_tail(log)}",
            )
            wait_until(lambda: not _queued() and _idle(log), f"start-up work done\n{stack.log_tail(log)}")
        else:
            started = timezone.now()
            stack.start_worker(self.procs, env, log=log)
            wait_until(
                lambda: log.exists() and "engine running" in log.read_text(errors="replace"),
                f"engine running\n{stack.log_tail(log)}",
            )
            # Idle before a test sends anything: a start-up reconciliation still reading the exchange would sign
            # requests after the test's held order, and the fake (as Kraken) refuses a nonce that fell that far
            # behind.
            wait_until(
                lambda: not ExchangeAccount.objects.filter(connected=True).exclude(reconciled_at__gte=started).exists(),
                f"start-up reconciliation done (started {started})\n{_accounts()}\n{stack.log_tail(log)}",
            )
        return log

    @property
    def pgid(self) -> int:
        return self.procs.procs[self.name].pid

    def terminate_group(self) -> tuple[float, int | None]:
        """SIGTERM to the whole process group; returns (seconds until no process of the group is left, exit code)."""
        proc = self.procs.procs[self.name]
        pgid = proc.pid
        sent = time.monotonic()
        os.killpg(pgid, signal.SIGTERM)
        while stack.group_members(pgid):
            proc.poll()  # reap the main process as soon as it exits: a zombie is not a running process
            if time.monotonic() - sent > 20:
                break
            time.sleep(0.02)
        gone = time.monotonic() - sent
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.procs.procs.pop(self.name)
        return gone, code


def _processes(tmp_path: Path, settings: Any, name: str) -> Iterator[Worker]:
    procs = stack.Processes()
    try:
        kraken = stack.start_fake(procs, TRADER_KEY, TRADER_SECRET, log=tmp_path / "fake.log")
        settings.KRAKEN_FUTURES_URL = kraken
        yield Worker(procs, kraken, stack.stack_env(stack.database_url(), kraken, **TUNING), tmp_path, name=name)
    finally:
        if name in procs.procs:
            procs.kill(name)
        procs.stop_all()


@pytest.fixture
def worker(tmp_path: Path, settings: Any) -> Iterator[Worker]:
    """`manage.py worker`: django-q2's cluster."""
    yield from _processes(tmp_path, settings, "django_q")


@pytest.fixture
def engine(tmp_path: Path, settings: Any) -> Iterator[Worker]:
    """`manage.py engine`: alerts and reconciliation."""
    yield from _processes(tmp_path, settings, "worker")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _accounts() -> str:
    return "\n".join(
        f"account {a.pk}: connected={a.connected} queued={a.reconcile_queued_at} reconciled={a.reconciled_at}"
        for a in ExchangeAccount.objects.order_by("pk")
    )


def _queued() -> bool:
    """Tasks waiting for a taker (the ORM broker locks a taken task until now + retry; a killed worker's stays)."""
    return OrmQ.objects.filter(lock__lte=timezone.now()).exists()


def _idle(log: Path) -> bool:
    """Every task a worker of this cluster began has ended (django-q logs each start and each end)."""
    text = log.read_text(errors="replace")
    return text.count(" processing ") == text.count("Processed '") + text.count("Failed '")


def fault(kraken: str, **spec: Any) -> None:
    requests.post(f"{kraken}/_fake/faults", json=spec, timeout=5).raise_for_status()


def send_alert(route: Route) -> int:
    response = Client().post(
        route.webhook_path, data=json.dumps(payload(position="0.1")), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["alert"]


def exchange_entries(kraken: str) -> list[str]:
    """Client ids of the orders the exchange holds that are not stops (the worst-case stop follows every entry)."""
    return [cid for cid, o in stack.fake_orders(kraken).items() if o["kind"] != "stp"]


def test_an_idle_worker_stops_at_once_on_a_group_sigterm(worker: Worker) -> None:
    log = worker.start()
    gone, code = worker.terminate_group()
    print(f"idle worker: every process of the group gone {gone:.2f} s after SIGTERM")
    assert gone < 2.0, stack.log_tail(log)
    assert code == 0
    text = log.read_text()
    assert "stopped: 0 queued task(s) released, 0 worker(s) killed" in text
    assert "Traceback" not in text


def test_a_worker_whose_sentinel_dies_exits_and_leaves_nothing_behind(worker: Worker) -> None:
    """The sentinel killed outright (OOM killer, a stray SIGKILL): the main process notices, takes the orphaned
    pusher, monitor and workers with it and exits non-zero, so the supervisor starts a fresh worker."""
    log = worker.start()
    proc = worker.procs.procs["django_q"]
    (sentinel,) = [pid for pid in descendants(proc.pid) if _parent(pid) == proc.pid]
    members = stack.group_members(proc.pid)
    assert len(members) == 4 + WORKERS  # main, sentinel, pusher, monitor, workers
    os.kill(sentinel, signal.SIGKILL)
    assert proc.wait(timeout=10) == 1, stack.log_tail(log)
    wait_until(lambda: not stack.alive(members), "every process of the group gone", timeout=5)
    worker.procs.procs.pop("django_q")
    assert "the cluster's sentinel died" in log.read_text()


def test_an_idle_engine_stops_at_once_on_a_group_sigterm(engine: Worker) -> None:
    log = engine.start()
    gone, code = engine.terminate_group()
    print(f"idle engine: gone {gone:.2f} s after SIGTERM")
    assert gone < 2.0, stack.log_tail(log)
    assert code == 0
    text = log.read_text()
    assert "engine stopped: 0 job(s) cut off" in text
    assert "Traceback" not in text


def test_an_alert_in_flight_finishes_before_the_engine_stops(engine: Worker, make_route: Callable[..., Route]) -> None:
    """SIGTERM while the order is on its way to the exchange (1.5 s of exchange latency): the engine finishes the
    alert - one decision, one order, filled - and then stops, well within the grace period."""
    route = make_route(sizing_mode="target")
    log = engine.start()
    fault(engine.kraken, endpoint="sendorder", kind="latency", seconds=1.5)
    alert_id = send_alert(route)
    wait_until(lambda: stack.fake_calls(engine.kraken, "sendorder") == 1, "the order to reach the exchange")
    gone, code = engine.terminate_group()
    print(f"engine with an order in flight: gone {gone:.2f} s after SIGTERM")
    assert gone < 5.0 and code == 0, stack.log_tail(log)

    alert = Alert.objects.get(pk=alert_id)
    decision = Decision.objects.get(alert=alert)
    assert decision.reason == "order_sent", decision.message
    (order,) = Order.objects.filter(decision=decision)
    assert order.state == OrderState.FILLED and order.submit_attempts == 1
    assert exchange_entries(engine.kraken) == [order.client_order_id]
    assert Decimal(stack.fake_positions(engine.kraken, TRADER_KEY)[SYMBOL]) == Decimal("0.1")
    assert "engine stopped: 0 job(s) cut off" in log.read_text()


def test_a_job_outlasting_the_grace_is_cut_off_and_finished_by_the_next_engine(
    engine: Worker, make_route: Callable[..., Route]
) -> None:
    """The exchange holds the order 3 s, the grace is 1 s: the engine leaves mid-order (gone in ~1 s), the order
    still lands on the exchange, and the next engine's start-up reconciliation adopts it: one decision, exactly one
    order on the exchange, never a second send."""
    route = make_route(sizing_mode="target")
    log = engine.start(ENGINE_STOP_GRACE_SECONDS="1")
    fault(engine.kraken, endpoint="sendorder", kind="latency", seconds=3)
    alert_id = send_alert(route)
    wait_until(lambda: stack.fake_calls(engine.kraken, "sendorder") == 1, "the order to reach the exchange")
    gone, code = engine.terminate_group()
    print(f"engine cut off mid-order after its grace: gone {gone:.2f} s after SIGTERM")
    assert gone < 3.0, stack.log_tail(log)
    assert code == 0
    assert "engine stopped: 1 job(s) cut off" in log.read_text()
    interrupted = Order.objects.get(decision__alert_id=alert_id)
    assert interrupted.state == OrderState.PENDING_SUBMIT  # really cut off before it knew the outcome

    wait_until(lambda: len(exchange_entries(engine.kraken)) == 1, "the held order to land on the exchange")
    restarted = engine.start()

    def settled() -> bool:
        orders = list(Order.objects.filter(decision__alert_id=alert_id))
        return len(orders) == 1 and orders[0].state == OrderState.FILLED

    took = wait_until(settled, "the restarted engine to settle the order", timeout=45)
    print(f"restarted engine settled the interrupted order in {took:.2f} s")
    assert Decision.objects.filter(alert_id=alert_id).count() == 1
    (order,) = Order.objects.filter(decision__alert_id=alert_id)
    assert exchange_entries(engine.kraken) == [order.client_order_id]
    assert order.submit_attempts == 1, stack.log_tail(restarted)  # adopted by lookup, never sent again
    assert Decimal(stack.fake_positions(engine.kraken, TRADER_KEY)[SYMBOL]) == Decimal("0.1")


def test_alerts_arriving_while_the_engine_stops_wait_in_the_table_for_the_next_one(
    engine: Worker, make_route: Callable[..., Route], trader: User
) -> None:
    """Two routes busy (each order held 2 s by the exchange), another alert arriving as the stop begins: the
    stopping engine finishes the two in hand and takes nothing new; the queued alert stays in the alert table (the
    queue) and the next engine decides it. One exchange account (API key) per route, as traders have."""
    routes = [
        make_route(
            sizing_mode="target", name=f"r{i}", symbol=symbol, exchange_account=funded_account(engine, trader, i)
        )
        for i, symbol in enumerate(["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"])
    ]
    engine.start()
    fault(engine.kraken, endpoint="sendorder", kind="latency", seconds=2, count=2)
    first = [send_alert(route) for route in routes[:2]]
    wait_until(lambda: stack.fake_calls(engine.kraken, "sendorder") == 2, "both routes busy on the exchange")
    log = engine.logs / f"{engine.name}-{engine.starts}.log"
    os.killpg(engine.pgid, signal.SIGTERM)
    wait_until(
        lambda: "finishing the jobs under way" in log.read_text(errors="replace"), "the engine to stop taking work"
    )
    queued = [send_alert(routes[2])]
    proc = engine.procs.procs[engine.name]
    assert proc.wait(timeout=10) == 0
    engine.procs.procs.pop(engine.name)
    decided = {d.alert_id: (d.reason, d.message) for d in Decision.objects.filter(alert_id__in=first)}
    assert sorted(decided) == sorted(first) and all(r == "order_sent" for r, _ in decided.values()), decided
    assert not Decision.objects.filter(alert_id__in=queued).exists()
    assert Alert.objects.get(pk=queued[0]).status == Alert.Status.QUEUED
    engine.start()
    wait_until(lambda: Decision.objects.filter(alert_id__in=queued).count() == 1, "the queued alert decided", 20)
    assert len(exchange_entries(engine.kraken)) == 3


def funded_account(worker: Worker, owner: User, n: int) -> ExchangeAccount:
    """An exchange account with a key of its own, on the fake too."""
    key, secret = f"worker-test-key-{n}", base64.b64encode(f"worker-test-secret-{n}".encode() * 3).decode()
    requests.post(
        f"{worker.kraken}/_fake/accounts", json={"key": key, "secret": secret, "collateral": "100000"}, timeout=5
    ).raise_for_status()
    account = ExchangeAccount(owner=owner, label=f"Sub-account {n}", mode=ExchangeAccount.Mode.LIVE)
    account.set_credentials(key, secret)
    account.save()
    return account
