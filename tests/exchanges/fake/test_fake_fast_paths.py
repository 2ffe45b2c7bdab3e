"""The fake's fast paths answer exactly what the plain computations they replace would: same bytes, same sums.

They exist because the fake shares two cores with the stack in bench/run.py; a faster fake must not be a
different fake."""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from exchanges.fake.api.market import ZERO, DayStats
from exchanges.fake.wire import Raw, dumps, number


class Colour(StrEnum):
    RED = "red"


def reference_dumps(obj: Any) -> str:
    """The encoder as it was before the fast path (kept here as the specification)."""
    out: list[str] = []

    def encode(obj: Any) -> None:
        if isinstance(obj, Raw):
            out.append(str.__str__(obj))
        elif obj is None:
            out.append("null")
        elif obj is True:
            out.append("true")
        elif obj is False:
            out.append("false")
        elif isinstance(obj, Decimal):
            out.append(str.__str__(number(obj)))
        elif isinstance(obj, str):
            out.append(json.dumps(str(obj)))
        elif isinstance(obj, int | float):
            out.append(json.dumps(obj))
        elif isinstance(obj, dict | OrderedDict):
            out.append("{")
            for i, (k, v) in enumerate(obj.items()):
                if i:
                    out.append(",")
                out.append(json.dumps(str(k)))
                out.append(":")
                encode(v)
            out.append("}")
        elif isinstance(obj, list | tuple):
            out.append("[")
            for i, v in enumerate(obj):
                if i:
                    out.append(",")
                encode(v)
            out.append("]")
        else:
            raise TypeError(type(obj).__name__)

    encode(obj)
    return "".join(out)


def random_value(rng: random.Random, depth: int = 0) -> Any:
    leaves = [
        lambda: rng.choice(["", "plain", 'quo"te', "back\\slash", "tab\tnew\nline", "é ü 漢字 🚀", "\x00\x1f"]),
        lambda: Colour.RED,
        lambda: Raw("61000.5"),
        lambda: Decimal(rng.choice(["0", "0.000", "-1.50", "1E+3", "60000", "0.00001000", "-0"])),
        lambda: rng.randint(-(10**20), 10**20),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice([0.1, -2.5, 1e300, 3.0]),
    ]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(leaves)()
    kind = rng.randrange(4)
    items = [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind == 0:
        return items
    if kind == 1:
        return tuple(items)
    keys = [rng.choice(["a", "b\u00e9", 'k"', Colour.RED, 7, "serverTime"]) for _ in items]
    pairs = list(zip(keys, items, strict=True))
    return dict(pairs) if kind == 2 else OrderedDict(pairs)


def test_dumps_writes_exactly_what_the_plain_encoder_wrote() -> None:
    rng = random.Random(20261201)
    for _ in range(3000):
        value = random_value(rng)
        assert dumps(value) == reference_dumps(value)


@dataclass
class Fill:
    symbol: str
    size: Decimal
    price: Decimal
    time: datetime


def plain_day(fills: list[Fill], symbol: str, cutoff: datetime) -> tuple[Fill | None, Decimal, Decimal]:
    day = [f for f in fills if f.symbol == symbol and f.time >= cutoff]
    return (
        day[-1] if day else None,
        sum((f.size for f in day), ZERO),
        sum((f.size * f.price for f in day), ZERO),
    )


def test_day_stats_match_a_full_scan_as_fills_arrive_and_time_moves() -> None:
    rng = random.Random(7)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for backwards in (False, True):  # a controllable clock may step back; the stats must notice and still agree
        fills: list[Fill] = []
        stats = DayStats()
        now = start
        for _ in range(600):
            now += timedelta(minutes=rng.choice([0, 1, 17, 240, 600]))
            if backwards and rng.random() < 0.05:
                now -= timedelta(hours=3)
            for _ in range(rng.randrange(3)):
                symbol = rng.choice(["PF_XBTUSD", "PF_ETHUSD"])
                size = Decimal(rng.choice(["0.001", "0.0100", "2", "0.5"]))
                fills.append(Fill(symbol, size, Decimal(rng.choice(["60000", "61000.5", "2999.95"])), now))
            for symbol in ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"):
                cutoff = now - timedelta(days=1) + timedelta(minutes=rng.choice([0, 0, 0, -30, 45]))
                assert stats.of(fills, symbol, cutoff) == plain_day(fills, symbol, cutoff)  # type: ignore[arg-type]


def test_day_stats_start_over_on_another_fill_list() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    stats = DayStats()
    first = [Fill("PF_XBTUSD", Decimal("1"), Decimal("10"), now)]
    second = [Fill("PF_XBTUSD", Decimal("2"), Decimal("20"), now)]
    cutoff = now - timedelta(days=1)
    assert stats.of(first, "PF_XBTUSD", cutoff) == plain_day(first, "PF_XBTUSD", cutoff)  # type: ignore[arg-type]
    assert stats.of(second, "PF_XBTUSD", cutoff) == plain_day(second, "PF_XBTUSD", cutoff)  # type: ignore[arg-type]
