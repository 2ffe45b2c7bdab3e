"""Fixtures for the paper-trading tests: the fake Kraken serving its public market data over HTTP (no accounts on
it at all - a paper account needs none), and a paper account of a fresh user.

No ``__init__.py`` here (see tests/exchanges/kraken/conftest.py): modules are named ``test_paper_*``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from paper_testkit import MARK, SYMBOL

from accounts.models import ExchangeAccount, User
from exchanges.connect import forget_exchanges, paper_exchange
from exchanges.fake.server import FakeKraken
from exchanges.paper.adapter import PaperExchange
from exchanges.paper.service import create_paper_account
from routing.snapshot import forget_instruments


@pytest.fixture
def venue() -> Iterator[FakeKraken]:
    fake = FakeKraken(port=0, seed=0).start()
    fake.set_mark(SYMBOL, MARK)
    yield fake
    fake.stop()
    assert fake.errors == []  # the fake itself never failed on one of our requests


@pytest.fixture
def market_url(venue: FakeKraken, settings: Any) -> Iterator[str]:
    settings.KRAKEN_FUTURES_URL = venue.url
    settings.KRAKEN_READ_TIMEOUT = 1.0
    # Marks are read afresh on every operation here, so a test's mark move is seen by the next call.
    settings.PAPER_MARK_TTL_SECONDS = 0.0
    forget_exchanges()
    forget_instruments()
    yield venue.url
    forget_exchanges()
    forget_instruments()


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_user(username="paper", email="paper@example.com", password="x" * 12)


@pytest.fixture
def paper(owner: User, market_url: str) -> ExchangeAccount:
    return create_paper_account(owner, starting_balance=Decimal("10000"))


@pytest.fixture
def exchange(paper: ExchangeAccount) -> PaperExchange:
    built = paper_exchange(paper)
    assert isinstance(built, PaperExchange)
    return built
