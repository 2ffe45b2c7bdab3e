"""Reconciliation and the sweeper: bring our books up to date with the exchange, finish what crashed workers left,
and flag - never "fix" by trading - any disagreement between the exchange position and what our orders imply.

Runs on a django-q2 schedule and once whenever a worker starts. Idempotent: fills and account-log rows are keyed
by the exchange's own ids, order states only move through the transition table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import CredentialsUnreadable, ExchangeAccount
from audit.models import Alert, Attention, Fill, LedgerEntry, Order
from audit.order_states import OrderState
from exchanges.base import Exchange
from exchanges.connect import exchange_for
from exchanges.errors import ExchangeError
from routing import lease, lifecycle, pipeline, protection
from routing.attention import raise_attention
from routing.models import Route, RouteState

logger = logging.getLogger(__name__)

KRAKEN_HISTORY = timedelta(days=22)  # how far back Kraken serves fills and the account log
OVERLAP = timedelta(minutes=2)  # re-read a little before the cursor: late-arriving rows are not missed


@dataclass
class Report:
    fills: int = 0
    ledger: int = 0
    orders_moved: int = 0
    resolutions: list[str] = field(default_factory=list)
    drifts: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    alerts_redriven: int = 0
    errors: list[str] = field(default_factory=list)


def run(*, clock: Callable[[], datetime] = timezone.now) -> Report:
    report = Report()
    sweep_alerts(report, clock=clock)
    for account in ExchangeAccount.objects.filter(connected=True).order_by("pk"):
        try:
            reconcile_account(account, exchange_for(account), report, clock=clock)
        except CredentialsUnreadable:
            report.errors.append(f"account {account.pk}: credentials unreadable")
    return report


def sweep_alerts(report: Report, *, clock: Callable[[], datetime]) -> None:
    """Alerts a dead worker left behind: claimed but never decided, or queued with no one working on them."""
    now = clock()
    # Claimed, no decision, lease long gone: the worker died between the claim and the decision commit.
    Alert.objects.filter(
        status=Alert.Status.PROCESSING,
        claimed_at__lt=now - timedelta(seconds=settings.ROUTE_LEASE_SECONDS),
        decision__isnull=True,
    ).update(status=Alert.Status.QUEUED, claimed_at=None)
    stuck = (
        Alert.objects.filter(
            status=Alert.Status.QUEUED, received_at__lt=now - timedelta(seconds=settings.SWEEP_STUCK_SECONDS)
        )
        .order_by("route_id", "fired_at", "id")
        .distinct()
        .values_list("pk", "route_id")
    )
    seen_routes: set[int] = set()
    for alert_id, route_id in stuck:
        if route_id in seen_routes:
            continue  # process_alert drains the whole route, in order
        seen_routes.add(route_id)
        pipeline.process_alert(alert_id, clock=clock)
        report.alerts_redriven += 1


def reconcile_account(
    account: ExchangeAccount, exchange: Exchange, report: Report, *, clock: Callable[[], datetime]
) -> None:
    routes = list(Route.objects.filter(exchange_account=account))
    # Settle in-flight orders first, then import fills, so the fills of orders adopted or re-sent just now are in
    # our books before any position is compared with them.
    for order in lifecycle.unsettled_orders(clock()).filter(route__exchange_account=account):
        # Every send of a route happens under its lease (the pipeline's, or this one), so nothing else is
        # placing orders for the route while we re-send or compare positions.
        with lease.held(order.route_id, clock()) as held:
            outcome = lifecycle.resolve(order, exchange, clock=clock).outcome if held else "route busy, next round"
        report.resolutions.append(f"{order.client_order_id}: {outcome}")
    try:
        _import_fills(account, exchange, report, clock=clock)
        _import_ledger(account, exchange, report, clock=clock)
    except ExchangeError as exc:
        report.errors.append(f"account {account.pk}: history unavailable ({type(exc).__name__})")
    try:
        _settle_open_orders(account, exchange, report, clock=clock)
    except ExchangeError as exc:
        report.errors.append(f"account {account.pk}: {type(exc).__name__}")
        return
    for route in routes:
        # Kraken nets one position per instrument per account, and only one enabled route may trade it: that route
        # owns the position's drift check and stop. A disabled route only winds down stops it still has.
        if not route.enabled and not protection.live_stops(route):
            continue
        with lease.held(route.pk, clock()) as held:
            if not held:
                report.stops.append(f"route {route.pk}: busy, next round")
                continue
            if route.enabled:
                try:
                    # Read inside the lease: a position read before another process's send finished would be
                    # compared with fills written after it, and the gap taken for drift.
                    position = next((p.size for p in exchange.positions() if p.symbol == route.symbol), Decimal(0))
                except ExchangeError as exc:
                    report.errors.append(f"route {route.pk}: position unavailable ({type(exc).__name__})")
                    continue
                _check_drift(route, position, report, clock=clock)
            report.stops.append(f"route {route.pk}: {protection.ensure_stop(route, exchange, clock=clock)}")


def _import_fills(
    account: ExchangeAccount, exchange: Exchange, report: Report, *, clock: Callable[[], datetime]
) -> None:
    now = clock()
    since = max(account.fills_synced_until or now - KRAKEN_HISTORY, now - KRAKEN_HISTORY) - OVERLAP
    fills = exchange.fills_since(since)
    by_client = {
        o.client_order_id: o
        for o in Order.objects.filter(
            route__exchange_account=account, client_order_id__in=[f.client_order_id for f in fills if f.client_order_id]
        )
    }
    routes_by_symbol = {r.symbol: r for r in Route.objects.filter(exchange_account=account, enabled=True)}
    for f in fills:
        order = by_client.get(f.client_order_id or "")
        route = order.route if order else routes_by_symbol.get(f.symbol)
        _, created = Fill.objects.get_or_create(
            exchange_account=account,
            fill_id=f.fill_id,
            defaults={
                "order": order,
                "route": route,
                "exchange_order_id": f.exchange_order_id,
                "client_order_id": f.client_order_id or "",
                "symbol": f.symbol,
                "side": f.side.value,
                "size": f.size,
                "price": f.price,
                "liquidity": f.liquidity.value,
                "filled_at": f.time,
            },
        )
        report.fills += int(created)
    latest = max((f.time for f in fills), default=None)
    ExchangeAccount.objects.filter(pk=account.pk).update(
        fills_synced_until=max(latest or since + OVERLAP, since + OVERLAP)
    )


def _import_ledger(
    account: ExchangeAccount, exchange: Exchange, report: Report, *, clock: Callable[[], datetime]
) -> None:
    now = clock()
    since = max(account.ledger_synced_until or now - KRAKEN_HISTORY, now - KRAKEN_HISTORY) - OVERLAP
    entries = exchange.ledger_since(since)
    routes_by_symbol = {r.symbol: r for r in Route.objects.filter(exchange_account=account)}
    touched: set[str] = set()
    for e in entries:
        try:
            with transaction.atomic():
                LedgerEntry.objects.create(
                    exchange_account=account,
                    route=routes_by_symbol.get((e.symbol or "").upper()),
                    entry_id=e.entry_id,
                    at=e.time,
                    kind=e.kind,
                    symbol=(e.symbol or "").upper(),
                    asset=e.asset,
                    fee=e.fee,
                    realized_pnl=e.realized_pnl,
                    realized_funding=e.realized_funding,
                    execution_id=e.execution_id or "",
                )
        except IntegrityError:
            continue  # seen before
        report.ledger += 1
        if e.execution_id:
            touched.add(e.execution_id)
    # A trade writes several account-log rows (cash leg with the fee, position leg): the fill gets their sums.
    for execution_id in touched:
        sums = LedgerEntry.objects.filter(exchange_account=account, execution_id=execution_id).aggregate(
            fee=Sum("fee"), pnl=Sum("realized_pnl")
        )
        Fill.objects.filter(exchange_account=account, fill_id=execution_id).update(
            fee=sums["fee"], realized_pnl=sums["pnl"]
        )
    latest = max((e.time for e in entries), default=None)
    ExchangeAccount.objects.filter(pk=account.pk).update(
        ledger_synced_until=max(latest or since + OVERLAP, since + OVERLAP)
    )


def _settle_open_orders(
    account: ExchangeAccount, exchange: Exchange, report: Report, *, clock: Callable[[], datetime]
) -> None:
    ours = Order.objects.filter(
        route__exchange_account=account, state__in=[OrderState.OPEN, OrderState.PARTIALLY_FILLED]
    ).select_related("route")
    if not ours:
        return
    resting = {o.client_order_id: o for o in exchange.open_orders() if o.client_order_id}
    for order in ours:
        status = resting.get(order.client_order_id) or exchange.find_order(order.client_order_id)
        if status is None:
            continue
        before = (order.state, order.filled_size)
        lifecycle.apply_status(order, status, now=clock(), cause="reconciliation")
        if (order.state, order.filled_size) != before:
            report.orders_moved += 1
            if order.purpose == Order.Purpose.WORST_CASE_STOP and order.filled_size > 0:
                raise_attention(
                    kind=Attention.Kind.STOP_TRIGGERED,
                    route=order.route,
                    order=order,
                    detail=f"The worst-case stop {order.client_order_id} on {order.symbol} triggered "
                    f"({order.side} {order.filled_size} at {order.stop_price}).",
                    now=clock(),
                )


def implied_position(route: Route) -> Decimal:
    """What our own orders' fills say the route's position is."""
    rows = Fill.objects.filter(Q(order__route=route)).values_list("side", "size")
    return sum((size if side == "buy" else -size for side, size in rows), Decimal(0))


def _check_drift(route: Route, exchange_position: Decimal, report: Report, *, clock: Callable[[], datetime]) -> None:
    if Order.objects.filter(route=route, state__in=[OrderState.PENDING_SUBMIT, OrderState.UNKNOWN]).exists():
        # An order in flight (being sent by another process, or not yet settled) makes a gap between the exchange
        # position and our fills that is not drift; compare again once nothing is in flight.
        report.deferred.append(f"route {route.pk}: position not compared, orders in flight")
        return
    expected = implied_position(route)
    if expected == exchange_position:
        return
    detail = (
        f"{route.symbol}: the exchange position is {exchange_position}, our orders imply {expected}. "
        "The route is frozen for new exposure (exits still go out) until you review it."
    )
    report.drifts.append(f"route {route.pk}: {detail}")
    RouteState.objects.filter(route_id=route.pk, frozen_reason="").update(frozen_reason=detail[:300], frozen_at=clock())
    raise_attention(kind=Attention.Kind.POSITION_DRIFT, route=route, detail=detail, now=clock())
