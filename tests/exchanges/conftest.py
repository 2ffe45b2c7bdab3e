"""Fixtures shared by the exchange tests: a running fake Kraken Futures server with one funded account.

Not a package (see tests/exchanges/kraken/conftest.py): import the credentials by name from
``exchanges.fake.credentials`` (re-exported here for convenience, but importing a conftest is fragile).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET
from exchanges.fake.server import FakeAccount, FakeKraken

__all__ = ["FAKE_KEY", "FAKE_SECRET"]


@pytest.fixture
def fake_kraken() -> Iterator[FakeKraken]:
    """A FakeKraken on a free port, default markets (XBT 60000, ETH 3000, SOL 150, PEPE 0.00001), one account:
    ``FAKE_KEY``/``FAKE_SECRET``, full permissions, 10,000 USD. Function-scoped: every test gets fresh state."""
    fake = FakeKraken(port=0, accounts=[FakeAccount(FAKE_KEY, FAKE_SECRET, collateral=Decimal("10000"))], seed=0)
    fake.start()
    yield fake
    fake.stop()
    # A request the fake itself failed on is a bug in the fake, not in the client under test: say so loudly.
    assert not fake.errors, "the fake Kraken raised while serving:\n" + "\n".join(fake.errors)
