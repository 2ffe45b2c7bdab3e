"""Kraken Futures' two rate-limit pools (reference §7), per API key, refilled continuously.

* ``/derivatives``: 500 per 10 s, costed per endpoint; over budget -> ``apiLimitExceeded``.
* ``/api/history``: 100 tokens refilled at 100 per 10 min; over budget -> HTTP 429 ``text/plain`` with
  ``rate-limit-reset: <seconds>``.

Both budgets are configurable (tests want them small) or can be switched off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class RateLimitConfig:
    enabled: bool = True
    derivatives_budget: float = 500.0
    derivatives_window: float = 10.0  # seconds to refill the whole budget
    history_budget: float = 100.0
    history_window: float = 600.0


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated: float

    def take(self, cost: float, now: float) -> float | None:
        """Spend ``cost`` if available and return None; otherwise the seconds until it would be."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now
        if cost <= self.tokens:
            self.tokens -= cost
            return None
        if self.refill_per_second <= 0 or cost > self.capacity:
            return math.inf
        return (cost - self.tokens) / self.refill_per_second


@dataclass
class RateLimiter:
    config: RateLimitConfig = field(default_factory=RateLimitConfig)
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)

    def take(self, key: str, family: str, cost: float, now: float) -> float | None:
        if not self.config.enabled or cost <= 0:
            return None
        bucket = self.buckets.get((key, family))
        if bucket is None:
            budget, window = (
                (self.config.history_budget, self.config.history_window)
                if family == "history"
                else (self.config.derivatives_budget, self.config.derivatives_window)
            )
            bucket = TokenBucket(capacity=budget, refill_per_second=budget / window, tokens=budget, updated=now)
            self.buckets[(key, family)] = bucket
        return bucket.take(cost, now)

    def reconfigure(self, config: RateLimitConfig) -> None:
        self.config = config
        self.buckets.clear()


def account_log_cost(count: int) -> int:
    """History account-log cost by requested count (reference §7)."""
    if count <= 25:
        return 1
    if count <= 50:
        return 2
    if count <= 1000:
        return 3
    if count <= 5000:
        return 6
    return 10
