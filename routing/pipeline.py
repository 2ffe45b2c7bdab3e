"""The one orchestrator: from a stored alert to exactly one Decision and at most one exchange order per leg.

1. Take the route's lease (a conditional UPDATE) so alerts of one route run one at a time, in the order TradingView
   fired them (`fired_at`, then arrival) - whichever task holds the lease works through the route's queue.
2. Claim each alert with a conditional UPDATE: exactly one worker proceeds.
3. Read a snapshot, run the pure `routing.risk.evaluate`, and commit the Decision and its Order rows - client order
   ids minted from our primary keys - before any order call leaves the process.
4. Submit each leg; a definitive answer settles the order, anything else leaves it `unknown` for lookup. Never a
   blind retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import ExchangeAccount
from audit.models import Alert, Decision, Order
from audit.order_states import OrderState
from audit.reasons import Reason, explain
from billing.access import has_live_access
from exchanges.base import Exchange, OrderRequest, OrderType, Side
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected, RateLimited
from routing import lease, lifecycle, orders, protection
from routing.crashpoints import crashpoint
from routing.domain import Check, Snapshot, Verdict, VerdictAction, intent_from_json, to_json
from routing.risk import evaluate
from routing.snapshot import read_snapshot

logger = logging.getLogger(__name__)

ACCEPTED = (OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.FILLED)
Clock = Callable[[], datetime]


def process_alert(alert_id: int, *, clock: Clock = timezone.now) -> None:
    """Make sure this alert gets decided: by us, or by whoever holds its route's lease right now.

    A task that finds the lease taken returns at once instead of waiting (a waiting task would hold a worker
    hostage): the holder re-checks the route's queue when it releases the lease (`routing.lease.release` hands
    on), and our alert was committed before we looked, so it is bound to be seen. A holder that dies leaves a lease
    that expires; the sweeper re-drives what it left queued.
    """
    route_id = Alert.objects.filter(pk=alert_id).values_list("route_id", flat=True).first()
    if route_id is None:
        return
    while (held := lease.acquire(route_id, clock())) is not None:
        try:
            _drain_route(held, clock)
        finally:
            lease.release(held, hand_on=False)
        if not Alert.objects.filter(route_id=route_id, status=Alert.Status.QUEUED).exists():
            return


def _drain_route(held: lease.Lease, clock: Clock) -> None:
    while True:
        next_id = (
            Alert.objects.filter(route_id=held.route_id, status=Alert.Status.QUEUED)
            .order_by("fired_at", "received_at", "id")
            .values_list("pk", flat=True)
            .first()
        )
        if next_id is None:
            return
        now = clock()
        if not lease.refresh(held, now):
            return  # we were too slow and someone else holds the route now: they carry on, we stop
        claimed = Alert.objects.filter(pk=next_id, status=Alert.Status.QUEUED).update(
            status=Alert.Status.PROCESSING, claimed_at=now
        )
        if claimed == 1:
            crashpoint("after_claim")
            decide_and_send(next_id, now=now)


def decide_and_send(alert_id: int, *, now: datetime) -> Decision:
    """Decide one claimed alert and submit what the decision says to send."""
    alert = Alert.objects.select_related("route", "route__exchange_account").get(pk=alert_id)
    route = alert.route
    account: ExchangeAccount | None = route.exchange_account
    intent = intent_from_json(alert.intent)
    config = route.config()
    snapshot, exchange = read_snapshot(route, account, now, live_access=has_live_access(route.owner_id, now))
    verdict = evaluate(intent, config, snapshot, now)

    with transaction.atomic():
        decision = Decision.objects.create(
            alert=alert,
            route=route,
            created_at=now,
            evaluated_at=now,
            action=Decision.Action.SEND if verdict.action is VerdictAction.SEND else Decision.Action.SKIP,
            reason=verdict.reason,
            message=_message(verdict, snapshot, config.symbol)[:400],
            checks=[to_json(c) for c in verdict.checks],
            snapshot=to_json(snapshot),
            route_config=to_json(config),
            intent=alert.intent,
            verdict=to_json(verdict),
        )
        legs = [
            orders.create_order(
                route=route,
                decision=decision,
                leg=index,
                request=OrderRequest(
                    symbol=config.symbol,
                    side=Side(leg.side),
                    size=leg.size,
                    order_type=OrderType.MARKET,
                    client_order_id="",  # minted from the row's primary key inside create_order
                    reduce_only=leg.reduce_only,
                ),
                now=now,
            )
            for index, leg in enumerate(verdict.legs)
            if verdict.action is VerdictAction.SEND
        ]
        Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.DECIDED, decided_at=now)

    # Committed: the decision and the orders with their client ids exist before anything leaves the process.
    if legs and exchange is not None:
        crashpoint("after_order_row")
        _submit_legs(decision, legs, exchange, now)
    if exchange is not None:
        # After every processed alert: the position gets exactly its one worst-case stop (or none when flat).
        protection.ensure_stop(route, exchange)
    return decision


def _submit_legs(decision: Decision, legs: list[Order], exchange: Exchange, now: datetime) -> None:
    for order in legs:
        try:
            orders.submit(order, exchange)
        except orders.SubmitRaced:
            return
        except OrderRejected as exc:
            _settle_decision(decision, Reason.EXCHANGE_REJECTED, exc.status, f"{exc.status} ({order.client_order_id})")
            orders.abandon_pending(legs, cause=f"earlier leg rejected: {exc.status}", now=now)
            return
        except AmbiguousOutcome as exc:
            _settle_decision(decision, Reason.OUTCOME_UNKNOWN, exc.venue_code, str(order.client_order_id))
            # Look it up at once: a reply lost after the exchange accepted (the common case) is adopted right here;
            # an order with no trace yet is left for the sweeper, which re-sends it once after the lookup window.
            if lifecycle.resolve(order, exchange).outcome == "adopted" and order.state in ACCEPTED:
                continue
            # The next leg waits: sending the increase while the reduction's fate is unknown could overshoot.
            orders.abandon_pending(legs, cause="earlier leg outcome unknown", now=now)
            return
        except (RateLimited, ExchangeError) as exc:
            _settle_decision(decision, Reason.EXCHANGE_UNAVAILABLE, exc.venue_code, f"{type(exc).__name__}: {exc}")
            orders.abandon_pending(legs, cause=f"exchange unavailable: {type(exc).__name__}", now=now)
            return


def _settle_decision(decision: Decision, reason: Reason, venue_status: str, detail: str) -> None:
    action = Decision.Action.REJECT if reason is Reason.EXCHANGE_REJECTED else Decision.Action.SEND
    if reason is Reason.EXCHANGE_UNAVAILABLE:
        action = Decision.Action.SKIP
    Decision.objects.filter(pk=decision.pk).update(
        reason=reason,
        action=action,
        venue_status=venue_status[:80],
        message=explain(reason, {"detail": detail})[:400],
    )


def _message(verdict: Verdict, snapshot: Snapshot, symbol: str) -> str:
    if verdict.action is VerdictAction.SEND:
        # The verdict's detail already says what was sent and, for a trimmed reversal, what was not and why.
        return explain(Reason.ORDER_SENT, {"detail": verdict.detail})
    failed: Check | None = verdict.failed_check
    values: dict[str, object] = {"unit": _unit(symbol), "detail": snapshot.read_error or verdict.detail}
    if failed:
        values |= {"observed": failed.observed, "limit": failed.limit}
    elif verdict.reason is Reason.ALREADY_AT_TARGET:
        values["observed"] = str(snapshot.position)
    return explain(verdict.reason, values)


def _unit(symbol: str) -> str:
    """PF_XBTUSD → XBT: linear perpetual sizes are in the base currency."""
    return symbol.removeprefix("PF_").removeprefix("FF_").removesuffix("USD").split("_")[0] or symbol
