"""Issue 7's scenarios that are about processes, through the real ones: the fake Kraken as its own process, gunicorn
serving the webhook, and the engine (`manage.py engine`), against the test database.

- Item 16: a rolling deploy that rotates SECRET_KEY - the web already on the new key, the engine still on the old
  one - must not lose or stale an acked alert.
- Item 19: a holder that lost its route lease cannot send: an engine stalled past its lease while another engine
  took the route places nothing when it wakes.

REST only: item 16 is about processes, not transports, and item 19's lever is a slow REST read on the fake.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.utils import timezone

from accounts.models import ExchangeAccount
from audit.models import Alert, Decision, Order
from audit.order_states import OrderState
from audit.reasons import Reason
from routing.models import Route
from tests import stack
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SYMBOL = "PF_XBTUSD"
WAIT = 60.0


@pytest.fixture
def transport() -> str:
    """Processes, not transports, are the point here (and item 19's lever is a REST read): one run, on REST."""
    return "rest"


@dataclass
class Stack:
    procs: stack.Processes
    logs: Path
    kraken: str
    env: dict[str, str]

    def logs_text(self) -> str:
        return "\n".join(stack.log_tail(p, 40) for p in sorted(self.logs.glob("*.log")))

    def position(self) -> Decimal:
        return Decimal(stack.fake_positions(self.kraken, TRADER_KEY).get(SYMBOL, "0"))

    def resting_stops(self) -> list[dict[str, Any]]:
        orders = requests.get(f"{self.kraken}/_fake/state", timeout=10).json()["engine"]["orders"].values()
        return [
            o for o in orders if o.get("stop_price") and o["state"] in ("trigger_placed", "open", "partially_filled")
        ]

    def add_fault(self, **fault: Any) -> None:
        requests.post(f"{self.kraken}/_fake/faults", json=fault, timeout=5).raise_for_status()

    def post(self, web: str, route: Route, **fields: Any) -> int:
        response = requests.post(
            web + route.webhook_path,
            data=json.dumps(payload(**fields)),
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        assert response.status_code == 202, response.text
        return int(response.json()["alert"])


def make_stack(tmp_path: Path, settings: Any, fake: Any = None, **tuning: str) -> Iterator[Stack]:
    """The fake as its own process, or `fake` (served over HTTP from the test process) when the test must reach
    into it."""
    procs = stack.Processes()
    try:
        kraken = (
            fake.url
            if fake is not None
            else stack.start_fake(procs, TRADER_KEY, TRADER_SECRET, log=tmp_path / "fake.log")
        )
        env = stack.stack_env(stack.database_url(), kraken, BILLING_ENABLED="0", **tuning)
        settings.KRAKEN_FUTURES_URL = kraken
        yield Stack(procs=procs, logs=tmp_path, kraken=kraken, env=env)
    finally:
        procs.stop_all()


def wait_for(condition: Callable[[], bool], what: str, describe: Callable[[], str], timeout: float = WAIT) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{describe()}")


def reconciled_since(moment: Any) -> Callable[[], bool]:
    """Every account reconciled after `moment`: an engine started then has run its start-up reconciliation (so it is
    up, and that pass is out of the way of what the test measures)."""
    return lambda: not ExchangeAccount.objects.filter(connected=True).exclude(reconciled_at__gte=moment).exists()


def dump(s: Stack) -> str:
    lines = ["=== database ==="]
    for a in Alert.objects.order_by("pk"):
        lines.append(f"Alert {a.pk}: {a.status} received={a.received_at:%T.%f} decided={a.decided_at}")
    for d in Decision.objects.order_by("pk"):
        lines.append(f"Decision {d.pk} (alert {d.alert_id}): {d.action}/{d.reason} {d.message!r}")
    for o in Order.objects.order_by("pk"):
        lines.append(
            f"Order {o.pk} {o.client_order_id} {o.purpose} {o.side} {o.size}: {o.state} attempts={o.submit_attempts}"
        )
    lines.append(f"=== fake === positions {stack.fake_positions(s.kraken, TRADER_KEY)}")
    return "\n".join(lines) + "\n=== logs ===\n" + s.logs_text()


def _nice(pid: int) -> int:
    # /proc/<pid>/stat: the 19th field is the nice value (the command name, field 2, is in parentheses).
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


# --- 16. SECRET_KEY rotation -------------------------------------------------------------------------------------


@pytest.fixture
def rolling_stack(tmp_path: Path, settings: Any) -> Iterator[Stack]:
    yield from make_stack(tmp_path, settings)


def test_an_alert_acked_by_a_web_on_the_new_secret_key_is_decided_promptly_by_an_engine_on_the_old_one(
    rolling_stack: Stack, make_route: Callable[..., Route], tmp_path: Path
) -> None:
    """Item 16: "Rotating SECRET_KEY (web and worker restarted at different moments, as in a rolling deploy) must not
    lose or stale an acked alert: today django-q2 rejects the task payload (BadSignature), the task is dropped, and
    the sweeper finds the alert 85 s later - past the default maximum age, so it is skipped as stale.\""""
    s = rolling_stack
    route = make_route(max_alert_age_seconds=60)
    old_key, new_key = "old-secret-key-" + "o" * 40, "new-secret-key-" + "n" * 40
    started = timezone.now()
    stack.start_worker(s.procs, {**s.env, "SECRET_KEY": old_key}, log=tmp_path / "engine.log")
    web = stack.start_web(s.procs, {**s.env, "SECRET_KEY": new_key}, log=tmp_path / "web.log")
    wait_for(reconciled_since(started), "the engine up (its start-up reconciliation done)", lambda: dump(s))
    # On a shared host the engine runs below the webhook's CPU priority (ENGINE_NICE): the 3 s acks go first.
    assert _nice(s.procs.procs["worker"].pid) == 10

    alert_id = s.post(web, route, position="0.1", id="across-the-deploy")
    acked = time.monotonic()
    decided = lambda: Alert.objects.filter(pk=alert_id, status=Alert.Status.DECIDED).exists()  # noqa: E731
    waited = wait_for(decided, "the alert decided", lambda: dump(s), timeout=30)
    assert time.monotonic() - acked < 5, f"decided {waited:.1f} s after the ack\n{dump(s)}"
    decision = Decision.objects.get(alert_id=alert_id)
    assert decision.reason == Reason.ORDER_SENT, dump(s)
    # The decision is stored before the order goes out (persist before acting), so the alert reads "decided" while
    # its order may still be in flight: wait for the exchange's answer rather than read the position at once.
    wait_for(lambda: s.position() == Decimal("0.1"), "the order filled on the exchange", lambda: dump(s), timeout=5)


# --- 19. A holder that lost its lease cannot send ------------------------------------------------------------------

STALL_SECONDS = 6
LEASE_TUNING = {
    "ROUTE_LEASE_SECONDS": "2",
    # The stalled read must come back (not time out) for the holder to try to act on it.
    "KRAKEN_CONNECT_TIMEOUT": "0.5",
    "KRAKEN_READ_TIMEOUT": str(STALL_SECONDS + 4),
    "ORDER_LOOKUP_WINDOW_SECONDS": str(STALL_SECONDS + 6),  # must exceed connect + read timeout
    "ORDER_DEADLINE_SECONDS": "3",
    "CLOCK_SKEW_SECONDS": "0.5",
    "RECONCILE_EVERY_MINUTES": "10",  # no periodic pass in the middle of the test
}


@pytest.fixture
def lease_stack(tmp_path: Path, settings: Any, fake: Any) -> Iterator[Stack]:
    # The stall is made by the fake holding a read on its way in, so the held request carries a nonce from before
    # the stall; the fake refuses a nonce more than 1 s older than the newest it settled, and would refuse that read
    # for its nonce alone. A process that stalls (the case modelled) signs when it wakes: widen the window.
    fake.venue.keys[TRADER_KEY].nonces.tolerance = 60.0
    yield from make_stack(tmp_path, settings, fake, **LEASE_TUNING)


def test_an_engine_that_stalled_past_its_lease_places_nothing_when_it_wakes(
    lease_stack: Stack, make_route: Callable[..., Route], tmp_path: Path
) -> None:
    """Item 19: "One lease module ... with a fencing token: acquire, refresh that reports loss (a worker that lost its
    lease stops) ...".

    Two engines. The first decides alert 1 (target 0.1), sends it, and stalls reading the position for the stop
    (the fake holds that read 6 s; the lease lasts 2). Meanwhile alert 2 (target 0.2) arrives; the second engine
    takes the expired lease, sends the 0.1 more and places the stop for 0.2. When the first wakes it still believes
    no stop rests (it looked before stalling) and would place a second full-size stop: it must place nothing."""
    s = lease_stack
    route = make_route(worst_case_stop_pct=Decimal(5))
    started = timezone.now()
    web = stack.start_web(s.procs, s.env, log=tmp_path / "web.log")
    stack.start_worker(s.procs, s.env, log=tmp_path / "engine-1.log")
    s.procs.procs["engine-1"] = s.procs.procs.pop("worker")
    stack.start_worker(s.procs, s.env, log=tmp_path / "engine-2.log")
    wait_for(reconciled_since(started), "both engines up", lambda: dump(s))
    time.sleep(1.0)  # the second engine's own start-up pass (each engine reconciles every account once at start)

    reads = stack.fake_calls(s.kraken, "openpositions")
    s.add_fault(endpoint="openpositions", kind="latency", count=1, seconds=0)  # alert 1's decision reads normally
    s.add_fault(endpoint="openpositions", kind="latency", count=1, seconds=STALL_SECONDS)  # its stop upkeep stalls
    first = s.post(web, route, position="0.1", id="first")
    wait_for(
        lambda: stack.fake_calls(s.kraken, "openpositions") >= reads + 2, "the first engine stalled", lambda: dump(s)
    )
    stalled = time.monotonic()
    time.sleep(2.5)  # its lease runs out
    second = s.post(web, route, position="0.2", id="second")
    wait_for(
        lambda: Alert.objects.filter(pk=second, status=Alert.Status.DECIDED).exists(),
        "alert 2 decided by the other engine while the first is stalled",
        lambda: dump(s),
        timeout=STALL_SECONDS - 2.5,
    )
    wait_for(lambda: len(s.resting_stops()) == 1, "the second engine's stop", lambda: dump(s), timeout=3)
    time.sleep(max(0.0, stalled + STALL_SECONDS + 3 - time.monotonic()))  # the first engine woke and went on

    assert s.position() == Decimal("0.2"), dump(s)
    stops = s.resting_stops()
    assert len(stops) == 1 and Decimal(stops[0]["size"]) == Decimal("0.2"), f"{stops}\n{dump(s)}"
    assert stack.fake_calls(s.kraken, "sendorder") == 3, dump(s)  # two strategy orders and one stop
    assert Decision.objects.get(alert_id=first).reason == Reason.ORDER_SENT, dump(s)
    sent_stops = Order.objects.filter(route=route, purpose=Order.Purpose.WORST_CASE_STOP, submit_attempts__gt=0)
    assert [(o.size, o.state) for o in sent_stops] == [(Decimal("0.2"), OrderState.OPEN)], dump(s)
