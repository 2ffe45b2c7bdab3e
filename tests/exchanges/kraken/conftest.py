"""Fixtures for the Kraken adapter tests: a fake clock, a private rate budget, a strict ``responses`` mock.

This directory has no ``__init__.py`` on purpose: without ``tests/exchanges/__init__.py`` a package here would be
imported as top-level ``kraken`` and shadow python-kraken-sdk. Test modules are therefore named ``test_kraken_*``
and shared helpers live in ``kraken_testkit``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from kraken_testkit import API_KEY, API_SECRET, BASE, FakeClock

from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.ratelimit import KeyBudget


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def budget(clock: FakeClock) -> KeyBudget:
    return KeyBudget(clock)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def kraken(budget: KeyBudget) -> Iterator[KrakenFutures]:
    adapter = KrakenFutures(BASE, API_KEY, API_SECRET, connect_timeout=1.0, read_timeout=1.0, budget=budget)
    yield adapter
    adapter.close()
