"""Overlapping reads of one key (routing/snapshot.py reads positions, ticker and account at once) can reach Kraken in
another order than they drew their nonces. A read refused for that (``nonceBelowThreshold``) is sent once more with
a fresh nonce instead of reporting the key broken; an order call is never re-sent. Over real HTTP against the fake
Kraken, whose nonce rule is Kraken's (refused at or below the highest nonce that arrived before the tolerance)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from exchanges.base import OrderRequest, OrderType, Side
from exchanges.errors import AuthenticationFailed
from exchanges.fake.server import FakeKraken
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.ratelimit import KeyBudget
from exchanges.kraken.signing import NonceSource

KEY = "nonce-order-key"
SECRET = "q3eI3mB8Yx6hE2pZbq0n1mRkQfYVd8Hq0m7gN9pK1wLrT5sXc2vB4nM6aZ8dF0gH1jK3lQ5wE7rT9yU1iO3pA5sD7w=="


@pytest.fixture
def fake() -> Iterator[FakeKraken]:
    # No tolerance: a nonce that arrives after a higher one is refused at once, as Kraken does past its window.
    server = FakeKraken(host="127.0.0.1", port=0, nonce_tolerance=0.0).start()
    server.add_account(KEY, SECRET, collateral=Decimal(100000))
    yield server
    server.stop()


def _adapter(fake: FakeKraken) -> KrakenFutures:
    adapter = KrakenFutures(fake.url, KEY, SECRET, connect_timeout=2.0, read_timeout=5.0, budget=KeyBudget())
    # The first nonce drawn is one that "drew early and arrived late": below what the key has already seen.
    stale = iter([1])
    adapter.client.nonces = NonceSource(clock_ns=lambda: next(stale, time.time_ns()))
    return adapter


def _seen_by_the_key(fake: FakeKraken) -> None:
    with KrakenFutures(fake.url, KEY, SECRET, connect_timeout=2.0, read_timeout=5.0, budget=KeyBudget()) as other:
        other.positions()  # a later nonce reaches the venue first
    time.sleep(0.01)  # and settles (arrived before the tolerance, here zero)


def test_a_read_refused_for_its_nonce_order_is_read_once_more_with_a_fresh_nonce(fake):
    _seen_by_the_key(fake)
    with _adapter(fake) as adapter:
        assert adapter.account().equity > 0
    assert fake.calls("accounts") == 2  # the refused read, then the one that was answered


def test_an_order_refused_for_its_nonce_is_not_sent_again(fake):
    _seen_by_the_key(fake)
    order = OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.001"), OrderType.MARKET, "nonce-order-cid-1")
    with _adapter(fake) as adapter, pytest.raises(AuthenticationFailed) as raised:
        adapter.place_order(order)
    assert raised.value.venue_code == "nonceBelowThreshold"
    assert fake.calls("sendorder") == 1
