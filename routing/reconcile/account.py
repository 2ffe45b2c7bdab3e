"""Reconciling one exchange account: settle orders in flight, import fills and the account log, follow open orders,
compare each route's position with our books, keep each route's worst-case stop.

Each route is reconciled under its lease, on its own: an unexpected error in one (a transition the table does not
know, a bug) is recorded as an attention item and the others go on; one account's failure never stops the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import CredentialsUnreadable, ExchangeAccount
from audit.models import Attention, Fill, LedgerEntry, Order
from audit.order_states import OrderState
from exchanges.base import Exchange
from exchanges.connect import exchange_for
from exchanges.errors import AuthenticationFailed, ExchangeError, PermissionDenied
from routing import credentials, drift, lease, lifecycle, orders, protection, selectors
from routing.attention import raise_attention
from routing.domain import number_text
from routing.models import Route
from routing.reconcile.report import Report

logger = logging.getLogger(__name__)

KRAKEN_HISTORY = timedelta(days=22)  # how far back Kraken serves fills and the account log
OVERLAP = timedelta(minutes=2)  # re-read a little before the cursor: late-arriving rows are not missed


def reconcile_account_id(account_id: int, report: Report, *, clock: Callable[[], datetime] = timezone.now) -> None:
    """One account, isolated: whatever goes wrong is recorded (and raised for a person), never propagated."""
    account = ExchangeAccount.objects.filter(pk=account_id, connected=True).first()
    if account is None:
        return
    report.accounts += 1
    try:
        exchange = exchange_for(account)
    except CredentialsUnreadable:
        credentials.report_broken(account, "no configured FERNET_KEYS key can decrypt it", clock())
        report.errors.append(f"account {account.pk}: credentials unreadable")
        return
    except ExchangeError as exc:
        report.errors.append(f"account {account.pk}: {type(exc).__name__}")
        return
    try:
        reconcile_account(account, exchange, report, clock=clock)
    except Exception as exc:
        logger.exception("reconcile: account %s failed (%s)", account.pk, type(exc).__name__)
        report.errors.append(f"account {account.pk}: failed ({type(exc).__name__})")
        raise_attention(
            kind=Attention.Kind.INTERNAL_ERROR,
            route=None,
            exchange_account=account,
            detail=f"Reconciling '{account.label}' failed ({type(exc).__name__}); the other accounts went on. "
            "It is retried every period.",
            now=clock(),
        )
    finally:
        ExchangeAccount.objects.filter(pk=account.pk).update(reconciled_at=clock(), reconcile_queued_at=None)


def reconcile_account(
    account: ExchangeAccount, exchange: Exchange, report: Report, *, clock: Callable[[], datetime]
) -> None:
    routes = list(Route.objects.filter(exchange_account=account).select_related("owner"))
    # Settle in-flight orders first, then import fills, so the fills of orders adopted or re-sent just now are in
    # our books before any position is compared with them. One lease per route for all its orders.
    unsettled = selectors.unsettled_orders(clock(), lifecycle.lookup_window()).filter(route__exchange_account=account)
    by_route: dict[int, list[Order]] = {}
    for order in unsettled:
        by_route.setdefault(order.route_id, []).append(order)
    for route_id, pending in by_route.items():
        _isolated(
            report,
            account,
            route_id,
            "resolving orders",
            clock=clock,
            work=lambda route_id=route_id, pending=pending: _resolve(route_id, pending, exchange, report, clock),
        )
    try:
        _import_fills(account, exchange, report, clock=clock)
        _import_ledger(account, exchange, report, clock=clock)
    except (AuthenticationFailed, PermissionDenied) as exc:
        credentials.report_broken(account, f"the exchange refused the key ({type(exc).__name__})", clock())
        report.errors.append(f"account {account.pk}: key refused")
        return
    except ExchangeError as exc:
        report.errors.append(f"account {account.pk}: history unavailable ({type(exc).__name__})")
    try:
        _settle_open_orders(account, exchange, report, clock=clock)
    except ExchangeError as exc:
        report.errors.append(f"account {account.pk}: {type(exc).__name__}")
        return
    credentials.clear_if_working(account, clock(), look_for_items=True)
    for route in routes:
        # Kraken nets one position per instrument per account: the route that owns it checks drift and keeps the
        # stop; a route that does not own it only winds its stops down.
        if not selectors.owns_position(route) and not selectors.live_stops(route):
            continue
        _isolated(
            report,
            account,
            route.pk,
            "checking position and stop",
            clock=clock,
            work=lambda r=route: _route(r, exchange, report, clock),
        )


def _isolated(
    report: Report,
    account: ExchangeAccount,
    route_id: int,
    what: str,
    *,
    clock: Callable[[], datetime],
    work: Callable[[], None],
) -> None:
    try:
        work()
    except Exception as exc:
        logger.exception("reconcile: route %s failed %s (%s)", route_id, what, type(exc).__name__)
        report.errors.append(f"route {route_id}: {what} failed ({type(exc).__name__})")
        raise_attention(
            kind=Attention.Kind.INTERNAL_ERROR,
            route=Route.objects.filter(pk=route_id).first(),
            exchange_account=account,
            detail=f"Reconciliation failed while {what} ({type(exc).__name__}); the other routes went on. "
            "It is retried every period.",
            now=clock(),
        )


def _resolve(
    route_id: int, pending: list[Order], exchange: Exchange, report: Report, clock: Callable[[], datetime]
) -> None:
    with lease.held(route_id, clock()) as held:
        for order in pending:
            outcome = lifecycle.resolve(order, exchange, held=held, clock=clock).outcome if held else "route busy"
            report.resolutions.append(f"{order.client_order_id}: {outcome}")


def _route(route: Route, exchange: Exchange, report: Report, clock: Callable[[], datetime]) -> None:
    with lease.held(route.pk, clock()) as held:
        if held is None:
            report.stops.append(f"route {route.pk}: busy, next round")
            return
        positions = None
        if route.enabled and selectors.owns_position(route):
            try:
                # Read inside the lease: a position read before another process's send finished would be
                # compared with fills written after it, and the gap taken for drift.
                positions = exchange.positions()
            except ExchangeError as exc:
                report.errors.append(f"route {route.pk}: position unavailable ({type(exc).__name__})")
            if positions is not None:
                position = next((p.size for p in positions if p.symbol == route.symbol), Decimal(0))
                drift.check(route, position, report, now=clock())
        # The same read serves the stop's upkeep (one positions call per route, not two).
        stop = protection.ensure_stop(route, exchange, held=held, clock=clock, positions=positions)
        report.stops.append(f"route {route.pk}: {stop}")


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
    created_ids: list[str] = []
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
        if created:
            created_ids.append(f.fill_id)
    orders.attach_fees(account.pk, created_ids)  # log rows imported before their fill
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
    orders.attach_fees(account.pk, sorted(touched))
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
            if order.purpose == Order.Purpose.WORST_CASE_STOP and order.state == OrderState.REJECTED:
                # Its trigger fired but the venue refused the order it became: the position it protected is still
                # open and bare until the upkeep below places a fresh stop. A person should know it happened.
                raise_attention(
                    kind=Attention.Kind.STOP_FAILED,
                    route=order.route,
                    detail=f"The worst-case stop {order.client_order_id} on {order.symbol} triggered but the exchange "
                    f"refused its order ({order.venue_status or 'rejected'}); the position was not closed. OrderRail "
                    "places a new stop for the position as it is.",
                    now=clock(),
                )
            elif order.purpose == Order.Purpose.WORST_CASE_STOP and order.filled_size > 0:
                raise_attention(
                    kind=Attention.Kind.STOP_TRIGGERED,
                    route=order.route,
                    order=order,
                    detail=f"The worst-case stop {order.client_order_id} on {order.symbol} triggered "
                    f"({order.side} {number_text(order.filled_size)} at {number_text(order.stop_price or 0)}).",
                    now=clock(),
                )
