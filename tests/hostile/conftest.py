from __future__ import annotations

import os

import pytest

from tests.routing.conftest import account, exchange_url, fake, make_route, trader  # noqa: F401

# `make test` runs a bounded hostile suite (tens of seconds); HOSTILE=long runs each part for minutes.
LONG = os.environ.get("HOSTILE") == "long"


def examples(short: int, long: int) -> int:
    return long if LONG else short


@pytest.fixture
def transport() -> str:
    """The routing fixtures run exchange tests on both transports; what is tested here does not depend on it."""
    return "rest"
