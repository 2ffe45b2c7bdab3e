"""Fixtures for the Unified WebSocket tests: a FakeKraken with its Unified WebSocket endpoint attached (one engine
behind both), one funded account with its Futures key and its Kraken (Spot-style) key, and adapters on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET, FAKE_SPOT_KEY, FAKE_SPOT_SECRET
from exchanges.fake.server import FakeAccount, FakeKraken
from exchanges.fake.uws import FakeUnifiedWebSocket
from exchanges.kraken.uws.adapter import KrakenUnifiedWebSocket, forget_market_feeds


@pytest.fixture
def venue() -> Iterator[tuple[FakeKraken, FakeUnifiedWebSocket]]:
    fake = FakeKraken(port=0, accounts=[FakeAccount(FAKE_KEY, FAKE_SECRET, collateral=Decimal("10000"))]).start()
    uws = FakeUnifiedWebSocket(fake).start()
    uws.add_spot_key(FAKE_SPOT_KEY, FAKE_SPOT_SECRET, futures_key=FAKE_KEY)
    yield fake, uws
    forget_market_feeds()
    uws.stop()
    fake.stop()
    assert not fake.errors, "the fake Kraken raised while serving:\n" + "\n".join(fake.errors)
    assert not uws.errors, "the fake Unified WebSocket raised while serving:\n" + "\n".join(uws.errors)


@pytest.fixture
def connect(venue: tuple[FakeKraken, FakeUnifiedWebSocket]) -> Iterator[Callable[..., KrakenUnifiedWebSocket]]:
    fake, uws = venue
    made: list[KrakenUnifiedWebSocket] = []

    def factory(**overrides: Any) -> KrakenUnifiedWebSocket:
        options: dict[str, Any] = {
            "api_key": FAKE_SPOT_KEY,
            "api_secret": FAKE_SPOT_SECRET,
            "private_url": uws.private_url,
            "public_url": uws.public_url,
            "spot_rest_url": fake.url,
            "open_timeout": 2.0,
            "ready_timeout": 3.0,
            "ack_timeout": 1.0,
        }
        options.update(overrides)
        adapter = KrakenUnifiedWebSocket(**options)
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        adapter.close()
