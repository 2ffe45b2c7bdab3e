""" "Test this route": what the route would decide for a sample alert right now, against the live snapshot.

The same pure `routing.risk.evaluate` the pipeline runs, on the same `routing.snapshot.read_snapshot`, with the
same sentence - but nothing is sent and nothing is stored: no Alert, no Decision, no Order. (Reading the snapshot
talks to the exchange, so it can fail; the preview then shows that, as the real decision would.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.access import has_live_access
from routing import selectors
from routing.domain import AlertIntent, Check, Snapshot, Verdict
from routing.models import Route, engine_state
from routing.pipeline import decision_sentence
from routing.risk import evaluate
from routing.snapshot import base_snapshot, open_exchange, read_snapshot


@dataclass(frozen=True)
class Preview:
    intent: AlertIntent
    snapshot: Snapshot
    verdict: Verdict
    sentence: str

    @property
    def would_send(self) -> bool:
        return self.verdict.action.value == "send"

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks


def preview(route: Route, intent: AlertIntent, now: datetime) -> Preview:
    account = route.exchange_account
    exchange, readable = open_exchange(account, now)
    snapshot = base_snapshot(
        route,
        account,
        now,
        live_access=has_live_access(route.owner_id, now),
        state=engine_state(route),
        in_flight=tuple(o.client_order_id or "" for o in selectors.in_flight_orders(route.pk)),
        credentials_readable=readable,
    )
    if exchange is not None and account is not None:
        snapshot = read_snapshot(snapshot, route, account, exchange)
    verdict = evaluate(intent, route.config(), snapshot, now)
    return Preview(
        intent=intent, snapshot=snapshot, verdict=verdict, sentence=decision_sentence(verdict, snapshot, route.symbol)
    )
