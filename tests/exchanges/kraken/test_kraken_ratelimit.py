"""The per-key budget: Kraken's cost table, continuous refill on a fake clock, RateLimited before sending."""

from __future__ import annotations

import threading

import pytest
import responses
from kraken_testkit import V3, FakeClock

from exchanges.errors import RateLimited
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.ratelimit import KeyBudget, Pool, account_log_cost, budget_for, cost_of


@pytest.mark.parametrize(
    ("method", "path", "params", "expected"),
    [
        ("POST", "/derivatives/api/v3/sendorder", {}, (Pool.DERIVATIVES, 10)),
        ("POST", "/derivatives/api/v3/editorder", {}, (Pool.DERIVATIVES, 10)),
        ("POST", "/derivatives/api/v3/cancelorder", {}, (Pool.DERIVATIVES, 10)),
        ("POST", "/derivatives/api/v3/cancelallorders", {}, (Pool.DERIVATIVES, 25)),
        ("POST", "/derivatives/api/v3/cancelallordersafter", {"timeout": 60}, (Pool.DERIVATIVES, 25)),
        ("GET", "/derivatives/api/v3/accounts", {}, (Pool.DERIVATIVES, 2)),
        ("GET", "/derivatives/api/v3/openpositions", {}, (Pool.DERIVATIVES, 2)),
        ("GET", "/derivatives/api/v3/openorders", {}, (Pool.DERIVATIVES, 2)),
        ("GET", "/derivatives/api/v3/fills", {}, (Pool.DERIVATIVES, 2)),
        ("GET", "/derivatives/api/v3/fills", {"lastFillTime": "2020-01-01T00:00:00.000Z"}, (Pool.DERIVATIVES, 25)),
        ("POST", "/derivatives/api/v3/orders/status", {}, (Pool.DERIVATIVES, 1)),
        ("GET", "/derivatives/api/v3/leveragepreferences", {}, (Pool.DERIVATIVES, 2)),
        ("PUT", "/derivatives/api/v3/leveragepreferences", {}, (Pool.DERIVATIVES, 10)),
        ("GET", "/derivatives/api/v3/pnlpreferences", {}, (Pool.DERIVATIVES, 2)),
        ("PUT", "/derivatives/api/v3/pnlpreferences", {}, (Pool.DERIVATIVES, 10)),
        ("POST", "/derivatives/api/v3/withdrawaltospotwallet", {}, (Pool.DERIVATIVES, 100)),
        ("GET", "/derivatives/api/v3/unwindqueue", {}, (Pool.DERIVATIVES, 200)),
        ("POST", "/derivatives/api/v3/transfer", {}, (Pool.DERIVATIVES, 10)),
        ("POST", "/derivatives/api/v3/transfer/subaccount", {}, (Pool.DERIVATIVES, 10)),
        ("GET", "/derivatives/api/v3/subaccount/abc/trading-enabled", {}, (Pool.DERIVATIVES, 2)),
        ("GET", "/derivatives/api/v3/self-trade-strategy", {}, (Pool.DERIVATIVES, 2)),
        ("GET", "/derivatives/api/v3/somethingnew", {}, (Pool.DERIVATIVES, 10)),  # unknown: charged like an order
        ("GET", "/derivatives/api/v3/instruments", {}, (Pool.FREE, 0)),
        ("GET", "/derivatives/api/v3/instruments/status", {}, (Pool.FREE, 0)),
        ("GET", "/derivatives/api/v3/tickers", {}, (Pool.FREE, 0)),
        ("GET", "/derivatives/api/v3/tickers/PF_XBTUSD", {}, (Pool.FREE, 0)),
        ("GET", "/derivatives/api/v3/orderbook", {"symbol": "PF_XBTUSD"}, (Pool.FREE, 0)),
        ("GET", "/api/history/v3/orders", {}, (Pool.HISTORY, 1)),
        ("GET", "/api/history/v3/triggers", {}, (Pool.HISTORY, 1)),
        ("GET", "/api/history/v3/executions", {}, (Pool.HISTORY, 1)),
        ("GET", "/api/history/v2/accountlogcsv", {}, (Pool.HISTORY, 6)),
        ("GET", "/api/history/v3/account-log", {}, (Pool.HISTORY, 3)),  # default count 500
        ("GET", "/api/history/v3/account-log", {"count": 25}, (Pool.HISTORY, 1)),
        ("GET", "/api/history/v3/market/PF_XBTUSD/executions", {}, (Pool.FREE, 0)),
        ("GET", "/api/auth/v1/api-keys/v3/check", {}, (Pool.FREE, 0)),
    ],
)
def test_cost_table(method: str, path: str, params: dict[str, object], expected: tuple[Pool, int]) -> None:
    assert cost_of(method, path, params) == expected


def test_batchorder_costs_nine_plus_n() -> None:
    assert cost_of("POST", "/derivatives/api/v3/batchorder", batch_size=10) == (Pool.DERIVATIVES, 19)


@pytest.mark.parametrize(
    ("count", "cost"), [(1, 1), (25, 1), (26, 2), (50, 2), (51, 3), (1000, 3), (1001, 6), (5000, 6), (5001, 10)]
)
def test_account_log_cost_by_count(count: int, cost: int) -> None:
    assert account_log_cost(count) == cost


def test_costs_are_deducted_and_refill_continuously(clock: FakeClock) -> None:
    budget = KeyBudget(clock)
    budget.reserve(Pool.DERIVATIVES, 10)
    budget.reserve(Pool.DERIVATIVES, 2)
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(488)
    clock.advance(0.1)  # 500 per 10 s = 50 per s
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(493)
    clock.advance(60)
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(500)  # capped


def test_exhausted_budget_raises_with_time_until_it_can(clock: FakeClock) -> None:
    budget = KeyBudget(clock)
    for _ in range(50):
        budget.reserve(Pool.DERIVATIVES, 10, what="sendorder")
    with pytest.raises(RateLimited) as caught:
        budget.reserve(Pool.DERIVATIVES, 10, what="sendorder")
    assert caught.value.retry_after == pytest.approx(0.2)
    assert caught.value.venue_code == "localBudget"
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(0)  # the refused call spent nothing
    clock.advance(caught.value.retry_after)
    budget.reserve(Pool.DERIVATIVES, 10)


def test_history_pool_is_separate(clock: FakeClock) -> None:
    budget = KeyBudget(clock)
    for _ in range(50):
        budget.reserve(Pool.DERIVATIVES, 10)
    budget.reserve(Pool.HISTORY, 3)  # derivatives exhausted, history untouched
    for _ in range(32):
        budget.reserve(Pool.HISTORY, 3)
    assert budget.available(Pool.HISTORY) == pytest.approx(1)
    with pytest.raises(RateLimited) as caught:
        budget.reserve(Pool.HISTORY, 3)
    assert caught.value.retry_after == pytest.approx(12.0)  # 2 tokens at 100 per 600 s
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(0)


def test_free_calls_never_limited(clock: FakeClock) -> None:
    budget = KeyBudget(clock)
    budget.exhaust(Pool.DERIVATIVES)
    budget.reserve(Pool.FREE, 0)


def test_budgets_are_shared_per_key_in_the_process() -> None:
    assert budget_for("key-x") is budget_for("key-x")
    assert budget_for("key-x") is not budget_for("key-y")


def test_two_adapters_on_one_key_share_the_default_budget() -> None:
    a = KrakenFutures("http://x", "shared-key-1", "", connect_timeout=1, read_timeout=1)
    b = KrakenFutures("http://y", "shared-key-1", "", connect_timeout=1, read_timeout=1)
    assert a.client.budget is b.client.budget


def test_concurrent_reservations_never_overspend(clock: FakeClock) -> None:
    budget = KeyBudget(clock)
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            try:
                budget.reserve(Pool.DERIVATIVES, 10)
            except RateLimited:
                continue
            with lock:
                granted.append(10)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 500


def test_adapter_raises_before_sending_when_the_budget_is_spent(
    kraken: KrakenFutures, budget: KeyBudget, rsps: responses.RequestsMock
) -> None:
    budget.exhaust(Pool.DERIVATIVES)
    with pytest.raises(RateLimited) as caught:
        kraken.positions()
    assert caught.value.retry_after == pytest.approx(0.04)  # 2 tokens at 50 per s
    assert len(rsps.calls) == 0  # nothing went out


def test_adapter_spends_per_call(kraken: KrakenFutures, budget: KeyBudget, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{V3}/openpositions", json={"result": "success", "openPositions": []})
    rsps.get(f"{V3}/accounts", json={"result": "success", "accounts": {"flex": _FLEX}})
    kraken.positions()
    kraken.account()
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(496)


def test_venue_api_limit_exceeded_drains_the_local_budget(
    kraken: KrakenFutures, budget: KeyBudget, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{V3}/openpositions", json={"result": "error", "error": "apiLimitExceeded", "serverTime": "x"})
    with pytest.raises(RateLimited) as caught:
        kraken.positions()
    assert caught.value.venue_code == "apiLimitExceeded"
    assert caught.value.retry_after >= 1.0
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(0)
    # The next call is refused locally, without a request.
    with pytest.raises(RateLimited):
        kraken.account()
    assert len(rsps.calls) == 1


_FLEX = {
    "marginEquity": 100,
    "portfolioValue": 101,
    "availableMargin": 90,
    "initialMargin": 10,
    "maintenanceMargin": 5,
}
