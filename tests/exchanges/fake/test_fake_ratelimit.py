"""Kraken's two rate-limit pools, per key, with the cost table of reference §7 (budgets shrunk for speed)."""

from __future__ import annotations

import time

from fake_testkit import Client

from exchanges.fake.credentials import FAKE_KEY, FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, FAKE_SECRET
from exchanges.fake.ratelimit import RateLimitConfig, TokenBucket, account_log_cost
from exchanges.fake.server import FakeKraken

ACCOUNTS = [
    {"key": FAKE_KEY, "secret": FAKE_SECRET},
    {"key": FAKE_READ_ONLY_KEY, "secret": FAKE_READ_ONLY_SECRET, "permissions": "read_only"},
]


def test_the_derivatives_budget_is_spent_by_cost_and_refills_continuously() -> None:
    config = RateLimitConfig(derivatives_budget=25, derivatives_window=1.0)  # 25 per second
    with FakeKraken(accounts=ACCOUNTS, rate_limits=config) as fake:
        client = Client(fake.url)
        order = {"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.001", "limitPrice": "1000"}
        assert client.v3("POST", "sendorder", order)["result"] == "success"  # 10
        assert client.v3("POST", "sendorder", order)["result"] == "success"  # 20
        body = client.v3("POST", "sendorder", order)  # 30 > 25
        assert body == {"result": "error", "serverTime": body["serverTime"], "error": "apiLimitExceeded"}
        assert client.v3("GET", "openpositions")["result"] == "success"  # 2 still fits (22 + a little refill)
        assert client.v3("GET", "tickers")["result"] == "success"  # public: free
        other = Client(fake.url, key=FAKE_READ_ONLY_KEY, secret=FAKE_READ_ONLY_SECRET)
        assert other.v3("GET", "accounts")["result"] == "success"  # per key
        time.sleep(0.45)  # ~11 refilled
        assert client.v3("POST", "sendorder", order)["result"] == "success"
        assert fake.calls("sendorder") == 4 and len(client.v3("GET", "openorders")["openOrders"]) == 3


def test_fills_with_last_fill_time_costs_25() -> None:
    with FakeKraken(
        accounts=ACCOUNTS, rate_limits=RateLimitConfig(derivatives_budget=30, derivatives_window=600)
    ) as fake:
        client = Client(fake.url)
        assert client.v3("GET", "fills", {"lastFillTime": "2030-01-01T00:00:00Z"})["result"] == "success"
        assert client.v3("GET", "fills", {"lastFillTime": "2030-01-01T00:00:00Z"})["error"] == "apiLimitExceeded"
        assert client.v3("GET", "fills")["result"] == "success"  # 2


def test_history_is_its_own_pool_and_answers_429_with_a_reset_header() -> None:
    config = RateLimitConfig(history_budget=4, history_window=600)
    with FakeKraken(accounts=ACCOUNTS, rate_limits=config) as fake:
        client = Client(fake.url)
        assert client.history("executions")["len"] == 0  # 1
        assert client.history("account-log", {"count": 500})["logs"]  # 3
        response = client.request("GET", "/api/history/v3/orders")
        assert response.status_code == 429
        assert response.headers["Content-Type"].startswith("text/plain")
        assert int(response.headers["rate-limit-reset"]) >= 1
        assert client.v3("GET", "accounts")["result"] == "success"  # the derivatives pool is untouched


def test_rate_limits_can_be_switched_off_and_reconfigured() -> None:
    with FakeKraken(accounts=ACCOUNTS, rate_limits=False) as fake:
        client = Client(fake.url)
        for _ in range(60):
            assert client.v3("GET", "fills", {"lastFillTime": "2030-01-01T00:00:00Z"})["result"] == "success"
        fake.set_rate_limits(RateLimitConfig(derivatives_budget=2, derivatives_window=600))
        assert client.v3("GET", "accounts")["result"] == "success"
        assert client.v3("GET", "accounts")["error"] == "apiLimitExceeded"


def test_the_cost_table() -> None:
    assert [account_log_cost(n) for n in (1, 25, 26, 50, 51, 1000, 1001, 5000, 5001)] == [1, 1, 2, 2, 3, 3, 6, 6, 10]
    bucket = TokenBucket(capacity=10, refill_per_second=1, tokens=10, updated=0.0)
    assert bucket.take(10, 0.0) is None
    assert bucket.take(3, 1.0) == 2.0  # one refilled, two more seconds for three
    assert bucket.take(11, 100.0) == float("inf")  # more than the whole budget never fits
