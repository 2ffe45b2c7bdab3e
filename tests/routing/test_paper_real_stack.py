"""A paper route through the real processes: gunicorn serving the webhook, `manage.py engine` deciding and
reconciling, `manage.py worker` running the scheduled paper task, the fake Kraken as its own server process with no
account on it at all - on the test database (SQLite file, or PostgreSQL). The fake's call counters show every
request it got: public market data only."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from django_q.models import Schedule
from django_q.tasks import async_task

from accounts.models import User
from audit.models import Alert, Attention, Decision, Fill, Order
from audit.order_states import OrderState
from audit.reasons import Reason
from exchanges.connect import forget_exchanges, paper_exchange
from exchanges.paper.models import PaperAccount
from exchanges.paper.service import create_paper_account
from routing.models import Route
from routing.schedules import PAPER_STOPS_SCHEDULE
from tests import stack
from tests.routing.conftest import CANARY_ROUTE_SECRET, payload
from tests.venue_calls import private_calls, public_calls

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SYMBOL = "PF_XBTUSD"


@pytest.fixture
def paper_stack(settings: Any) -> Iterator[tuple[str, str]]:
    with stack.running() as procs:
        port = stack.free_port()
        kraken = f"http://127.0.0.1:{port}"
        # No --key: the venue has no account for anyone; a paper account needs none.
        fake_args = [sys.executable, "manage.py", "fake_kraken", "--port", str(port)]
        procs.start("fake", fake_args, stack.stack_env(stack.database_url(), kraken))
        stack.wait_http(kraken + "/_fake/health")
        env = stack.stack_env(stack.database_url(), kraken, BILLING_ENABLED="1", PAPER_MARK_TTL_SECONDS="0")
        web = stack.start_web(procs, env, workers=1)
        stack.start_worker(procs, env)  # the engine: alerts and reconciliation
        stack.start_django_q(procs, env)  # django-q2: the paper-stops schedule
        settings.KRAKEN_FUTURES_URL = kraken
        settings.PAPER_MARK_TTL_SECONDS = 0.0
        forget_exchanges()
        yield web, kraken
        forget_exchanges()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def calls(kraken: str) -> dict[str, int]:
    return requests.get(f"{kraken}/_fake/calls", timeout=5).json()["calls"]


def test_a_paper_route_through_the_real_webhook_and_worker_makes_no_private_call(paper_stack):
    web, kraken = paper_stack
    trader = User.objects.create_user(username="p", email="p@example.com", password="x" * 12)  # no subscription
    account = create_paper_account(trader, starting_balance="10000")
    route = Route(
        owner=trader,
        name="XBT on paper",
        exchange_account=account,
        symbol=SYMBOL,
        sizing_mode="target",
        max_alert_age_seconds=120,
        worst_case_stop_pct=Decimal(5),
    )
    route.set_secret(CANARY_ROUTE_SECRET)
    route.save()

    # The alert, as TradingView sends it.
    response = requests.post(
        web + route.webhook_path,
        data=json.dumps(payload(position="0.1", market_position="long")),
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    assert response.status_code == 202, response.text
    alert_id = response.json()["alert"]

    def stop_resting() -> bool:
        return Order.objects.filter(route=route, purpose=Order.Purpose.WORST_CASE_STOP, state=OrderState.OPEN).exists()

    wait_for(lambda: Alert.objects.filter(pk=alert_id, status=Alert.Status.DECIDED).exists(), "the alert decided")
    wait_for(stop_resting, "the worst-case stop resting on the paper account")
    decision = Decision.objects.get(alert_id=alert_id)
    assert decision.reason == Reason.ORDER_SENT, decision.message
    (order,) = Order.objects.filter(decision=decision)
    assert (order.state, order.size, order.side) == (OrderState.FILLED, Decimal("0.1"), "buy")
    assert Fill.objects.get(order=order).price == Decimal(60000)
    stop = Order.objects.get(route=route, purpose=Order.Purpose.WORST_CASE_STOP)
    assert (stop.stop_price, stop.size, stop.reduce_only) == (Decimal(57000), Decimal("0.1"), True)
    # The django-q2 worker made the paper-stops schedule when it started.
    wait_for(
        lambda: Schedule.objects.filter(name=PAPER_STOPS_SCHEDULE, func="exchanges.paper.tasks.trigger_stops").exists(),
        "the paper-stops schedule",
    )

    # The market falls through the stop (the fake's control API); the scheduled paper task, run by the worker, fires
    # it - and the reconciliation the worker runs records it.
    moved = requests.post(f"{kraken}/_fake/mark", json={"symbol": SYMBOL, "mark": "56000"}, timeout=5)
    assert moved.status_code == 200
    async_task("exchanges.paper.tasks.trigger_stops")
    wait_for(lambda: PaperAccount.objects.get(pk=account.pk).live_orders == 0, "the paper stop fired")
    async_task("routing.tasks.reconcile")
    wait_for(lambda: Order.objects.get(pk=stop.pk).state == OrderState.FILLED, "reconciliation recorded the stop")
    wait_for(
        lambda: Attention.objects.filter(kind=Attention.Kind.STOP_TRIGGERED, route=route).exists(),
        "the trader is told the stop triggered",
    )
    wait_for(lambda: Fill.objects.filter(order=stop, fee__isnull=False).exists(), "the stop's fee recorded")
    stop_fill = Fill.objects.get(order=stop)
    assert (stop_fill.price, stop_fill.fee, stop_fill.realized_pnl) == (Decimal(56000), Decimal("2.8"), Decimal(-400))
    assert Fill.objects.get(order=order).fee == Decimal(3)
    assert paper_exchange(account).positions() == []
    assert not Attention.objects.filter(kind=Attention.Kind.POSITION_DRIFT).exists()

    # Everything the venue saw: market data. Not one private call, and nothing it could not route.
    seen = calls(kraken)
    assert private_calls(seen) == {}
    assert set(public_calls(seen)) == {"instruments", "tickers"}
    total = requests.get(f"{kraken}/_fake/calls", params={"endpoint": "*"}, timeout=5).json()["calls"]
    assert total == sum(seen.values())
