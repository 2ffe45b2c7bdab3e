"""Crash recovery through the real processes (reference §6.6, §7 rows 6-7).

The worker (`manage.py engine`) is SIGKILLed at a named crash point (`routing.crashpoints`), then a fresh one is
started without the crash switch - a restart. The fresh engine's start-up reconciliation (every account with
orders in flight, claimed at once: routing/reconcile/tick.py) and its sweep of dead claims must finish the job: one
Decision per alert, one exchange order per intent, never a blind re-send, and an Order whose history says how it
got there.

A second test restarts the worker with 50 in-flight orders whose local states (`pending_submit`, `unknown`,
`open`) lag behind what really happened on the exchange (filled, resting, cancelled): not one may be sent again,
and each must end in the exchange's state (or `needs_attention`) within 60 s.

Two more pin down bugs these tests found at 175c44a: a lost reply during the recovery's send must not be taken
for position drift, and a restart must reconcile at once whatever the engine that died left behind. The last pins
down an alert stranded behind a reconciliation's hold on its route's lease (fixed by routing.lease.release handing on).

The fake Kraken, gunicorn and the worker run as their own processes against the test database; the knobs that
bound recovery (`ROUTE_LEASE_SECONDS`, `SWEEP_STUCK_SECONDS`, `ORDER_LOOKUP_WINDOW_SECONDS`, Kraken timeouts) are
set small so the whole module stays well under three minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.utils import timezone

from accounts.models import ExchangeAccount
from audit.models import Alert, Attention, Decision, Fill, Order, OrderEvent
from audit.order_states import OrderState
from audit.reasons import Reason
from exchanges.base import OrderRequest, OrderType, Side, TriggerSignal
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.ratelimit import KeyBudget, Pool
from routing import orders
from routing.models import Route, RouteState
from routing.selectors import implied_position
from tests import stack
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET, TRADER_WS_KEY, TRADER_WS_SECRET, payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LEASE_SECONDS = 3
SWEEP_SECONDS = 2
LOOKUP_SECONDS = 4.0
WORKERS = 2
WAIT = 60.0  # every wait is bounded by this
# django-q2's scheduler first runs 30 s after a cluster starts (guard cycle 0.5 s x 60). Recovery sooner than
# this was done by the start-up reconciliation, not by the periodic one.
BEFORE_FIRST_SCHEDULED_RUN = 25.0
SYMBOL = "PF_XBTUSD"

TUNING = {
    "BILLING_ENABLED": "0",
    "Q_WORKERS": str(WORKERS),
    "ROUTE_LEASE_SECONDS": str(LEASE_SECONDS),
    "SWEEP_STUCK_SECONDS": str(SWEEP_SECONDS),
    "ORDER_LOOKUP_WINDOW_SECONDS": str(LOOKUP_SECONDS),  # must exceed connect + read timeout (1.5 s)
    "ORDER_DEADLINE_SECONDS": "3",  # and the order deadline plus the clock skew allowed (one machine: small)
    "CLOCK_SKEW_SECONDS": "0.5",
    "KRAKEN_CONNECT_TIMEOUT": "0.5",
    "KRAKEN_READ_TIMEOUT": "1",
}

UWS_TUNING = {"KRAKEN_UWS_ACK_TIMEOUT": "1", "KRAKEN_UWS_READY_TIMEOUT": "2"}

# What the exchange says, in our words (the fake's engine states; an untriggered stop rests like a limit).
ENGINE_TO_OURS = {
    "open": OrderState.OPEN,
    "trigger_placed": OrderState.OPEN,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "cancelled": OrderState.CANCELLED,
    "rejected": OrderState.REJECTED,
}


# -- the stack ---------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    procs: stack.Processes
    logs: Path
    kraken: str
    env: dict[str, str]
    web: str | None = None
    worker_logs: list[Path] = field(default_factory=list)

    started_at: datetime | None = None

    def start_worker(self, **extra_env: str) -> float:
        """Start the engine (`manage.py engine`); returns the monotonic time it was started."""
        log = self.logs / f"worker-{len(self.worker_logs) + 1}.log"
        self.worker_logs.append(log)
        started = time.monotonic()
        self.started_at = timezone.now()
        stack.start_worker(self.procs, {**self.env, **extra_env}, log=log)
        return started

    def kill_worker(self) -> None:
        """SIGKILL the engine's whole process group."""
        self.procs.kill("worker")

    def sendorders(self) -> int:
        return stack.fake_calls(self.kraken, "sendorder")

    def position(self) -> Decimal:
        return Decimal(stack.fake_positions(self.kraken, TRADER_KEY).get(SYMBOL, "0"))

    def logs_text(self) -> str:
        parts = [stack.log_tail(p) for p in self.worker_logs]
        parts.append(stack.log_tail(self.logs / "fake.log", 20))
        if self.web:
            parts.append(stack.log_tail(self.logs / "web.log", 20))
        return "\n".join(parts)


@pytest.fixture
def crash_stack(tmp_path: Path, settings: Any, transport: str) -> Iterator[Stack]:
    """Parametrised by transport (tests/routing/conftest.py): on ``uws`` the account trades over the fake's Unified
    WebSocket, the same engine its REST API (which the tests use to look and to seed) runs on."""
    procs = stack.Processes()
    try:
        uws_port = stack.free_port()
        uws = (uws_port, TRADER_WS_KEY, TRADER_WS_SECRET) if transport == "uws" else None
        kraken = stack.start_fake(procs, TRADER_KEY, TRADER_SECRET, log=tmp_path / "fake.log", uws=uws)
        extra = {**stack.uws_env(kraken, uws_port), **UWS_TUNING} if uws else {}
        env = stack.stack_env(stack.database_url(), kraken, **TUNING, **extra)
        settings.KRAKEN_FUTURES_URL = kraken
        yield Stack(procs=procs, logs=tmp_path, kraken=kraken, env=env)
    finally:
        # A test teardown: no grace for the engine.
        if "worker" in procs.procs:
            procs.kill("worker")
        procs.stop_all()


class StartupReconcileMissing(AssertionError):
    """A worker start did not reconcile (see the last test)."""


class FalseDrift(AssertionError):
    """Reconciliation flagged position drift although our books, once written, match the exchange."""


class AlertStranded(AssertionError):
    """An alert was left queued because someone other than the pipeline held its route's lease."""


# What FalseDrift means. Seen at 175c44a in the lost-reply test below (every run) and, until e999c60, in the crash
# tests about one run in ten (a second start-up reconciliation read the position before another process's send).
FALSE_DRIFT = (
    "reconciliation compared the exchange position with Fill rows from a different moment (a position read before "
    "an order was sent, or fills not yet written for an order the exchange already filled) and took the gap for "
    "drift: the route was frozen and the owner e-mailed"
)


def wait_for(
    condition: Callable[[], bool],
    what: str,
    describe: Callable[[], str],
    timeout: float = WAIT,
    error: type[AssertionError] = AssertionError,
) -> float:
    """Poll until `condition()`; returns the seconds it took, or fails with `describe()` attached."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise error(f"{what}: not within {timeout:.0f} s\n{describe()}")


def wait_worker_idle(s: Stack, describe: Callable[[], str]) -> None:
    """Until the newest engine is up and its start-up reconciliation has run."""
    log = s.worker_logs[-1]

    def ready() -> bool:
        return log.exists() and "engine running" in log.read_text(errors="replace")

    wait_for(ready, "the engine running", describe, timeout=30)
    wait_reconciled_on_start(s, describe)


def dump(s: Stack, alert_ids: list[int] | None = None) -> str:
    """Everything a person needs to see why a recovery test failed: our rows, the fake's view, the logs."""
    lines = ["=== database ==="]
    alerts = Alert.objects.filter(pk__in=alert_ids) if alert_ids is not None else Alert.objects.all()
    for a in alerts.order_by("pk"):
        lines.append(
            f"Alert {a.pk}: {a.status} received={a.received_at:%T.%f} claimed={a.claimed_at} decided={a.decided_at}"
        )
    for d in Decision.objects.order_by("pk"):
        lines.append(f"Decision {d.pk} (alert {d.alert_id}): {d.action}/{d.reason} {d.message!r}")
    for o in Order.objects.order_by("pk")[:60]:
        lines.append(
            f"Order {o.pk} {o.client_order_id} {o.purpose} {o.side} {o.size} {o.order_type}: {o.state} "
            f"filled={o.filled_size} attempts={o.submit_attempts} last_attempt={o.last_attempt_at} "
            f"venue={o.venue_status!r} xid={o.exchange_order_id!r}"
        )
        for e in OrderEvent.objects.filter(order=o):
            lines.append(f"    {e.at:%T.%f} {e.from_state or '-'} → {e.to_state}: {e.cause}")
    for f in Fill.objects.order_by("pk")[:60]:
        lines.append(f"Fill {f.fill_id} order={f.order_id} {f.side} {f.size} @ {f.price}")
    for t in Attention.objects.order_by("pk"):
        lines.append(f"Attention {t.kind}: {t.detail}")
    for r in RouteState.objects.all():
        lines.append(f"Route {r.route_id}: frozen={r.frozen_reason!r} lease={r.lease_owner!r} until {r.lease_until}")
    for a in ExchangeAccount.objects.all():
        lines.append(f"Account {a.pk}: queued={a.reconcile_queued_at} reconciled={a.reconciled_at}")
    lines.append("=== fake ===")
    try:
        calls = requests.get(f"{s.kraken}/_fake/calls", timeout=5).json()["calls"]
        lines.append(f"calls: {calls}")
        lines.append(f"positions: {stack.fake_positions(s.kraken, TRADER_KEY)}")
    except requests.RequestException as exc:
        lines.append(f"(fake unreachable: {exc})")
    lines.append("=== logs ===")
    lines.append(s.logs_text())
    return "\n".join(lines)


def wait_reconciled_on_start(s: Stack, describe: Callable[[], str]) -> None:
    """Until every account has been reconciled since the newest engine started (its start-up reconciliation)."""
    assert s.started_at is not None

    def done() -> bool:
        accounts = ExchangeAccount.objects.filter(connected=True)
        return not accounts.exclude(reconciled_at__gte=s.started_at).exists()

    wait_for(
        done, "every start-up reconciliation finished", describe, BEFORE_FIRST_SCHEDULED_RUN, StartupReconcileMissing
    )


def assert_books_agree(s: Stack, route: Route, describe: Callable[[], str]) -> None:
    """No desync may be reported when there is none: our fills add up to the exchange position, and no
    attention item or frozen route says otherwise."""
    route.refresh_from_db()
    assert implied_position(route) == s.position(), describe()
    assert not Attention.objects.exclude(kind=Attention.Kind.POSITION_DRIFT).exists(), describe()
    if Attention.objects.filter(kind=Attention.Kind.POSITION_DRIFT).exists() or route.frozen_reason:
        raise FalseDrift(f"{FALSE_DRIFT}\n{describe()}")


def history(order: Order) -> list[tuple[str, str, str]]:
    return [(e.from_state, e.to_state, e.cause) for e in OrderEvent.objects.filter(order=order)]


# -- 1. SIGKILL at each crash point, then a restart --------------------------------------------------------------


@dataclass(frozen=True)
class CrashCase:
    point: str
    sent_before_crash: int  # sendorder calls that reached the exchange before the kill
    last_cause: str  # how the order's last OrderEvent must explain its FILLED state


CASES = [
    # The alert is claimed, nothing decided: the sweeper re-queues it once the lease is gone and decides it.
    CrashCase("after_claim", 0, "exchange accepted"),
    # Decision and Order committed, nothing sent: the lookup finds no trace, the order is sent once.
    CrashCase("after_order_row", 0, "exchange accepted"),
    # The exchange accepted, the reply was never recorded: the lookup adopts the order, nothing is re-sent.
    CrashCase("after_accept", 1, "found by client order id"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.point for c in CASES])
def test_a_worker_killed_mid_alert_is_finished_by_the_restarted_worker_with_one_order(
    crash_stack: Stack, make_route: Callable[..., Route], tmp_path: Path, case: CrashCase, record_property: Any
) -> None:
    s = crash_stack
    route = make_route(sizing_mode="target")
    s.web = stack.start_web(s.procs, s.env, workers=2, log=tmp_path / "web.log")
    marker = tmp_path / "crashed"
    s.start_worker(ORDERRAIL_CRASH_AT=case.point, ORDERRAIL_CRASH_MARKER=str(marker))
    wait_worker_idle(s, lambda: dump(s))

    response = requests.post(
        s.web + route.webhook_path,
        data=json.dumps(payload(position="0.1")),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 202, response.text
    alert_id = response.json()["alert"]
    describe = lambda: dump(s, [alert_id])  # noqa: E731

    wait_for(marker.exists, f"the worker to hit {case.point} and SIGKILL itself", describe, timeout=30)
    crashed_at = time.monotonic()
    s.kill_worker()  # the guard would reincarnate the dead worker; a restart replaces the whole cluster

    # What the crash left behind - proof that the restarted cluster, not the old one, does the recovery.
    alert = Alert.objects.get(pk=alert_id)
    left = list(Order.objects.filter(decision__alert_id=alert_id))
    if case.point == "after_claim":
        assert alert.status == Alert.Status.PROCESSING and not left, describe()
        assert not Decision.objects.filter(alert_id=alert_id).exists(), describe()
    else:
        assert alert.status == Alert.Status.DECIDED and len(left) == 1, describe()
        assert left[0].state == OrderState.PENDING_SUBMIT, describe()
        assert left[0].submit_attempts == case.sent_before_crash, describe()
    assert s.sendorders() == case.sent_before_crash, describe()

    # A restart takes a moment; by the time the new cluster reconciles, the dead worker's lease and the lookup
    # window have run out (a restart faster than that leaves the work to the periodic reconciliation instead).
    time.sleep(max(crashed_at + max(LEASE_SECONDS, SWEEP_SECONDS, LOOKUP_SECONDS) + 0.5 - time.monotonic(), 0))
    restarted = s.start_worker()  # no crash switch

    def finished() -> bool:
        decided = Alert.objects.filter(pk=alert_id, status=Alert.Status.DECIDED).exists()
        states = list(Order.objects.filter(decision__alert_id=alert_id).values_list("state", flat=True))
        fills = sum(Fill.objects.filter(order__decision__alert_id=alert_id).values_list("size", flat=True))
        return decided and states == [OrderState.FILLED] and fills == Decimal("0.1")

    wait_for(
        finished,
        "the restarted worker's start-up reconciliation to finish the alert with a FILLED order and its fill",
        describe,
        timeout=BEFORE_FIRST_SCHEDULED_RUN,
    )
    took = time.monotonic() - restarted
    wait_reconciled_on_start(s, describe)  # and let every one of them finish before judging the end state
    record_property("seconds_from_restart_to_filled", round(took, 2))
    print(f"\n[{case.point}] restart → order FILLED in {took:.2f} s")

    # Exactly one decision, one order, one exchange order - and the exchange holds exactly the intended size.
    assert Decision.objects.count() == 1, describe()
    decision = Decision.objects.get(alert_id=alert_id)
    assert decision.action == Decision.Action.SEND and decision.reason == Reason.ORDER_SENT, describe()
    (order,) = Order.objects.filter(decision=decision)
    assert Order.objects.count() == 1, describe()  # no stop, no second order anywhere
    assert order.size == Decimal("0.1") and order.filled_size == Decimal("0.1"), describe()
    assert order.submit_attempts == 1, describe()
    assert s.sendorders() == 1, describe()
    assert s.position() == Decimal("0.1"), describe()
    assert sum(Fill.objects.filter(order=order).values_list("size", flat=True)) == Decimal("0.1"), describe()
    assert stack.fake_orders(s.kraken)[order.client_order_id]["state"] == "filled", describe()

    # The history shows how it got there: created before anything was sent, then one settling step.
    steps = history(order)
    assert [(a, b) for a, b, _ in steps] == [("", OrderState.PENDING_SUBMIT), (OrderState.PENDING_SUBMIT, "filled")], (
        describe()
    )
    assert steps[0][2] == "created" and steps[1][2].startswith(case.last_cause), describe()
    if case.point != "after_accept":
        # Sent by the recovery, after the lease / lookup window - not by the worker that died.
        _, settled = OrderEvent.objects.filter(order=order)
        assert settled.at - alert.received_at >= timedelta(seconds=min(LEASE_SECONDS, LOOKUP_SECONDS)), describe()

    # Nothing was mistaken for a desync: no attention item, no frozen route.
    assert_books_agree(s, route, describe)


def test_a_lost_reply_during_the_recovery_send_is_not_taken_for_position_drift(
    crash_stack: Stack, make_route: Callable[..., Route], tmp_path: Path
) -> None:
    """Crash point (ii) again, but the recovery's one send loses its reply (the exchange accepts it, the answer
    never arrives): the order goes `unknown`, the next reconciliation adopts it by lookup. Nothing was ever out of
    step, so nothing may be flagged as drift.

    Regression test: at 175c44a the start-up reconciliation compared the position (0.1, the order had landed)
    with fills it had imported *before* re-sending (none), froze the route and e-mailed the owner - every time.
    The crash tests above hit the concurrent variant (two start-up reconciliations, one per worker) about one
    run in eight."""
    s = crash_stack
    route = make_route(sizing_mode="target")
    s.web = stack.start_web(s.procs, s.env, workers=2, log=tmp_path / "web.log")
    marker = tmp_path / "crashed"
    s.start_worker(ORDERRAIL_CRASH_AT="after_order_row", ORDERRAIL_CRASH_MARKER=str(marker))
    wait_worker_idle(s, lambda: dump(s))
    response = requests.post(
        s.web + route.webhook_path,
        data=json.dumps(payload(position="0.1")),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 202, response.text
    alert_id = response.json()["alert"]
    reconcile_output: list[str] = []
    describe = lambda: dump(s, [alert_id]) + "\n=== manage.py reconcile ===\n" + "\n".join(reconcile_output)  # noqa: E731
    wait_for(marker.exists, "the worker to hit after_order_row and SIGKILL itself", describe, timeout=30)
    crashed_at = time.monotonic()
    s.kill_worker()
    assert s.sendorders() == 0, describe()

    fault = {"endpoint": "sendorder", "kind": "accept_then_drop", "seconds": 3}  # > the 1 s read timeout
    requests.post(f"{s.kraken}/_fake/faults", json=fault, timeout=5).raise_for_status()
    time.sleep(max(crashed_at + max(LEASE_SECONDS, LOOKUP_SECONDS) + 0.5 - time.monotonic(), 0))
    # One worker, so one start-up reconciliation: what follows never depends on two of them interleaving.
    s.start_worker(Q_WORKERS="1")
    wait_reconciled_on_start(s, describe)
    (order,) = Order.objects.filter(decision__alert_id=alert_id)
    assert order.state == OrderState.UNKNOWN, describe()  # sent once, answer lost: looked up, never re-sent
    assert s.sendorders() == 1 and s.position() == Decimal("0.1"), describe()

    # The next round - what the schedule runs every RECONCILE_EVERY_MINUTES - run now, as its own process.
    done = subprocess.run(
        [sys.executable, "manage.py", "reconcile"],
        check=False,
        cwd=stack.ROOT,
        env=s.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    reconcile_output.append(done.stdout + done.stderr)
    assert done.returncode == 0, describe()
    order.refresh_from_db()
    assert order.state == OrderState.FILLED and order.filled_size == Decimal("0.1"), describe()
    assert s.sendorders() == 1 and s.position() == Decimal("0.1"), describe()
    assert [(a, b) for a, b, _ in history(order)] == [
        ("", OrderState.PENDING_SUBMIT),
        (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN),
        (OrderState.UNKNOWN, OrderState.FILLED),
    ], describe()
    assert history(order)[-1][2].startswith("found by client order id"), describe()
    assert_books_agree(s, route, describe)


# -- 2. Restart with 50 mixed in-flight orders -------------------------------------------------------------------


class _Unmetered(KeyBudget):
    """The test's own seeding adapter paces nothing: seeding is the past, not the scenario under test."""

    def reserve(self, pool: Pool, cost: int, *, what: str = "") -> None:
        return None


FATES = ("filled", "resting_limit", "resting_stop", "cancelled")
LOCAL = (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN, OrderState.OPEN)
N_ORDERS = 50


def _request(fate: str, index: int, client_id: str) -> OrderRequest:
    buy = index % 2 == 0
    side = Side.BUY if buy else Side.SELL
    size = Decimal("0.002") if buy else Decimal("0.001")
    if fate == "filled":
        return OrderRequest(SYMBOL, side, size, OrderType.MARKET, client_id)
    if fate == "resting_stop":
        stop = Decimal("90000") if buy else Decimal("30000")  # mark is 60000: far from triggering
        return OrderRequest(
            SYMBOL, side, size, OrderType.STOP, client_id, stop_price=stop, trigger_signal=TriggerSignal.MARK
        )
    limit = Decimal("30000") if buy else Decimal("90000")  # far from the market: rests (and is cancelled)
    return OrderRequest(SYMBOL, side, size, OrderType.LIMIT, client_id, limit_price=limit)


def test_restart_with_fifty_mixed_in_flight_orders_resends_none_and_settles_all(
    crash_stack: Stack, make_route: Callable[..., Route], record_property: Any, transport: str, request: Any
) -> None:
    if transport == "uws":
        # Known gap, kept visible: an order the exchange cancelled while no connection of ours was listening is in
        # no executions snapshot (open orders + last 50 trades) and the Unified WebSocket has no history, so it
        # cannot be told from one that never arrived: it stays open/unknown, or is re-sent once (refused as a
        # duplicate client id by the fake). Needs the executions stream captured continuously (a gateway writing
        # it to the database) or a history source after March 2027.
        request.applymarker(pytest.mark.xfail(strict=True, reason="UWS: orders cancelled while unobserved vanish"))
    s = crash_stack
    route = make_route(sizing_mode="target")
    describe = lambda: dump(s)  # noqa: E731
    # Seeding places 50 orders and some cancels: history, done with the fake's rate limits off; they come back
    # on (with full budgets) for the restart, so the reconciliation meets Kraken's real limits.
    requests.post(f"{s.kraken}/_fake/ratelimits", json={"enabled": False}, timeout=5).raise_for_status()
    venue = KrakenFutures(s.kraken, TRADER_KEY, TRADER_SECRET, connect_timeout=2, read_timeout=5, budget=_Unmetered())

    past = timezone.now() - timedelta(seconds=90)  # in flight since well before the lookup window
    plan: dict[int, tuple[str, OrderState]] = {}
    for i in range(N_ORDERS):
        fate, local = FATES[i % len(FATES)], LOCAL[(i // len(FATES)) % len(LOCAL)]
        at = past + timedelta(milliseconds=100 * i)
        alert = Alert.objects.create(
            route=route, received_at=at, fired_at=at, status=Alert.Status.DECIDED, claimed_at=at, decided_at=at
        )
        decision = Decision.objects.create(
            alert=alert,
            route=route,
            created_at=at,
            evaluated_at=at,
            action=Decision.Action.SEND,
            reason=Reason.OUTCOME_UNKNOWN if local == OrderState.UNKNOWN else Reason.ORDER_SENT,
            message="seeded in-flight order",
        )
        order = orders.create_order(
            route=route, decision=decision, leg=0, request=_request(fate, i, ""), now=at
        )  # the row, and its client id or-<pk>, before the exchange hears of it - as the pipeline does
        ack = venue.place_order(_request(fate, i, order.client_order_id))
        if fate == "cancelled":
            assert venue.cancel_order(client_order_id=order.client_order_id).cancelled
        # What our books say: the worker died (or the reply was lost) somewhere after the send.
        Order.objects.filter(pk=order.pk).update(submit_attempts=1, last_attempt_at=at)
        order.submit_attempts, order.last_attempt_at = 1, at
        if local == OrderState.UNKNOWN:
            orders.transition(order, OrderState.UNKNOWN, cause="seeded: no clear answer (timeout)", now=at)
        elif local == OrderState.OPEN:
            orders.transition(
                order, OrderState.OPEN, cause="seeded: accepted", now=at, exchange_order_id=ack.exchange_order_id
            )
        plan[order.pk] = (fate, local)
    venue.close()
    requests.post(f"{s.kraken}/_fake/ratelimits", json={"enabled": True}, timeout=5).raise_for_status()

    truth = stack.fake_orders(s.kraken)
    assert len(truth) == N_ORDERS
    sent_before = s.sendorders()
    assert sent_before == N_ORDERS
    position_before = s.position()
    mix = {(f, str(loc)): sum(1 for v in plan.values() if v == (f, loc)) for f in FATES for loc in LOCAL}

    started = s.start_worker()
    wait_reconciled_on_start(s, describe)
    by_start_up = sum(
        1 for o in Order.objects.filter(pk__in=plan) if o.state == ENGINE_TO_OURS[truth[o.client_order_id]["state"]]
    )

    def exchange_state(o: Order) -> OrderState:
        return ENGINE_TO_OURS[truth[o.client_order_id]["state"]]

    def settled() -> bool:
        for o in Order.objects.filter(pk__in=plan):
            if o.state == OrderState.NEEDS_ATTENTION:
                continue
            if o.state != exchange_state(o) or o.filled_size != Decimal(truth[o.client_order_id]["filled"]):
                return False
        return True

    def mismatches() -> str:
        rows = [
            f"{o.client_order_id}: ours {o.state} filled {o.filled_size}; exchange "
            f"{truth[o.client_order_id]['state']} filled {truth[o.client_order_id]['filled']} (was {plan[o.pk][1]})"
            for o in Order.objects.filter(pk__in=plan).order_by("pk")
            if o.state != OrderState.NEEDS_ATTENTION and o.state != exchange_state(o)
        ]
        return "mismatched orders:\n" + "\n".join(rows) + "\n" + describe()

    left = WAIT - (time.monotonic() - started)  # 60 s from the worker's start, all told
    wait_for(settled, f"all {N_ORDERS} in-flight orders settled to the exchange's state", mismatches, left)
    took = time.monotonic() - started
    resent = s.sendorders() - sent_before
    attention = Order.objects.filter(pk__in=plan, state=OrderState.NEEDS_ATTENTION).count()
    record_property("orders", N_ORDERS)
    record_property("resends", resent)
    record_property("needs_attention", attention)
    record_property("seconds_from_start_to_settled", round(took, 2))
    record_property("settled_by_start_up_reconciliation", by_start_up)
    how: dict[str, int] = {}
    for o in Order.objects.filter(pk__in=plan):
        last = OrderEvent.objects.filter(order=o).last()
        key = f"{plan[o.pk][1]} → {o.state} ({last.cause.split(':')[0] if last else '?'})"
        how[key] = how.get(key, 0) + 1
    print(
        f"\n[50 in flight] mix (fate, local) → count: {mix}\n"
        f"[50 in flight] settled {N_ORDERS} orders in {took:.2f} s from worker start; "
        f"re-sends {resent}; needs_attention {attention}; matching the exchange after the start-up "
        f"reconciliations: {by_start_up}/{N_ORDERS}\n"
        f"[50 in flight] how they were settled: {dict(sorted(how.items()))}"
    )

    # Every one of them landed: not one may be sent again, and the exchange is exactly as it was.
    assert resent == 0, describe()
    time.sleep(1)  # a straggling second reconciliation must not send either
    assert s.sendorders() == sent_before, describe()
    assert s.position() == position_before, describe()
    after = stack.fake_orders(s.kraken)  # nothing placed, cancelled or changed on the exchange either
    assert {k: (v["state"], v["filled"]) for k, v in after.items()} == {
        k: (v["state"], v["filled"]) for k, v in truth.items()
    }, describe()
    # The decisions of the orders we had lost track of now say what became of them.
    assert not Decision.objects.filter(reason=Reason.OUTCOME_UNKNOWN).exists(), describe()
    # Our fills add up to the exchange position: no drift, nothing frozen.
    assert_books_agree(s, route, describe)


# -- 3. The start-up reconciliation itself -----------------------------------------------------------------------


def test_a_restart_reconciles_at_once(crash_stack: Stack, make_route: Callable[..., Route]) -> None:
    """An account with an order in flight is reconciled the moment the engine starts - not at the next period, and
    whatever a previous engine that died left in the account's "queued" marker (at 175c44a a racing first start of
    two django-q2 workers could leave the start-up reconciliation out entirely; the engine claims accounts by
    compare-and-set instead)."""
    s = crash_stack
    route = make_route(sizing_mode="target")
    describe = lambda: dump(s)  # noqa: E731
    # What an engine that died mid-pass leaves: the account claimed a moment ago, its job lost with it.
    ExchangeAccount.objects.filter(pk=route.exchange_account_id).update(
        reconcile_queued_at=timezone.now() - timedelta(seconds=20)
    )
    # One order in flight: it landed on the exchange, our books say unknown. Only a reconciliation settles it.
    at = timezone.now() - timedelta(seconds=30)
    order = orders.create_order(route=route, decision=None, leg=0, request=_request("filled", 0, ""), now=at)
    with KrakenFutures(s.kraken, TRADER_KEY, TRADER_SECRET, connect_timeout=2, read_timeout=5) as venue:
        venue.place_order(_request("filled", 0, order.client_order_id))
    Order.objects.filter(pk=order.pk).update(submit_attempts=1, last_attempt_at=at)
    order.submit_attempts, order.last_attempt_at = 1, at
    orders.transition(order, OrderState.UNKNOWN, cause="seeded: no clear answer (timeout)", now=at)

    s.start_worker()
    wait_reconciled_on_start(s, describe)
    order.refresh_from_db()
    assert order.state == OrderState.FILLED, describe()  # adopted by lookup
    assert s.sendorders() == 1, describe()  # and not sent again


def test_an_alert_arriving_while_a_reconciliation_holds_the_route_lease_is_still_decided_at_once(
    crash_stack: Stack, make_route: Callable[..., Route], tmp_path: Path, transport: str
) -> None:
    """The reconciliation takes the route's lease like the pipeline does; an alert's task that finds it taken
    returns at once. Whoever holds the lease must then decide what queued up behind it - not the sweeper, 30 s
    and more later."""
    if transport == "uws":
        # Its lever is a slow REST position read inside the lease; the Unified WebSocket reads positions from
        # memory, so a reconciliation cannot be made to hold the lease this way (the hand-on itself is transport-free).
        pytest.skip("needs a slow REST position read; the Unified WebSocket's is from memory")
    s = crash_stack
    route = make_route(sizing_mode="target")
    s.web = stack.start_web(s.procs, s.env, workers=2, log=tmp_path / "web.log")
    s.start_worker()
    wait_worker_idle(s, lambda: dump(s))
    # Keep the next reconciliation inside the route's lease for 3 s: its position read there answers slowly.
    fault = {"endpoint": "openpositions", "kind": "latency", "seconds": 3, "count": 1}
    requests.post(f"{s.kraken}/_fake/faults", json=fault, timeout=5).raise_for_status()
    log = tmp_path / "reconcile.log"
    with open(log, "wb") as out:
        reconcile = subprocess.Popen(
            [sys.executable, "manage.py", "reconcile"], cwd=stack.ROOT, env=s.env, stdout=out, stderr=subprocess.STDOUT
        )
    describe = lambda: dump(s) + "\n" + stack.log_tail(log)  # noqa: E731
    try:
        wait_for(
            lambda: RouteState.objects.filter(route_id=route.pk, lease_until__isnull=False).exists(),
            "the reconciliation to take the route's lease",
            describe,
            timeout=20,
        )
        response = requests.post(
            s.web + route.webhook_path,
            data=json.dumps(payload(position="0.1")),
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        assert response.status_code == 202, response.text
        alert_id = response.json()["alert"]
        # 3 s of lease, then the holder's drain; the periodic pass (the only other way) is 20+ s away.
        wait_for(
            lambda: Alert.objects.filter(pk=alert_id, status=Alert.Status.DECIDED).exists(),
            "the alert queued behind the reconciliation's lease to be decided",
            describe,
            timeout=10,
            error=AlertStranded,
        )
    finally:
        reconcile.wait(timeout=30)
    decision = Decision.objects.get(alert_id=alert_id)
    assert decision.reason == Reason.ORDER_SENT, describe()
    assert s.sendorders() == 1 and s.position() == Decimal("0.1"), describe()
