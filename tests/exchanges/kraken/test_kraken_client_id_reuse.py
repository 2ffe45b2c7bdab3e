"""Reusing a client order id, under both readings of Kraken's rule (reference §8: unverified whether a finished
order's id is refused). ``forever``: the fake refuses an id once any order carried it; ``while_open``: only while
that order is open. The adapter over real HTTP, against the fake in each mode; and the switch itself (the Python
API, ``/_fake/client_order_ids`` and ``manage.py fake_kraken --client-order-id-reuse``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from exchanges.base import OrderRequest, OrderState, OrderType, Side
from exchanges.errors import ExchangeError, OrderRejected
from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET
from exchanges.fake.server import FakeKraken
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.errors import ClientOrderIdAlreadyExists
from exchanges.kraken.ratelimit import KeyBudget

ROOT = Path(__file__).resolve().parents[3]
SYMBOL = "PF_XBTUSD"


@pytest.fixture
def fake(fake_kraken: FakeKraken) -> FakeKraken:
    fake_kraken.set_mark(SYMBOL, Decimal(60000))
    return fake_kraken


def adapter(url: str) -> KrakenFutures:
    return KrakenFutures(url, FAKE_KEY, FAKE_SECRET, connect_timeout=2, read_timeout=3, budget=KeyBudget())


@pytest.fixture
def venue(fake: FakeKraken) -> Iterator[KrakenFutures]:
    with adapter(fake.url) as client:
        yield client


def cid() -> str:
    return f"t-reuse-{uuid.uuid4().hex[:10]}"


def market(client_id: str, size: str = "0.01", **extra: object) -> OrderRequest:
    return OrderRequest(SYMBOL, Side.BUY, Decimal(size), OrderType.MARKET, client_id, **extra)  # type: ignore[arg-type]


def resting(client_id: str) -> OrderRequest:
    return OrderRequest(SYMBOL, Side.BUY, Decimal("0.01"), OrderType.LIMIT, client_id, limit_price=Decimal(50000))


def test_forever_is_the_default_and_refuses_a_finished_orders_id(venue: KrakenFutures, fake: FakeKraken) -> None:
    assert fake.client_order_id_reuse == "forever"
    client_id = cid()
    first = venue.place_order(market(client_id))
    with pytest.raises(ClientOrderIdAlreadyExists):  # "it landed, reconcile" - never a rejection
        venue.place_order(market(client_id))
    assert fake.position(FAKE_KEY, SYMBOL) == Decimal("0.01")
    found = venue.find_order(client_id)
    assert found is not None and found.exchange_order_id == first.exchange_order_id


def test_forever_refuses_a_cancelled_orders_id(venue: KrakenFutures) -> None:
    client_id = cid()
    venue.place_order(resting(client_id))
    assert venue.cancel_order(client_order_id=client_id).cancelled
    with pytest.raises(ClientOrderIdAlreadyExists):
        venue.place_order(resting(client_id))


def test_while_open_refuses_an_open_orders_id(venue: KrakenFutures, fake: FakeKraken) -> None:
    fake.set_client_order_id_reuse("while_open")
    client_id = cid()
    venue.place_order(resting(client_id))
    with pytest.raises(ClientOrderIdAlreadyExists):
        venue.place_order(resting(client_id))
    assert len(venue.open_orders()) == 1


def test_while_open_accepts_a_finished_orders_id_as_a_new_order(venue: KrakenFutures, fake: FakeKraken) -> None:
    """The hazard the re-send logic must not rest on: the same id lands twice, two orders, double the position."""
    fake.set_client_order_id_reuse("while_open")
    client_id = cid()
    first = venue.place_order(market(client_id))
    second = venue.place_order(market(client_id))
    assert second.exchange_order_id != first.exchange_order_id
    assert fake.position(FAKE_KEY, SYMBOL) == Decimal("0.02")
    found = venue.find_order(client_id)  # a lookup by client id now finds the newer order
    assert found is not None and found.exchange_order_id == second.exchange_order_id

    cancelled_id = cid()
    venue.place_order(resting(cancelled_id))
    venue.cancel_order(client_order_id=cancelled_id)
    again = venue.place_order(resting(cancelled_id))
    found = venue.find_order(cancelled_id)
    assert found is not None and found.exchange_order_id == again.exchange_order_id
    assert found.state is OrderState.OPEN


@pytest.mark.parametrize("reuse", ["forever", "while_open"])
def test_a_deadline_keeps_a_late_first_attempt_from_landing_after_its_resend(fake: FakeKraken, reuse: str) -> None:
    """Attempt 1 is held up in transit; the caller gives up on it and re-sends the same id with a fresh deadline,
    which lands and fills at once; attempt 1 then reaches the venue. Under either reuse rule only one order
    exists: attempt 1 is past its deadline (without a deadline, ``while_open`` would have placed it too)."""
    fake.set_client_order_id_reuse(reuse)
    client_id = cid()
    fake.add_fault("sendorder", "latency", seconds=0.8)  # only the first request to arrive is delayed
    outcome: list[object] = []

    def first_attempt() -> None:
        with adapter(fake.url) as slow:
            try:
                outcome.append(slow.place_order(market(client_id, process_before=_in(0.4))))
            except ExchangeError as error:
                outcome.append(error)

    attempt = threading.Thread(target=first_attempt)
    attempt.start()
    _wait_for(lambda: fake.calls("sendorder") == 1)
    with adapter(fake.url) as resend:
        resend.place_order(market(client_id, process_before=_in(5)))
    attempt.join(timeout=10)

    (first,) = outcome
    assert isinstance(first, OrderRejected) and first.status == "wouldProcessAfterSpecifiedTime"
    assert fake.position(FAKE_KEY, SYMBOL) == Decimal("0.01")
    assert fake.calls("sendorder") == 2


def test_without_a_deadline_while_open_lets_the_late_attempt_land_too(fake: FakeKraken) -> None:
    """The control for the test above: the same race with no deadline doubles the position under ``while_open``."""
    fake.set_client_order_id_reuse("while_open")
    client_id = cid()
    fake.add_fault("sendorder", "latency", seconds=0.8)

    def first_attempt() -> None:
        with adapter(fake.url) as slow:
            slow.place_order(market(client_id))

    attempt = threading.Thread(target=first_attempt)
    attempt.start()
    _wait_for(lambda: fake.calls("sendorder") == 1)
    with adapter(fake.url) as resend:
        resend.place_order(market(client_id))
    attempt.join(timeout=10)
    assert fake.position(FAKE_KEY, SYMBOL) == Decimal("0.02")


def test_the_switch_over_the_control_api(fake: FakeKraken) -> None:
    url = f"{fake.url}/_fake/client_order_ids"
    assert requests.get(url, timeout=5).json() == {"reuse": "forever"}
    assert requests.post(url, json={"reuse": "while_open"}, timeout=5).json() == {"reuse": "while_open"}
    assert fake.client_order_id_reuse == "while_open"
    assert requests.get(f"{fake.url}/_fake/state", timeout=5).json()["client_order_id_reuse"] == "while_open"
    refused = requests.post(url, json={"reuse": "sometimes"}, timeout=5)
    assert refused.status_code == 400 and "forever" in refused.json()["error"]
    assert requests.post(url, json={}, timeout=5).status_code == 400
    assert fake.client_order_id_reuse == "while_open"


def test_the_switch_as_a_command_line_flag() -> None:
    env = {**os.environ, "ORDERRAIL_TESTING": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "manage.py", "fake_kraken", "--port", "0", "--key", FAKE_KEY, "--secret", FAKE_SECRET]
    proc = subprocess.Popen(
        [*command, "--client-order-id-reuse", "while_open"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("fake kraken listening on ")
        with adapter(url) as venue:
            client_id = cid()
            venue.place_order(market(client_id))
            venue.place_order(market(client_id))  # accepted again: the flag took effect
            assert sum(p.size for p in venue.positions()) == Decimal("0.02")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run(
        [*command, "--client-order-id-reuse", "sometimes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode != 0 and b"while_open" in bad.stderr


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
