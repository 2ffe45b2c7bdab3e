from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def fresh_rate_budgets() -> Iterator[None]:
    """Every test starts with full per-key request budgets (exchanges/kraken/ratelimit.py keeps them per process,
    keyed by the API key, and every test's fake uses the same key): otherwise a test that reconciles often drains
    the 100-token history pool (refilled over 10 minutes) and a later test's order lookups are refused locally as
    RateLimited - which made tests/routing/test_lifecycle.py fail after test_engine_scenarios.py in one run."""
    from exchanges.kraken import ratelimit

    with ratelimit._budgets_lock:
        ratelimit._budgets.clear()
    yield
