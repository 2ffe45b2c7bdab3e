"""`manage.py worker` stops cleanly on a SIGTERM to its process group (what systemd and container runtimes send).

django-q2's own `qcluster` does not: the group signal kills the sentinel and the workers at once, mid-task, and the
main process hangs until SIGKILL (orderrail/cluster.py says why). Here the real worker runs in its own process
group against the test database and the fake Kraken (its own process); the signal goes to the whole group.
"""

from __future__ import annotations

import base64
import json
import os
import signal
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
    procs: stack.Processes
    kraken: str
    env: dict[str, str]
    logs: Path
    starts: int = 0

    def start(self, **extra: str) -> Path:
        self.starts += 1
        log = self.logs / f"worker-{self.starts}.log"
        stack.start_worker(self.procs, {**self.env, **extra}, log=log)
        wait_until(
            lambda: log.exists() and log.read_text(errors="replace").count("ready for work") >= WORKERS,
            f"workers ready\n{stack.log_tail(log)}",
        )
        time.sleep(0.5)  # each worker enqueues its start-up reconciliation when it is ready
        # Idle before a test sends anything: a start-up reconciliation still reading the exchange would sign
        # requests after the test's held order, and the fake (as Kraken) refuses a nonce that fell that far behind.
        wait_until(lambda: not _queued() and _idle(log), f"start-up work done\n{stack.log_tail(log)}")
        return log

    @property
    def pgid(self) -> int:
        return self.procs.procs["worker"].pid

    def terminate_group(self) -> tuple[float, int | None]:
        """SIGTERM to the whole process group; returns (seconds until no process of the group is left, exit code)."""
        proc = self.procs.procs["worker"]
        pgid = proc.pid
        sent = time.monotonic()
        os.killpg(pgid, signal.SIGTERM)
        while stack.group_members(pgid):
            proc.poll()  # reap the main process as soon as it exits: a zombie is not a running process
            if time.monotonic() - sent > 20:
                break
            time.sleep(0.02)
        gone = time.monotonic() - sent
        code = proc.poll()
        self.procs.procs.pop("worker")
        return gone, code


@pytest.fixture
def worker(tmp_path: Path, settings: Any) -> Iterator[Worker]:
    procs = stack.Processes()
    try:
        kraken = stack.start_fake(procs, TRADER_KEY, TRADER_SECRET, log=tmp_path / "fake.log")
        settings.KRAKEN_FUTURES_URL = kraken
        yield Worker(procs, kraken, stack.stack_env(stack.database_url(), kraken, **TUNING), tmp_path)
    finally:
        if "worker" in procs.procs:
            procs.kill("worker")
        procs.stop_all()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


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
    proc = worker.procs.procs["worker"]
    (sentinel,) = [pid for pid in descendants(proc.pid) if _parent(pid) == proc.pid]
    members = stack.group_members(proc.pid)
    assert len(members) == 4 + WORKERS  # main, sentinel, pusher, monitor, workers
    os.kill(sentinel, signal.SIGKILL)
    assert proc.wait(timeout=10) == 1, stack.log_tail(log)
    wait_until(lambda: not stack.alive(members), "every process of the group gone", timeout=5)
    worker.procs.procs.pop("worker")
    assert "the cluster's sentinel died" in log.read_text()


def test_an_alert_in_flight_finishes_before_the_worker_stops(worker: Worker, make_route: Callable[..., Route]) -> None:
    """SIGTERM while the order is on its way to the exchange (1.5 s of exchange latency): the worker finishes the
    alert - one decision, one order, filled - and then stops, well within the grace period."""
    route = make_route(sizing_mode="target")
    log = worker.start()
    fault(worker.kraken, endpoint="sendorder", kind="latency", seconds=1.5)
    alert_id = send_alert(route)
    wait_until(lambda: stack.fake_calls(worker.kraken, "sendorder") == 1, "the order to reach the exchange")
    gone, code = worker.terminate_group()
    print(f"worker with an order in flight: every process gone {gone:.2f} s after SIGTERM")
    assert gone < 5.0 and code == 0, stack.log_tail(log)

    alert = Alert.objects.get(pk=alert_id)
    decision = Decision.objects.get(alert=alert)
    assert decision.reason == "order_sent", decision.message
    (order,) = Order.objects.filter(decision=decision)
    assert order.state == OrderState.FILLED and order.submit_attempts == 1
    assert exchange_entries(worker.kraken) == [order.client_order_id]
    assert Decimal(stack.fake_positions(worker.kraken, TRADER_KEY)[SYMBOL]) == Decimal("0.1")
    assert "0 worker(s) killed" in log.read_text()


def test_a_task_outlasting_the_grace_is_killed_and_recovered_by_the_next_worker(
    worker: Worker, make_route: Callable[..., Route]
) -> None:
    """The exchange holds the order 3 s, the grace is 1 s: the busy worker is killed mid-order (every process gone
    in ~1 s), the order still lands on the exchange, and the restarted worker's reconciliation adopts it: one
    decision, exactly one order on the exchange, never a second send."""
    route = make_route(sizing_mode="target")
    log = worker.start(WORKER_STOP_GRACE_SECONDS="1")
    fault(worker.kraken, endpoint="sendorder", kind="latency", seconds=3)
    alert_id = send_alert(route)
    wait_until(lambda: stack.fake_calls(worker.kraken, "sendorder") == 1, "the order to reach the exchange")
    gone, code = worker.terminate_group()
    print(f"worker killed mid-order after its grace: every process gone {gone:.2f} s after SIGTERM")
    assert gone < 3.0, stack.log_tail(log)
    assert code == 0
    assert "1 worker(s) killed" in log.read_text()
    interrupted = Order.objects.get(decision__alert_id=alert_id)
    assert interrupted.state == OrderState.PENDING_SUBMIT  # really cut off before it knew the outcome

    wait_until(lambda: len(exchange_entries(worker.kraken)) == 1, "the held order to land on the exchange")
    restarted = worker.start()

    def settled() -> bool:
        orders = list(Order.objects.filter(decision__alert_id=alert_id))
        return len(orders) == 1 and orders[0].state == OrderState.FILLED

    took = wait_until(settled, "the restarted worker to settle the order", timeout=45)
    print(f"restarted worker settled the interrupted order in {took:.2f} s")
    assert Decision.objects.filter(alert_id=alert_id).count() == 1
    (order,) = Order.objects.filter(decision__alert_id=alert_id)
    assert exchange_entries(worker.kraken) == [order.client_order_id]
    assert order.submit_attempts == 1, stack.log_tail(restarted)  # adopted by lookup, never sent again
    assert Decimal(stack.fake_positions(worker.kraken, TRADER_KEY)[SYMBOL]) == Decimal("0.1")


def test_queued_tasks_a_stopping_worker_had_taken_are_handed_back(
    worker: Worker, make_route: Callable[..., Route], trader: User
) -> None:
    """Both workers busy (two routes, each order held 2 s by the exchange), another alert queued behind them: the
    stop finishes the two in hand and hands the queued one back to the queue at once; the next worker decides it.
    One exchange account (API key) per route, as traders have: two workers signing with one key while the exchange
    holds a request 2 s would trip Kraken's nonce window, which is not what this test is about."""
    routes = [
        make_route(
            sizing_mode="target", name=f"r{i}", symbol=symbol, exchange_account=funded_account(worker, trader, i)
        )
        for i, symbol in enumerate(["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"])
    ]
    worker.start()
    fault(worker.kraken, endpoint="sendorder", kind="latency", seconds=2, count=2)
    first = [send_alert(route) for route in routes[:2]]
    wait_until(lambda: stack.fake_calls(worker.kraken, "sendorder") == 2, "both workers busy on the exchange")
    queued = [send_alert(routes[2])]
    time.sleep(0.5)  # the pusher takes the queued alert into its in-memory queue
    gone, code = worker.terminate_group()
    print(f"two alerts in hand, one queued: every process gone {gone:.2f} s after SIGTERM")
    assert gone < 5.0 and code == 0
    decided = {d.alert_id: (d.reason, d.message) for d in Decision.objects.filter(alert_id__in=first)}
    assert sorted(decided) == sorted(first) and all(r == "order_sent" for r, _ in decided.values()), decided
    assert not Decision.objects.filter(alert_id__in=queued).exists()
    assert "1 queued task(s) released" in worker.logs.joinpath(f"worker-{worker.starts}.log").read_text()
    worker.start()
    wait_until(lambda: Decision.objects.filter(alert_id__in=queued).count() == 1, "the queued alert decided", 20)
    assert len(exchange_entries(worker.kraken)) == 3


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
