"""Determinism you can check: recompute a stored decision's verdict from what it stored, and compare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit.models import Decision
from routing.domain import intent_from_json, route_config_from_json, snapshot_from_json, to_json
from routing.risk import evaluate


@dataclass(frozen=True)
class Replay:
    decision_id: int
    identical: bool
    stored: Any
    recomputed: Any


def replay(decision: Decision) -> Replay | None:
    """None for decisions made at intake (nothing was evaluated: there is nothing to replay)."""
    if decision.verdict is None or decision.snapshot is None or decision.evaluated_at is None:
        return None
    verdict = evaluate(
        intent_from_json(decision.intent),
        route_config_from_json(decision.route_config),
        snapshot_from_json(decision.snapshot),
        decision.evaluated_at,
    )
    recomputed = to_json(verdict)
    return Replay(decision.pk, recomputed == decision.verdict, decision.verdict, recomputed)
