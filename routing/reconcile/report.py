from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    """What a reconciliation did, for the log and `manage.py reconcile`."""

    accounts: int = 0
    fills: int = 0
    ledger: int = 0
    orders_moved: int = 0
    resolutions: list[str] = field(default_factory=list)
    drifts: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    alerts_redriven: int = 0
    errors: list[str] = field(default_factory=list)
