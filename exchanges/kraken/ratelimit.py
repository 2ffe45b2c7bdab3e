"""Per-key request budgets that follow Kraken's cost table (reference §7), checked before anything is sent.

Two pools per API key: ``/derivatives`` (500 per 10 s, refilled continuously) and ``/api/history`` (100 tokens,
refilled at 100 per 10 min). Public endpoints are free. A call whose cost the pool cannot cover raises
``RateLimited(retry_after=<seconds until it can>)`` without touching the network, so callers back off instead
of earning ``apiLimitExceeded`` - which on Kraken also counts against the key.

Budgets are shared by every client of one key in this process (``budget_for``). Known limit: they are not
shared across processes (gunicorn workers, django-q workers); Kraken's own limit still applies, and when it
answers ``apiLimitExceeded`` the client drains the local pool (``KeyBudget.exhaust``) so this process backs off
too. A cross-process budget would need shared state (e.g. Redis).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from exchanges.errors import RateLimited

Clock = Callable[[], float]


class Pool(StrEnum):
    DERIVATIVES = "derivatives"
    HISTORY = "history"
    FREE = "free"


@dataclass(frozen=True)
class PoolSpec:
    capacity: float
    refill_seconds: float  # time to refill from empty to ``capacity``

    @property
    def rate(self) -> float:
        return self.capacity / self.refill_seconds


DERIVATIVES_POOL = PoolSpec(capacity=500, refill_seconds=10.0)
# Kraken's published history numbers have changed over time (60 or 100 tokens); budget for the current 100.
HISTORY_POOL = PoolSpec(capacity=100, refill_seconds=600.0)

# (method, path below /derivatives/api/v3/) -> cost. Paths with an id segment are matched by prefix below.
DERIVATIVES_COSTS: dict[tuple[str, str], int] = {
    ("POST", "sendorder"): 10,
    ("POST", "editorder"): 10,
    ("POST", "cancelorder"): 10,
    ("POST", "cancelallorders"): 25,
    ("POST", "cancelallordersafter"): 25,
    ("GET", "accounts"): 2,
    ("GET", "openpositions"): 2,
    ("GET", "openorders"): 2,
    ("GET", "fills"): 2,  # 25 with lastFillTime, see cost_of
    ("POST", "orders/status"): 1,
    ("GET", "orders/status"): 1,
    ("GET", "leveragepreferences"): 2,
    ("PUT", "leveragepreferences"): 10,
    ("GET", "pnlpreferences"): 2,
    ("PUT", "pnlpreferences"): 10,
    ("POST", "withdrawaltospotwallet"): 100,
    ("GET", "unwindqueue"): 200,
    ("POST", "transfer"): 10,
    ("POST", "transfer/subaccount"): 10,
    ("GET", "self-trade-strategy"): 2,
    ("PUT", "self-trade-strategy"): 2,
}
FILLS_WITH_LAST_FILL_TIME = 25
BATCH_BASE_COST = 9  # batchorder costs 9 + number of instructions
# Public market data: no key, no cost.
PUBLIC_DERIVATIVES = ("instruments", "tickers", "orderbook", "history")
# Private endpoints not in the published table are charged like an order call, erring on the side of backing off.
UNKNOWN_DERIVATIVES_COST = 10

HISTORY_COSTS: dict[str, int] = {"orders": 1, "executions": 1, "triggers": 1, "positions": 1, "accountlogcsv": 6}
UNKNOWN_HISTORY_COST = 1


def account_log_cost(count: int) -> int:
    """Account-log cost by ``count`` (Kraken's default count is 500)."""
    if count <= 25:
        return 1
    if count <= 50:
        return 2
    if count <= 1000:
        return 3
    if count <= 5000:
        return 6
    return 10


def _param(params: Mapping[str, object] | Sequence[tuple[str, object]], name: str) -> object | None:
    items = params.items() if isinstance(params, Mapping) else params
    for key, value in items:
        if key == name:
            return value
    return None


def cost_of(
    method: str,
    path: str,
    params: Mapping[str, object] | Sequence[tuple[str, object]] = (),
    *,
    batch_size: int = 0,
) -> tuple[Pool, int]:
    """Which pool a request draws from and what it costs. ``path`` is the full URL path."""
    method = method.upper()
    if path.startswith("/derivatives/api/v3/"):
        endpoint = path.removeprefix("/derivatives/api/v3/").strip("/")
        if endpoint.split("/", 1)[0] in PUBLIC_DERIVATIVES:
            return Pool.FREE, 0
        if endpoint == "batchorder":
            return Pool.DERIVATIVES, BATCH_BASE_COST + batch_size
        if endpoint == "fills" and _param(params, "lastFillTime") is not None:
            return Pool.DERIVATIVES, FILLS_WITH_LAST_FILL_TIME
        if endpoint.startswith("subaccount/") and endpoint.endswith("trading-enabled"):
            return Pool.DERIVATIVES, 2
        return Pool.DERIVATIVES, DERIVATIVES_COSTS.get((method, endpoint), UNKNOWN_DERIVATIVES_COST)
    if path.startswith("/api/history/"):
        # /api/history/v2|v3/<endpoint>; public market history (/market/...) is free.
        endpoint = path.split("/", 4)[4] if path.count("/") >= 4 else ""
        if endpoint.startswith("market/"):
            return Pool.FREE, 0
        if endpoint == "account-log":
            raw = _param(params, "count")
            count = int(str(raw)) if raw is not None else 500
            return Pool.HISTORY, account_log_cost(count)
        return Pool.HISTORY, HISTORY_COSTS.get(endpoint, UNKNOWN_HISTORY_COST)
    # /api/auth/v1/api-keys/v3/check and /api/charts: Kraken publishes no cost for them.
    return Pool.FREE, 0


class TokenBucket:
    """A continuously refilled bucket; thread-safe; the clock is injectable so tests never sleep."""

    def __init__(self, spec: PoolSpec, clock: Clock = time.monotonic) -> None:
        self.spec = spec
        self._clock = clock
        self._tokens = float(spec.capacity)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(float(self.spec.capacity), self._tokens + elapsed * self.spec.rate)
        self._stamp = now

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens

    def try_reserve(self, cost: float) -> float:
        """Take ``cost`` tokens and return 0.0, or take nothing and return the seconds until it could."""
        if cost <= 0:
            return 0.0
        with self._lock:
            self._refill()
            if cost > self.spec.capacity:
                # Can never be served; a wait would not help. Report the full refill time.
                return self.spec.refill_seconds
            if self._tokens >= cost:
                self._tokens -= cost
                return 0.0
            return (cost - self._tokens) / self.spec.rate

    def exhaust(self) -> None:
        """The venue said we are over its limit: whatever we counted, assume nothing is left."""
        with self._lock:
            self._refill()
            self._tokens = 0.0


class KeyBudget:
    """Both pools of one API key."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._buckets = {
            Pool.DERIVATIVES: TokenBucket(DERIVATIVES_POOL, clock),
            Pool.HISTORY: TokenBucket(HISTORY_POOL, clock),
        }

    def bucket(self, pool: Pool) -> TokenBucket:
        return self._buckets[pool]

    def available(self, pool: Pool) -> float:
        return self._buckets[pool].available if pool in self._buckets else float("inf")

    def reserve(self, pool: Pool, cost: int, *, what: str = "") -> None:
        """Spend ``cost`` from ``pool`` or raise ``RateLimited`` (nothing sent, nothing spent)."""
        if pool is Pool.FREE or cost <= 0:
            return
        wait = self._buckets[pool].try_reserve(cost)
        if wait > 0:
            raise RateLimited(
                f"local {pool} budget cannot cover {what or 'request'} (cost {cost}); retry in {wait:.2f}s",
                retry_after=wait,
                venue_code="localBudget",
                local=True,
            )

    def exhaust(self, pool: Pool) -> None:
        if pool in self._buckets:
            self._buckets[pool].exhaust()

    def wait_for(self, pool: Pool, cost: int) -> float:
        """Seconds until ``cost`` could be reserved (0 if now); reserves nothing."""
        if pool not in self._buckets:
            return 0.0
        bucket = self._buckets[pool]
        available = bucket.available
        return 0.0 if available >= cost else (cost - available) / bucket.spec.rate


_budgets: dict[str, KeyBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(api_key: str) -> KeyBudget:
    """The process-wide budget of one key (keyed by a hash, so the registry holds no key material)."""
    fingerprint = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    with _budgets_lock:
        budget = _budgets.get(fingerprint)
        if budget is None:
            budget = _budgets[fingerprint] = KeyBudget()
        return budget
