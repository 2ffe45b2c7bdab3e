"""The one orchestrator: from a stored alert to exactly one Decision and at most one exchange order per leg.

1. Take the route's lease (routing/lease.py) so alerts of one route run one at a time, in the order TradingView
   fired them (`fired_at`, then arrival) - whichever task holds the lease works through the route's queue.
2. Claim each alert with a conditional UPDATE: exactly one worker proceeds.
3. Settle what the route still has in flight (look its earlier unconfirmed orders up; one that can no longer land
   is closed as never placed), read a snapshot, run the pure `routing.risk.evaluate`, and commit the Decision and
   its Order rows - client order ids minted before - together with the route's newest decided alert time, before
   any order call leaves the process.
4. Submit each leg under the lease with a deadline; a definitive answer settles the order, anything else leaves it
   `unknown` for lookup. Never a blind retry.
5. Keep the worst-case stop in step with the position: right after the alert, or - in the engine - as a job of its
   own once no alert is waiting (`keep_stop`), so at bar close every entry goes out before any stop's upkeep.

An alert whose processing fails for any reason ends in a terminal Decision (`internal_error`, naming the exception
class only) and an attention item; it never stays in limbo and never stops the route's next alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import SECRET_FIELDS, ExchangeAccount
from audit.models import Alert, Attention, Decision, Order
from audit.order_states import OrderState
from audit.reasons import Reason, explain
from billing.access import has_live_access
from exchanges.base import Exchange, OrderRequest, OrderType, Side
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected, RateLimited
from ops.logs import bound_alert
from orderrail.statements import ByPk, first_id, insert, update_where
from routing import lease, lifecycle, orders, outcome, protection, selectors
from routing.attention import raise_attention
from routing.crashpoints import crashpoint
from routing.domain import Check, Snapshot, Verdict, VerdictAction, intent_from_json, number_text, to_json
from routing.models import Route, RouteState, engine_state
from routing.risk import evaluate
from routing.snapshot import base_snapshot, open_exchange, read_snapshot

logger = logging.getLogger(__name__)

ACCEPTED = (OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.FILLED)
Clock = Callable[[], datetime]
# Told "this route's worst-case stop needs its upkeep" instead of doing it now (the engine, routing/engine.py).
StopDue = Callable[[int], None]


# What a decision reads, each in one SELECT compiled once (orderrail/statements.py): the alert with its route, the
# route's account and engine state; the route with its account for the stop's upkeep. Without the encrypted columns:
# a related row skips its manager's deferrals, and decrypting four keys and a route secret on every read (Fernet)
# was ~3 % of the engine's CPU; the adapter decrypts the key in a query of its own, once per key version.
_ROUTE_SECRETS = ("secret_sealed", *(f"exchange_account__{name}" for name in SECRET_FIELDS))
_alert_to_decide: ByPk[Alert] = ByPk(
    lambda pk: (
        Alert.objects.select_related("route", "route__exchange_account", "route__engine")
        .defer(*(f"route__{name}" for name in _ROUTE_SECRETS))
        .filter(pk=pk)
    )
)
_route_of_stop: ByPk[Route] = ByPk(
    lambda pk: Route.objects.select_related("exchange_account").defer(*_ROUTE_SECRETS).filter(pk=pk)
)


def process_alert(alert_id: int, *, clock: Clock = timezone.now) -> None:
    """Make sure this alert gets decided: by us, or by whoever holds its route's lease right now.

    A task that finds the lease taken returns at once instead of waiting (a waiting task would hold a worker
    hostage): the holder re-checks the route's queue when it releases the lease (`routing.lease.release` hands
    on), and our alert was committed before we looked, so it is bound to be seen. A holder that dies leaves a lease
    that expires; the sweeper re-drives what it left queued.
    """
    route_id = Alert.objects.filter(pk=alert_id).values_list("route_id", flat=True).first()
    if route_id is not None:
        process_route(route_id, clock=clock)


def process_route(route_id: int, *, clock: Clock = timezone.now, stop_due: StopDue | None = None) -> None:
    """Decide the route's queued alerts in order, under its lease; return at once if someone else holds it.

    `stop_due`: the worst-case stop's upkeep is handed to it after each alert instead of being done there."""
    while (held := lease.acquire(route_id, clock())) is not None:
        try:
            _drain_route(held, clock, fresh=True, stop_due=stop_due)
        finally:
            lease.release(held, hand_on=False)
        if first_id(Alert, {"route_id": route_id, "status": Alert.Status.QUEUED}) is None:
            return


def _drain_route(held: lease.Lease, clock: Clock, *, fresh: bool = False, stop_due: StopDue | None = None) -> None:
    """`fresh`: the lease was taken a moment ago, so the first claim needs no refresh of it."""
    while True:
        next_id = first_id(
            Alert, {"route_id": held.route_id, "status": Alert.Status.QUEUED}, ("fired_at", "received_at", "id")
        )
        if next_id is None:
            return
        now = clock()
        if not fresh and not lease.refresh(held, now):
            return  # we were too slow and someone else holds the route now: they carry on, we stop
        claimed = update_where(
            Alert,
            {"id": next_id, "status": Alert.Status.QUEUED},
            {"status": Alert.Status.PROCESSING, "claimed_at": now},
        )
        if claimed == 1:
            crashpoint("after_claim")
            with bound_alert(next_id):  # every log line of the decision carries the alert id
                decide_and_send(next_id, now=now, held=held, clock=clock, stop_due=stop_due)
                logger.info("alert processed")
        fresh = False


def decide_and_send(
    alert_id: int, *, now: datetime, held: lease.Lease, clock: Clock = timezone.now, stop_due: StopDue | None = None
) -> None:
    """Decide one claimed alert and submit what the decision says to send; a failure ends the alert, not the run."""
    try:
        _decide_and_send(alert_id, now=now, held=held, clock=clock, stop_due=stop_due)
    except Exception as exc:
        # The traceback goes to the log (it names our code, never a secret: exchange errors carry the venue's word
        # only); the alert and support get the exception class.
        logger.exception("alert %s: processing failed (%s)", alert_id, type(exc).__name__)
        fail_alert(alert_id, exc, now=clock())


def fail_alert(alert_id: int, exc: BaseException, *, now: datetime) -> None:
    """A terminal decision for an alert whose processing raised - unless it was decided before the failure."""
    alert = Alert.objects.select_related("route").get(pk=alert_id)
    name = type(exc).__name__
    with transaction.atomic():
        decided = Decision.objects.filter(alert_id=alert_id).exists()
        if not decided:
            Decision.objects.create(
                alert=alert,
                route=alert.route,
                created_at=now,
                action=Decision.Action.SKIP,
                reason=Reason.INTERNAL_ERROR,
                message=explain(Reason.INTERNAL_ERROR, {"detail": name})[:400],
                intent=alert.intent,
            )
        Alert.objects.filter(pk=alert_id).update(status=Alert.Status.DECIDED, decided_at=alert.decided_at or now)
    when = "after its decision was recorded" if decided else "before it was decided; no order was sent"
    raise_attention(
        kind=Attention.Kind.INTERNAL_ERROR,
        route=alert.route,
        alert=alert,
        detail=f"Alert {alert_id} failed {when} ({name}). The route goes on with its next alert.",
        now=now,
    )


def _decide_and_send(
    alert_id: int, *, now: datetime, held: lease.Lease, clock: Clock, stop_due: StopDue | None
) -> None:
    alert = _alert_to_decide.get(alert_id)
    route = alert.route
    state = engine_state(route)
    account: ExchangeAccount | None = route.exchange_account
    intent = intent_from_json(alert.intent)
    config = route.config(state)
    live_access = has_live_access(route.owner_id, now)

    exchange, readable = open_exchange(account, now)
    in_flight = _settle_in_flight(route.pk, exchange, held, clock) if exchange is not None else _in_flight(route.pk)
    snapshot = base_snapshot(
        route, account, now, live_access=live_access, state=state, in_flight=in_flight, credentials_readable=readable
    )
    if exchange is not None and account is not None:
        snapshot = read_snapshot(snapshot, route, account, exchange)
    verdict = evaluate(intent, config, snapshot, now)
    verdict_json = to_json(verdict)

    with transaction.atomic():
        decision = insert(
            Decision(
                alert=alert,
                route=route,
                created_at=now,
                evaluated_at=now,
                action=Decision.Action.SEND if verdict.action is VerdictAction.SEND else Decision.Action.SKIP,
                reason=verdict.reason,
                message=decision_sentence(verdict, snapshot, config.symbol)[:400],
                checks=verdict_json["checks"],
                snapshot=to_json(snapshot),
                route_config=to_json(config),
                intent=alert.intent,
                verdict=verdict_json,
            )
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
                    client_order_id="",  # minted inside create_order
                    reduce_only=leg.reduce_only,
                ),
                now=now,
            )
            for index, leg in enumerate(verdict.legs)
            if verdict.action is VerdictAction.SEND
        ]
        update_where(Alert, {"id": alert.pk}, {"status": Alert.Status.DECIDED, "decided_at": now})
        if verdict.reason is not Reason.SUPERSEDED:
            # Newer wins: from now on an alert fired before this one is superseded.
            RouteState.objects.filter(route_id=route.pk).filter(_older_than(intent.fired_at)).update(
                last_fired_at=intent.fired_at
            )

    # Committed: the decision and the orders with their client ids exist before anything leaves the process.
    if legs and exchange is not None:
        crashpoint("after_order_row")
        _submit_legs(decision, legs, exchange, held, now=now, clock=clock)
    if exchange is None:
        return
    # After every processed alert: the position gets exactly its one worst-case stop (or none when flat).
    if stop_due is not None:
        stop_due(route.pk)
    else:
        protection.ensure_stop(route, exchange, held=held, clock=clock)


def keep_stop(route_id: int, *, clock: Clock = timezone.now) -> bool:
    """The worst-case stop's upkeep for the route as a job of its own, under the route's lease: the stop the
    position needs, or none when flat. False when the route is busy (its holder is deciding an alert, which hands
    the upkeep on again, or reconciling, which does it too): the caller tries again later.

    Released with a hand-on: alerts that queued meanwhile are picked up at once."""
    held = lease.acquire(route_id, clock())
    if held is None:
        return False
    route = _route_of_stop.get(route_id)
    try:
        exchange, _readable = open_exchange(route.exchange_account, clock())
        if exchange is not None:
            protection.ensure_stop(route, exchange, held=held, clock=clock)
    except Exception as exc:
        # As when it ran after the alert: logged, and support told; reconciliation's upkeep tries again.
        logger.exception("route %s: worst-case stop upkeep failed (%s)", route_id, type(exc).__name__)
        raise_attention(
            kind=Attention.Kind.INTERNAL_ERROR,
            route=route,
            detail=f"The worst-case stop's upkeep failed ({type(exc).__name__}); reconciliation tries again.",
            now=clock(),
        )
    finally:
        lease.release(held)
    return True


def _older_than(fired_at: datetime) -> Q:
    return Q(last_fired_at__isnull=True) | Q(last_fired_at__lt=fired_at)


def _in_flight(route_id: int) -> tuple[str, ...]:
    return tuple(o.client_order_id or "" for o in selectors.in_flight_orders(route_id))


def _settle_in_flight(route_id: int, exchange: Exchange, held: lease.Lease, clock: Clock) -> tuple[str, ...]:
    """An earlier order of the route with no definitive answer is part of the route's state: look it up now. One the
    exchange has is adopted (the position read next includes it); one that can no longer land (its deadline passed
    with no trace) is closed as never placed - and never re-sent, since this newer alert now decides. Whatever is
    still open after that is in flight, and the decision skips."""
    if not selectors.any_in_flight(route_id):
        return ()
    unsettled = list(selectors.in_flight_orders(route_id).select_related("route"))
    for order in unsettled:
        lifecycle.resolve(order, exchange, held=held, clock=clock, newer_decision_coming=True)
    return _in_flight(route_id)


def _submit_legs(
    decision: Decision, legs: list[Order], exchange: Exchange, held: lease.Lease, *, now: datetime, clock: Clock
) -> None:
    for order in legs:
        try:
            orders.submit(order, exchange, lease=held, clock=clock)
        except orders.SubmitRaced:
            return
        except OrderRejected as exc:
            outcome.settle(
                decision.pk,
                Reason.EXCHANGE_REJECTED,
                detail=f"{exc.status} ({order.client_order_id})",
                venue_status=exc.status,
            )
            orders.abandon_pending(legs, cause=f"earlier leg rejected: {exc.status}", now=now)
            _report_rejection(decision, order, exc.status, clock())
            return
        except AmbiguousOutcome as exc:
            outcome.settle(
                decision.pk, Reason.OUTCOME_UNKNOWN, detail=str(order.client_order_id), venue_status=exc.venue_code
            )
            # Look it up at once: a reply lost after the exchange accepted (the common case) is adopted right here;
            # an order with no trace yet is left for the sweeper, which re-sends it once after the lookup window.
            if lifecycle.resolve(order, exchange, held=held, clock=clock).outcome == "adopted" and (
                order.state in ACCEPTED
            ):
                continue
            # The next leg waits: sending the increase while the reduction's fate is unknown could overshoot.
            orders.abandon_pending(legs, cause="earlier leg outcome unknown", now=now)
            return
        except (RateLimited, ExchangeError) as exc:
            outcome.settle(
                decision.pk,
                Reason.EXCHANGE_UNAVAILABLE,
                detail=f"{type(exc).__name__}: {exc}",
                venue_status=exc.venue_code,
            )
            orders.abandon_pending(legs, cause=f"exchange unavailable: {type(exc).__name__}", now=now)
            return


def _report_rejection(decision: Decision, order: Order, status: str, now: datetime) -> None:
    # One item per route while it is open (not per order): a venue that rejects every alert for want of margin
    # is one incident, one e-mail.
    raise_attention(
        kind=Attention.Kind.ORDER_REJECTED,
        route=order.route,
        detail=f"The exchange rejected order {order.client_order_id} ({order.side} {number_text(order.size)} "
        f"{order.symbol}): {status}. Nothing was filled; the next alert is decided afresh.",
        now=now,
    )


def decision_sentence(verdict: Verdict, snapshot: Snapshot, symbol: str) -> str:
    """The sentence the trader (and support) reads for a verdict: one home for it."""
    if verdict.action is VerdictAction.SEND:
        # The verdict's detail already says what was sent and, for a trimmed reversal, what was not and why.
        return explain(Reason.ORDER_SENT, {"detail": verdict.detail})
    failed: Check | None = verdict.failed_check
    values: dict[str, object] = {"unit": _unit(symbol), "detail": snapshot.read_error or verdict.detail}
    if failed:
        values |= {"observed": failed.observed, "limit": failed.limit}
    elif verdict.reason is Reason.ALREADY_AT_TARGET:
        values["observed"] = number_text(snapshot.position)
    return explain(verdict.reason, values)


def _unit(symbol: str) -> str:
    """PF_XBTUSD → XBT: linear perpetual sizes are in the base currency."""
    return symbol.removeprefix("PF_").removeprefix("FF_").removesuffix("USD").split("_")[0] or symbol
