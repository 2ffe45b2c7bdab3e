"""The real processes: gunicorn serving the webhook, `manage.py qcluster` deciding, the fake Kraken as its own
server process - on the test database (SQLite file, or PostgreSQL in CI)."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import pytest
import requests
from django.db import connection

from audit.models import Alert, Decision, Order
from audit.order_states import OrderState
from audit.reasons import Reason
from tests import stack
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def real_stack(settings):
    yield from _real_stack(settings)


@pytest.fixture
def slow_polling_stack(settings):
    """The same, with an engine that polls only every 60 s: only the webhook's notification can wake it sooner."""
    yield from _real_stack(settings, ENGINE_POLL_SECONDS="60")


def _real_stack(settings, **engine_env: str):
    with stack.running() as procs:
        port = stack.free_port()
        kraken = f"http://127.0.0.1:{port}"
        procs.start(
            "fake",
            [
                sys.executable,
                "manage.py",
                "fake_kraken",
                "--port",
                str(port),
                "--key",
                TRADER_KEY,
                "--secret",
                TRADER_SECRET,
            ],
            stack.stack_env(stack.database_url(), kraken),
        )
        stack.wait_http(kraken + "/derivatives/api/v3/instruments")
        env = stack.stack_env(stack.database_url(), kraken, BILLING_ENABLED="0", Q_WORKERS="2", **engine_env)
        web = stack.start_web(procs, env, workers=2)
        stack.start_worker(procs, env)
        settings.KRAKEN_FUTURES_URL = kraken
        yield web, kraken, procs


def wait_decided(alert_ids: list[int], timeout: float = 30.0) -> None:
    """Until each alert has its decision and none of its orders is still waiting to be submitted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        decided = Alert.objects.filter(pk__in=alert_ids, status=Alert.Status.DECIDED).count() == len(alert_ids)
        pending = Order.objects.filter(decision__alert_id__in=alert_ids, state=OrderState.PENDING_SUBMIT).exists()
        if decided and not pending:
            return
        time.sleep(0.1)
    raise AssertionError(f"alerts not decided within {timeout} s")


def fake_calls(kraken: str, endpoint: str) -> int:
    return requests.get(f"{kraken}/_fake/calls", params={"endpoint": endpoint}, timeout=5).json()["calls"]


def test_an_alert_becomes_one_order_through_the_real_processes(real_stack, make_route):
    web, kraken, _ = real_stack
    route = make_route(sizing_mode="target")
    response = requests.post(
        web + route.webhook_path,
        data=json.dumps(payload(position="0.1")),
        timeout=5,
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 202
    alert_id = response.json()["alert"]
    wait_decided([alert_id])
    decision = Decision.objects.get(alert_id=alert_id)
    assert decision.reason == Reason.ORDER_SENT, decision.message
    (order,) = Order.objects.filter(decision=decision)
    assert order.state == OrderState.FILLED and order.size == Decimal("0.1")
    assert fake_calls(kraken, "sendorder") == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no notifications: the engine polls")
def test_the_webhooks_insert_wakes_the_engine_at_once(slow_polling_stack, make_route):
    """The alert's INSERT carries its notification (pg_notify in the same statement): an idle engine that would
    otherwise look again only after 60 s decides it within seconds."""
    web, _, _ = slow_polling_stack
    route = make_route(sizing_mode="target")
    decided = []
    for n, position in enumerate(("0.1", "0")):
        if n:
            # The engine idle again: the first alert's jobs have finished and woken it for the last time.
            time.sleep(2.0)
        started = time.monotonic()
        response = requests.post(web + route.webhook_path, data=json.dumps(payload(position=position)), timeout=5)
        assert response.status_code == 202, response.text
        wait_decided([response.json()["alert"]], timeout=60.0)
        decided.append(time.monotonic() - started)
    assert decided[1] < 5.0, f"decided {decided[1]:.1f} s after its POST: the engine was not woken"


def test_fifty_concurrent_identical_copies_give_one_alert_and_one_order(real_stack, make_route):
    web, kraken, _ = real_stack
    route = make_route(sizing_mode="target")
    body = json.dumps(payload(position="0.1"))
    barrier = Barrier(50)

    def fire(_: int) -> tuple[int, dict]:
        barrier.wait()
        r = requests.post(web + route.webhook_path, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        return r.status_code, r.json()

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(fire, range(50)))
    codes = sorted(code for code, _ in answers)
    assert codes.count(202) == 1 and codes.count(200) == 49, codes
    assert len({a["alert"] for _, a in answers}) == 1
    wait_decided([answers[0][1]["alert"]])
    assert Alert.objects.count() == 1
    assert Order.objects.count() == 1
    assert fake_calls(kraken, "sendorder") == 1
    assert Alert.objects.get().duplicates == 49


def test_a_thousand_concurrent_identical_alerts_give_one_order_and_no_5xx(real_stack, make_route):
    web, kraken, _ = real_stack
    route = make_route(sizing_mode="target")
    body = json.dumps(payload(position="0.1", id="storm"))
    threads = 100
    barrier = Barrier(threads)

    def fire(_: int) -> list[tuple[int, int]]:
        session = requests.Session()
        barrier.wait()
        out = []
        for _ in range(10):
            r = session.post(
                web + route.webhook_path, data=body, headers={"Content-Type": "application/json"}, timeout=30
            )
            out.append((r.status_code, r.json()["alert"]))
        return out

    with ThreadPoolExecutor(threads) as pool:
        answers = [a for batch in pool.map(fire, range(threads)) for a in batch]
    codes = [code for code, _ in answers]
    assert len(answers) == 1000
    assert codes.count(202) == 1 and codes.count(200) == 999, sorted(set(codes))
    assert not [c for c in codes if c >= 500]
    assert len({alert for _, alert in answers}) == 1
    wait_decided([answers[0][1]])
    assert Alert.objects.count() == 1 and Decision.objects.count() == 1
    assert fake_calls(kraken, "sendorder") == 1
