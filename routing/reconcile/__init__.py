"""Reconciliation: bring our books up to date with the exchange, finish what crashed workers left, and flag -
never "fix" by trading - any disagreement between the exchange position and what our orders imply.

- `tick` says which accounts are due (not reconciled within the period, or with orders in flight) and claims them;
  the engine (routing/engine.py) runs one short job per claimed account on threads alerts never need, so nothing
  ever holds a worker near a timeout, however many accounts there are.
- `sweep` puts back alerts a dead worker claimed and never decided (the engine runs it every few seconds).
- `account` reconciles one account: unknown orders, fills, the account log, open orders, drift, worst-case stops -
  each route on its own, so one route's failure never stops the others.
- `run` does all of it inline (`manage.py reconcile`, tests).

Idempotent throughout: fills and account-log rows are keyed by the exchange's own ids, order states move only
through the transition table, and every send happens under the route's lease.
"""

from __future__ import annotations

from routing.reconcile.report import Report
from routing.reconcile.run import run

__all__ = ["Report", "run"]
