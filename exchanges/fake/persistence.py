"""The fake's state on disk, so that a restarted fake is the same exchange: same positions, orders, fills, account
log, prices and id counters (``manage.py fake_kraken --state-file PATH``; ``make run`` keeps it under ``.data/``).

Saved: the engine's whole state (``exchanges.sim.codec``) and what the venue keeps beside it (leverage and P&L
preferences, dead man's switches, when each key was first seen). Not saved: API keys and secrets - they come from
``--key``/``--accounts`` at every start, and a key given again finds its account as it was. Written atomically
(a temporary file in the same directory, flushed, then renamed over the old one), so a crash mid-write leaves
the previous complete file.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchanges.fake.wire import iso
from exchanges.sim.engine import SimEngine

FORMAT = 1


class StateFileError(Exception):
    """The state file exists but cannot be used; starting empty instead would silently lose positions."""


@dataclass
class VenueState:
    leverage: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    pnl_currency: dict[str, dict[str, str]] = field(default_factory=dict)
    dead_man: dict[str, datetime] = field(default_factory=dict)
    key_created: dict[str, datetime] = field(default_factory=dict)


def snapshot(engine: SimEngine, venue: VenueState, now: datetime) -> dict[str, Any]:
    """Everything to save, JSON-safe. Take it under the fake's lock; encoding and writing can happen outside."""
    return {
        "format": FORMAT,
        "saved_at": iso(now),
        "engine": engine.to_dict(),
        "venue": {
            "leverage": {a: {s: str(v) for s, v in prefs.items()} for a, prefs in venue.leverage.items()},
            "pnl_currency": {a: dict(prefs) for a, prefs in venue.pnl_currency.items()},
            "dead_man": {a: t.isoformat() for a, t in venue.dead_man.items()},
            "key_created": {k: t.isoformat() for k, t in venue.key_created.items()},
        },
    }


def load(path: Path) -> tuple[SimEngine, VenueState]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StateFileError(f"cannot read the fake's state file {path}: {exc}; delete it to start empty") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise StateFileError(f"{path} is not a fake Kraken state file of format {FORMAT} (format {found!r})")
    try:
        engine = SimEngine.from_dict(raw["engine"])
        saved = raw.get("venue") or {}
        venue = VenueState(
            leverage={a: {s: Decimal(v) for s, v in p.items()} for a, p in saved.get("leverage", {}).items()},
            pnl_currency={a: dict(p) for a, p in saved.get("pnl_currency", {}).items()},
            dead_man={a: datetime.fromisoformat(t) for a, t in saved.get("dead_man", {}).items()},
            key_created={k: datetime.fromisoformat(t) for k, t in saved.get("key_created", {}).items()},
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise StateFileError(f"{path} does not hold a readable engine state: {type(exc).__name__}: {exc}") from exc
    return engine, venue


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)  # atomic on POSIX: readers see the old file or the new one, never half
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
