"""Which of the fake Kraken's endpoints were called, split by who may call them: public market data (no key) or
private (signed: orders, account, history, key check). Paper accounts must only ever make public calls."""

from __future__ import annotations

from collections.abc import Mapping

from exchanges.fake.api.endpoints import DERIVATIVES, HISTORY, KEY_CHECK

PUBLIC = frozenset(name for name, endpoint in DERIVATIVES.items() if endpoint.access == "public")
PRIVATE = frozenset({*(n for n, e in DERIVATIVES.items() if e.access != "public"), *HISTORY, KEY_CHECK.name})


def private_calls(calls: Mapping[str, int]) -> dict[str, int]:
    """The private endpoints in a fake's call counts (``FakeKraken.all_calls()`` or ``/_fake/calls``) that were hit."""
    unknown = set(calls) - PUBLIC - PRIVATE
    assert not unknown, f"endpoints neither public nor private: {unknown}"
    return {name: n for name, n in calls.items() if name in PRIVATE and n}


def public_calls(calls: Mapping[str, int]) -> dict[str, int]:
    return {name: n for name, n in calls.items() if name in PUBLIC and n}
