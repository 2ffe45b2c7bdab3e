from __future__ import annotations

import pytest

# The routing fixtures (a trader, an exchange account, routes, the in-process fake Kraken), shared.
from tests.routing.conftest import account, exchange_url, fake, make_route, trader  # noqa: F401


@pytest.fixture
def transport() -> str:
    """The routing fixtures run exchange tests on both transports; what is tested here does not depend on it."""
    return "rest"
