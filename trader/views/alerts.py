"""What happened to every alert: the filtered list, one alert's timeline, and fees and P&L over time."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from trader import charts, selectors
from trader.forms import AlertFilterForm

PAGE_SIZE = 50


def alert_filter(request: HttpRequest) -> tuple[AlertFilterForm, selectors.AlertFilter]:
    """The filters from the query string; a value that does not parse is reported and left out, never a 500."""
    form = AlertFilterForm(request.GET or None, owner=request.user)
    if not form.is_bound:
        return form, selectors.AlertFilter()
    form.is_valid()
    data = form.cleaned_data
    return form, selectors.AlertFilter(
        outcome=data.get("outcome") or "",
        reason=data.get("reason") or "",
        route=data.get("route"),
        since=data.get("since"),
        until=data.get("until") if "until" not in form.errors else None,
    )


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    form, chosen = alert_filter(request)
    page = Paginator(selectors.filtered_alerts(request.user, chosen), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "trader/alert_list.html",
        {"nav": "alerts", "form": form, "page": page, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "trader/alert_detail.html", {"nav": "alerts", "t": selectors.timeline(request.user, pk)})


@login_required
def performance(request: HttpRequest) -> HttpResponse:
    days = 30 if request.GET.get("days") not in ("7", "90", "365") else int(request.GET["days"])
    since = (timezone.now() - timedelta(days=days - 1)).date()
    rows = selectors.daily_totals(request.user, since=since)
    series = charts.fill_days(rows, since=since, days=days)
    return render(
        request,
        "trader/performance.html",
        {
            "nav": "performance",
            "days": days,
            "rows": [r for r in reversed(series) if r.fees or r.pnl or r.funding],
            "pnl_chart": charts.bar_chart(
                [(r.day, r.pnl + r.funding - r.fees) for r in series], title="Net realised P&L per day (USD)"
            ),
            "fee_chart": charts.bar_chart([(r.day, r.fees) for r in series], title="Fees per day (USD)", fee=True),
            "cumulative_chart": charts.line_chart(charts.cumulative(series), title="Cumulative net P&L (USD)"),
            "total": charts.total(series),
        },
    )
