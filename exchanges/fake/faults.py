"""Fault switches: "the next N calls to this endpoint misbehave in this way".

Faults are consumed in the order they were added. A fault applies at one of two stages of a request:

* before authentication (nothing is applied to the engine): ``latency`` (then answers normally), ``http_5xx``,
  ``timeout_before``, ``rate_limit``, ``unavailable``;
* after authentication, around the real handler: ``reject`` (instead of it), ``accept_then_drop`` and
  ``malformed`` (after it, when applied), ``drop_openpositions_key`` (rewrites its answer).

A fault waiting for a later stage is not consumed by a request that never gets there (e.g. fails its signature).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRE_AUTH = frozenset({"latency", "http_5xx", "timeout_before", "rate_limit", "unavailable"})
POST_AUTH = frozenset({"reject", "accept_then_drop", "malformed", "drop_openpositions_key"})
KINDS = PRE_AUTH | POST_AUTH

# Kept short so that tests stay fast; clients under test use read timeouts below these.
DEFAULTS: dict[str, dict[str, Any]] = {
    "latency": {"seconds": 1.0},
    "http_5xx": {"status": 502, "body": "html"},
    "timeout_before": {"seconds": 2.0},
    "accept_then_drop": {"seconds": 2.0},
    "rate_limit": {"status": None, "reset": 1},
    "reject": {"status": "insufficientAvailableFunds"},
    "malformed": {"apply": True, "body": "truncated"},
    "unavailable": {"status": 200},
    "drop_openpositions_key": {},
}
REJECTABLE = frozenset({"sendorder", "editorder"})


@dataclass
class Fault:
    endpoint: str  # an endpoint name ("sendorder", "orders/status", "account-log" ...) or "*"
    kind: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, endpoint: str) -> bool:
        return self.remaining > 0 and self.endpoint in ("*", endpoint)

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "kind": self.kind, "remaining": self.remaining, "params": self.params}


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, endpoint: str, kind: str, count: int = 1, **params: Any) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        if kind == "reject" and endpoint not in REJECTABLE:
            raise ValueError(f"'reject' applies to {sorted(REJECTABLE)}, not {endpoint!r}")
        if kind == "drop_openpositions_key" and endpoint not in ("openpositions", "*"):
            raise ValueError("'drop_openpositions_key' applies to openpositions")
        unknown = set(params) - set(DEFAULTS[kind])
        if unknown:
            raise ValueError(f"unknown params for {kind}: {sorted(unknown)}")
        fault = Fault(endpoint=endpoint, kind=kind, remaining=count, params={**DEFAULTS[kind], **params})
        self._faults.append(fault)
        return fault

    def take(self, endpoint: str, stage: frozenset[str]) -> Fault | None:
        for fault in self._faults:
            if fault.kind in stage and fault.matches(endpoint):
                if fault.kind == "drop_openpositions_key" and endpoint != "openpositions":
                    continue
                if fault.kind == "reject" and endpoint not in REJECTABLE:
                    continue
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return list(self._faults)
