"""Workers racing for the same route and the same alert (real threads, real connections, committed data)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from audit.models import Alert, Decision, Order
from routing.pipeline import process_alert
from tests.routing.conftest import TRADER_KEY, payload, post

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(targets: list) -> None:
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(fn):
        def run():
            try:
                barrier.wait()
                fn()
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_eight_workers_on_one_route_decide_every_alert_exactly_once(client, make_route, fake, exchange_url):
    route = make_route(sizing_mode="contracts")
    ids = [post(client, route, payload(action="buy", contracts="0.001", id=f"a{i}")).json()["alert"] for i in range(8)]
    # Every task, and a duplicate delivery of each (the broker may deliver twice), at the same moment.
    run_in_threads([lambda i=i: process_alert(i) for i in ids + ids])
    assert Alert.objects.filter(status=Alert.Status.DECIDED).count() == 8
    assert Decision.objects.count() == 8
    assert Order.objects.count() == 8
    assert fake.calls("sendorder") == 8
    assert fake.position(TRADER_KEY, "PF_XBTUSD") == Decimal("0.008")
