"""Read-side queries for the trader's pages. Every one starts from the signed-in user: nothing here can reach
another user's accounts, routes, alerts, orders or fills, and a lookup by id that is not theirs is a 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404

from accounts.models import ExchangeAccount, User
from audit.models import Alert, Attention, Decision, Fill, LedgerEntry, Order, RouteEvent
from audit.order_states import OrderState
from audit.reasons import Reason
from routing.models import Route

OUTCOMES = {
    "sent": "Sent",
    "skipped": "Skipped",
    "rejected": "Rejected",
    "pending": "Waiting for a decision",
}


def accounts_of(user: User) -> QuerySet[ExchangeAccount]:
    return ExchangeAccount.objects.filter(owner=user).order_by("created_at", "pk")


def account_of(user: User, pk: int) -> ExchangeAccount:
    return get_object_or_404(accounts_of(user), pk=pk)


def routes_of(user: User) -> QuerySet[Route]:
    return Route.objects.filter(owner=user).select_related("exchange_account", "engine").order_by("name", "pk")


def route_of(user: User, pk: int) -> Route:
    return get_object_or_404(routes_of(user), pk=pk)


def alerts_of(user: User) -> QuerySet[Alert]:
    return Alert.objects.filter(route__owner=user).select_related("route", "decision")


def alert_of(user: User, pk: int) -> Alert:
    return get_object_or_404(alerts_of(user), pk=pk)


def orders_of(user: User) -> QuerySet[Order]:
    return Order.objects.filter(route__owner=user).select_related("route")


def fills_of(user: User) -> QuerySet[Fill]:
    return Fill.objects.filter(exchange_account__owner=user).select_related("route", "order")


def open_attention(user: User) -> QuerySet[Attention]:
    return (
        Attention.objects.filter(Q(route__owner=user) | Q(exchange_account__owner=user), resolved_at__isnull=True)
        .select_related("route", "exchange_account")
        .order_by("-created_at")
    )


def outcome_of(alert: Alert) -> str:
    """Sent / skipped / rejected / pending, as the trader reads it."""
    decision = getattr(alert, "decision", None) if has_decision(alert) else None
    if decision is None:
        return "rejected" if alert.status == Alert.Status.REJECTED else "pending"
    return {Decision.Action.SEND: "sent", Decision.Action.SKIP: "skipped"}.get(decision.action, "rejected")


def has_decision(alert: Alert) -> bool:
    try:
        return alert.decision is not None
    except Decision.DoesNotExist:
        return False


# -- positions --------------------------------------------------------------------------------------------------


def positions_by_route(routes: list[Route]) -> dict[int, Decimal]:
    """Each route's position as our own orders' fills imply it, re-based where a person acknowledged drift: the
    exchange's position at that moment plus our fills after it. One grouped query for the routes without a
    baseline, one each for the (rare) routes with one."""
    totals: dict[int, Decimal] = {r.pk: Decimal(0) for r in routes}
    plain_ids = []
    for route in routes:
        state = _engine(route)
        if state is None or state.baseline_at is None:
            plain_ids.append(route.pk)
            continue
        later = Fill.objects.filter(order__route_id=route.pk, filled_at__gt=state.baseline_at)
        totals[route.pk] = (state.baseline_position or Decimal(0)) + _signed_sum(
            later.values("side").annotate(total=Sum("size"))
        )
    rows = (
        Fill.objects.filter(order__route_id__in=plain_ids).values("order__route_id", "side").annotate(total=Sum("size"))
    )
    for row in rows:
        totals[row["order__route_id"]] += _signed_sum([row])
    return totals


def _signed_sum(rows: Any) -> Decimal:
    return sum(((row["total"] or Decimal(0)) * (1 if row["side"] == "buy" else -1) for row in rows), Decimal(0))


def _engine(route: Route) -> Any:
    try:
        return route.engine
    except Exception:  # RouteState.DoesNotExist for routes made without save()
        return None


# -- dashboard --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteRow:
    route: Route
    position: Decimal
    last_alert: Alert | None
    outcome: str
    attention: int


def dashboard_rows(user: User) -> list[RouteRow]:
    routes = list(routes_of(user))
    positions = positions_by_route(routes)
    last_ids = (
        Alert.objects.filter(route__in=routes)
        .values("route_id")
        .annotate(last=Max("pk"))
        .values_list("last", flat=True)
    )
    last_alerts = {a.route_id: a for a in Alert.objects.filter(pk__in=list(last_ids)).select_related("decision")}
    attention = dict(
        Attention.objects.filter(route__in=routes, resolved_at__isnull=True)
        .values("route_id")
        .annotate(n=Count("pk"))
        .values_list("route_id", "n")
    )
    rows = []
    for route in routes:
        last = last_alerts.get(route.pk)
        rows.append(
            RouteRow(
                route=route,
                position=positions.get(route.pk, Decimal(0)),
                last_alert=last,
                outcome=outcome_of(last) if last else "",
                attention=attention.get(route.pk, 0),
            )
        )
    return rows


@dataclass(frozen=True)
class Totals:
    alerts_today: int
    sent_today: int
    skipped_today: int
    fees_30d: Decimal
    pnl_30d: Decimal

    @property
    def net_30d(self) -> Decimal:
        return self.pnl_30d - self.fees_30d


def totals(user: User, now: datetime) -> Totals:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = Decision.objects.filter(route__owner=user, created_at__gte=midnight)
    since = now - timedelta(days=30)
    ledger = LedgerEntry.objects.filter(exchange_account__owner=user, at__gte=since).aggregate(
        fees=Sum("fee"), pnl=Sum("realized_pnl")
    )
    return Totals(
        alerts_today=Alert.objects.filter(route__owner=user, received_at__gte=midnight).count(),
        sent_today=today.filter(action=Decision.Action.SEND).count(),
        skipped_today=today.filter(action=Decision.Action.SKIP).count(),
        fees_30d=ledger["fees"] or Decimal(0),
        pnl_30d=ledger["pnl"] or Decimal(0),
    )


# -- alerts list ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    outcome: str = ""
    reason: str = ""
    route: int | None = None
    since: date | None = None
    until: date | None = None


def filtered_alerts(user: User, f: AlertFilter) -> QuerySet[Alert]:
    qs = alerts_of(user)
    if f.outcome == "sent":
        qs = qs.filter(decision__action=Decision.Action.SEND)
    elif f.outcome == "skipped":
        qs = qs.filter(decision__action=Decision.Action.SKIP)
    elif f.outcome == "rejected":
        qs = qs.filter(Q(decision__action=Decision.Action.REJECT) | Q(status=Alert.Status.REJECTED))
    elif f.outcome == "pending":
        qs = qs.filter(decision__isnull=True).exclude(status=Alert.Status.REJECTED)
    if f.reason:
        qs = qs.filter(decision__reason=f.reason)
    if f.route is not None:
        qs = qs.filter(route_id=f.route)
    if f.since is not None:
        qs = qs.filter(received_at__gte=datetime.combine(f.since, time.min, tzinfo=_utc()))
    if f.until is not None:
        qs = qs.filter(received_at__lt=datetime.combine(f.until + timedelta(days=1), time.min, tzinfo=_utc()))
    return qs.order_by("-received_at", "-pk")


def _utc() -> Any:
    from datetime import UTC

    return UTC


def reason_choices() -> list[tuple[str, str]]:
    return [(r.value, r.label) for r in Reason]


# -- per-alert timeline ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    alert: Alert
    decision: Decision | None
    outcome: str
    orders: list[Order]
    fills: list[Fill]
    fees: list[LedgerEntry]
    stops: list[Order]
    duplicates: int


def timeline(user: User, pk: int) -> Timeline:
    alert = alert_of(user, pk)
    decision = alert.decision if has_decision(alert) else None
    orders = (
        list(Order.objects.filter(decision=decision).prefetch_related("events").order_by("leg", "pk"))
        if decision
        else []
    )
    fills = list(Fill.objects.filter(order__in=orders).order_by("filled_at", "pk"))
    fees = list(
        LedgerEntry.objects.filter(
            exchange_account__owner=user, execution_id__in=[f.fill_id for f in fills if f.fill_id]
        ).order_by("at")
    )
    # The worst-case stop that protected the position this alert's orders left: the stops placed after them.
    stops: list[Order] = []
    if orders:
        stops = list(
            Order.objects.filter(
                route=alert.route, purpose=Order.Purpose.WORST_CASE_STOP, created_at__gte=orders[0].created_at
            )
            .prefetch_related("events")
            .order_by("created_at", "pk")[:3]
        )
    return Timeline(
        alert=alert,
        decision=decision,
        outcome=outcome_of(alert),
        orders=orders,
        fills=fills,
        fees=fees,
        stops=stops,
        duplicates=alert.duplicates,
    )


# -- route page -------------------------------------------------------------------------------------------------


LIVE_ORDER_STATES = (
    OrderState.PENDING_SUBMIT,
    OrderState.OPEN,
    OrderState.PARTIALLY_FILLED,
    OrderState.UNKNOWN,
)


def route_orders(route: Route, limit: int = 25) -> list[Order]:
    return list(Order.objects.filter(route=route).order_by("-created_at", "-pk")[:limit])


def route_live_stop(route: Route) -> Order | None:
    return (
        Order.objects.filter(route=route, purpose=Order.Purpose.WORST_CASE_STOP, state__in=LIVE_ORDER_STATES)
        .order_by("-pk")
        .first()
    )


def route_history(route: Route, limit: int = 30) -> list[RouteEvent]:
    return list(RouteEvent.objects.filter(route=route).select_related("actor").order_by("-at", "-pk")[:limit])


def route_recent_alerts(route: Route, limit: int = 10) -> list[Alert]:
    return list(Alert.objects.filter(route=route).select_related("decision").order_by("-received_at", "-pk")[:limit])


# -- fees and P&L over time --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayTotals:
    day: date
    fees: Decimal
    pnl: Decimal
    funding: Decimal

    @property
    def net(self) -> Decimal:
        return self.pnl + self.funding - self.fees


def daily_totals(user: User, *, since: date, route: Route | None = None) -> list[DayTotals]:
    qs = LedgerEntry.objects.filter(
        exchange_account__owner=user, at__gte=datetime.combine(since, time.min, tzinfo=_utc())
    )
    if route is not None:
        qs = qs.filter(route=route)
    rows = (
        qs.annotate(day=TruncDate("at"))
        .values("day")
        .annotate(fees=Sum("fee"), pnl=Sum("realized_pnl"), funding=Sum("realized_funding"))
        .order_by("day")
    )
    return [
        DayTotals(
            day=row["day"],
            fees=row["fees"] or Decimal(0),
            pnl=row["pnl"] or Decimal(0),
            funding=row["funding"] or Decimal(0),
        )
        for row in rows
    ]
