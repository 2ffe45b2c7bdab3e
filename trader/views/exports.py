"""CSV exports of the signed-in trader's alerts (with the list's filters), orders and fills."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from trader import selectors
from trader.views.alerts import alert_filter


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    text = str(value)
    # A cell a spreadsheet would run as a formula (=, +, -, @ …) is written as text: an alert's symbol or comment
    # comes from outside.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _csv(name: str, header: list[str], rows: Iterable[list[object]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="orderrail-{name}-{stamp}.csv"'
    return response


@login_required
def export_alerts(request: HttpRequest) -> StreamingHttpResponse:
    _form, chosen = alert_filter(request)
    alerts = selectors.filtered_alerts(request.user, chosen)
    return _csv(
        "alerts",
        ["alert_id", "received_at_utc", "fired_at_utc", "route", "outcome", "reason", "sentence", "exchange_status"],
        (
            [
                a.pk,
                a.received_at,
                a.fired_at,
                a.route.name,
                selectors.outcome_of(a),
                a.decision.reason if selectors.has_decision(a) else a.reject_reason,
                a.decision.message if selectors.has_decision(a) else "",
                a.decision.venue_status if selectors.has_decision(a) else "",
            ]
            for a in alerts.iterator(chunk_size=500)
        ),
    )


@login_required
def export_orders(request: HttpRequest) -> StreamingHttpResponse:
    orders = selectors.orders_of(request.user).order_by("-created_at", "-pk")
    return _csv(
        "orders",
        [
            "client_order_id",
            "created_at_utc",
            "route",
            "purpose",
            "symbol",
            "side",
            "type",
            "size",
            "reduce_only",
            "stop_price",
            "state",
            "filled_size",
            "average_fill_price",
            "exchange_status",
            "alert_id",
        ],
        (
            [
                o.client_order_id,
                o.created_at,
                o.route.name,
                o.purpose,
                o.symbol,
                o.side,
                o.order_type,
                o.size,
                o.reduce_only,
                o.stop_price,
                o.state,
                o.filled_size,
                o.average_fill_price,
                o.venue_status,
                o.decision.alert_id if o.decision_id else "",
            ]
            for o in orders.select_related("decision").iterator(chunk_size=500)
        ),
    )


@login_required
def export_fills(request: HttpRequest) -> StreamingHttpResponse:
    fills = selectors.fills_of(request.user).order_by("-filled_at", "-pk")
    return _csv(
        "fills",
        [
            "fill_id",
            "filled_at_utc",
            "route",
            "client_order_id",
            "symbol",
            "side",
            "size",
            "price",
            "liquidity",
            "fee",
            "realized_pnl",
        ],
        (
            [
                f.fill_id,
                f.filled_at,
                f.route.name if f.route else "",
                f.client_order_id,
                f.symbol,
                f.side,
                f.size,
                f.price,
                f.liquidity,
                f.fee,
                f.realized_pnl,
            ]
            for f in fills.iterator(chunk_size=500)
        ),
    )
