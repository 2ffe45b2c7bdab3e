"""Read-side questions about a route's state, each answered in one place: which orders are in flight, which
worst-case stops are live, what our fills imply the position is, today's realised P&L, recent order count.

The pipeline, the stop upkeep, reconciliation and the pages all ask these; none of them re-derives the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Q, QuerySet, Sum

from audit.models import Alert, Fill, LedgerEntry, Order
from audit.order_states import OrderState
from orderrail.statements import first_id
from routing.models import Route, RouteState, open_sealed, secret_matches

IN_FLIGHT_STATES = (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN)
LIVE_STOP_STATES = (OrderState.PENDING_SUBMIT, OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.UNKNOWN)
POSITION_ORDERS = (Order.Purpose.STRATEGY, Order.Purpose.FLATTEN)


@dataclass(frozen=True)
class WebhookTarget:
    """What intake knows of the route a webhook URL names: its id, its secret's hash, and the secret's encrypted copy
    as stored - opened only when a rejection needs it to scrub what the sender wrote (routing.redaction)."""

    pk: int
    secret_hash: str
    sealed: object

    def check_secret(self, secret: str) -> bool:
        return secret_matches(secret, self.secret_hash)

    def sealed_secret(self) -> str | None:
        return open_sealed(Route._meta.get_field("secret_sealed").from_db_value(self.sealed, None, connection))


def webhook_target(token: str) -> WebhookTarget | None:
    """One plain SELECT by the route's token: on the webhook the ORM's query building cost more than the query."""
    table = connection.ops.quote_name(Route._meta.db_table)
    sql = f"SELECT id, secret_hash, secret_sealed FROM {table} WHERE token = %s"  # noqa: S608 - names from the model
    with connection.cursor() as cursor:
        cursor.execute(sql, [token])
        row = cursor.fetchone()
    return None if row is None else WebhookTarget(*row)


def rejections_since(route_id: int, since: datetime) -> int:
    """Rejections stored for the route since `since` (intake's per-route budget), in one plain COUNT."""
    alerts = Alert._meta
    received_at = alerts.get_field("received_at").get_db_prep_value(since, connection)
    sql = (
        f"SELECT COUNT(*) FROM {connection.ops.quote_name(alerts.db_table)} "  # noqa: S608 - names from the model
        "WHERE route_id = %s AND status = %s AND received_at >= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [route_id, Alert.Status.REJECTED.value, received_at])
        return int(cursor.fetchone()[0])


def in_flight_orders(route_id: int) -> QuerySet[Order]:
    """Orders that may still change the route's position without our knowing: sent (or about to be) with no
    definitive answer. The worst-case stop is not among them: it rests, and only a trigger moves the position."""
    return Order.objects.filter(route_id=route_id, purpose__in=POSITION_ORDERS, state__in=IN_FLIGHT_STATES).order_by(
        "pk"
    )


def any_in_flight(route_id: int) -> bool:
    """Whether the route has an order in flight (`in_flight_orders`), in one plain query: the engine asks before
    every decision, and almost always the answer is no."""
    where = {"route_id": route_id, "purpose__in": POSITION_ORDERS, "state__in": IN_FLIGHT_STATES}
    return first_id(Order, where) is not None


def live_stops(route: Route) -> list[Order]:
    return list(
        Order.objects.filter(route=route, purpose=Order.Purpose.WORST_CASE_STOP, state__in=LIVE_STOP_STATES).order_by(
            "pk"
        )
    )


def owns_position(route: Route) -> bool:
    """Whether the route keeps the worst-case stop of its instrument on its account. Kraken nets one position per
    instrument per account: the enabled route trading it owns it; with none enabled, the newest route of the
    instrument does (a disabled route's open position stays protected, but never by two full-size stops)."""
    if route.exchange_account_id is None:
        return False
    if route.enabled:
        return True
    others = Route.objects.filter(exchange_account_id=route.exchange_account_id, symbol=route.symbol).exclude(
        pk=route.pk
    )
    return not others.filter(Q(enabled=True) | Q(pk__gt=route.pk)).exists()


def implied_position(route: Route, state: RouteState | None = None) -> Decimal:
    """What our own orders' fills say the route's position is: the acknowledged baseline (if a person re-based the
    route on the exchange's position) plus every fill of our orders after it."""
    state = state or RouteState.objects.filter(route_id=route.pk).first()
    fills = Fill.objects.filter(order__route=route)
    base = Decimal(0)
    if state is not None and state.baseline_at is not None:
        base = state.baseline_position or Decimal(0)
        fills = fills.filter(filled_at__gt=state.baseline_at)
    rows = fills.values_list("side", "size")
    return base + sum((size if side == "buy" else -size for side, size in rows), Decimal(0))


def foreign_fills(route: Route, since: datetime | None = None) -> list[Fill]:
    """Fills on the route's instrument and account that none of our orders made: a manual trade, a liquidation."""
    fills = Fill.objects.filter(
        exchange_account_id=route.exchange_account_id, symbol=route.symbol, order__isnull=True
    ).order_by("filled_at")
    if since is not None:
        fills = fills.filter(filled_at__gt=since)
    return list(fills)


def realized_pnl_today(exchange_account_id: int | None, symbol: str, now: datetime) -> Decimal:
    """Today's (UTC) realised P&L of the instrument on the account, funding included, net of fees - from the
    exchange's account log as it stands at read time, so a log row imported before its fill still counts.

    Kraken nets one position per instrument per account and only one enabled route may trade it, so the
    instrument's P&L on the account is the route's."""
    if exchange_account_id is None:
        return Decimal(0)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    total = LedgerEntry.objects.filter(
        exchange_account_id=exchange_account_id, symbol=symbol, at__gte=midnight
    ).aggregate(pnl=Sum("realized_pnl"), funding=Sum("realized_funding"), fees=Sum("fee"))
    # Fees are a realised loss too: a limit on "what I lost today" that ignored them would be generous.
    return (total["pnl"] or Decimal(0)) + (total["funding"] or Decimal(0)) - (total["fees"] or Decimal(0))


def orders_last_hour(route_id: int, now: datetime) -> int:
    """Decisions that sent orders in the last hour (a reversal's two legs are one), rejected ones excepted."""
    return (
        Order.objects.filter(route_id=route_id, purpose=Order.Purpose.STRATEGY, created_at__gt=now - timedelta(hours=1))
        .exclude(state=OrderState.REJECTED)
        .values("decision_id")
        .distinct()
        .count()
    )


def unsettled_orders(now: datetime, lookup_window: timedelta) -> QuerySet[Order]:
    """Orders the sweeper must look at: unknown ones, and pending ones whose worker may have died."""
    stale_pending = now - lookup_window
    return (
        Order.objects.select_related("route", "route__exchange_account")
        .filter(state__in=IN_FLIGHT_STATES)
        .exclude(Q(state=OrderState.PENDING_SUBMIT) & Q(created_at__gt=stale_pending))
    )
