"""Deterministic simulation of a Kraken Futures account: matching, positions, margin, fees, reduce-only.

Shared by paper trading (a persisted simulated account) and the fake Kraken Futures server used by tests.
"""

from __future__ import annotations

from exchanges.sim.engine import SimEngine
from exchanges.sim.model import (
    CancelOutcome,
    EditOutcome,
    EngineConfig,
    LedgerRow,
    MarginSummary,
    SimEvent,
    SimFill,
    SimOrder,
    SimOrderRequest,
    SubmitResult,
)
from exchanges.sim.vocabulary import FillType, OrderKind, Reason, SimOrderState, Status

__all__ = [
    "CancelOutcome",
    "EditOutcome",
    "EngineConfig",
    "FillType",
    "LedgerRow",
    "MarginSummary",
    "OrderKind",
    "Reason",
    "SimEngine",
    "SimEvent",
    "SimFill",
    "SimOrder",
    "SimOrderRequest",
    "SimOrderState",
    "Status",
    "SubmitResult",
]
