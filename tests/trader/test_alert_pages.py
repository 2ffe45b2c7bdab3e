"""The alerts list (filters, pagination, bad filters), an alert's timeline, fees and P&L charts, CSV exports."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Alert, LedgerEntry
from tests.routing.conftest import payload, post
from tests.trader.conftest import ROUTE_SECRET_A, Trader
from tests.worker import run_queued_tasks
from trader import charts
from trader.selectors import DayTotals

pytestmark = pytest.mark.django_db


_sent = itertools.count()


def send(t: Trader, **fields: str) -> Alert:
    # A strategy order id of its own: two alerts with the same body within one second of `time` are one alert (a
    # duplicate), which made these tests fail now and then.
    fields.setdefault("id", f"page-test-{next(_sent)}")
    answer = post(t.client, t.route, payload(ROUTE_SECRET_A, symbol="XBTUSD.P", **fields))
    assert answer.status_code in (202, 400, 401), answer.content
    run_queued_tasks()
    return Alert.objects.get(pk=answer.json()["alert"])


def rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_filters_by_outcome_reason_route_and_date(traders) -> None:
    a, _ = traders
    skipped = send(a, position="0.01", market_position="long")  # already at target
    assert skipped.decision.reason == "already_at_target"
    url = reverse("alert_list")
    assert [x.pk for x in a.client.get(url + "?outcome=skipped").context["page"]] == [skipped.pk]
    assert [x.pk for x in a.client.get(url + "?outcome=sent").context["page"]] == [a.alert.pk]
    assert [x.pk for x in a.client.get(url + "?reason=already_at_target").context["page"]] == [skipped.pk]
    assert len(a.client.get(url + f"?route={a.route.pk}").context["page"]) == 2
    today = timezone.now().date()
    assert len(a.client.get(url + f"?since={today}&until={today}").context["page"]) == 2
    assert len(a.client.get(url + f"?until={today - timedelta(days=1)}").context["page"]) == 0
    html = a.client.get(url + "?outcome=skipped").content.decode()
    assert "Skipped: the position is already 0.01" in html
    assert skipped.received_at.strftime("%Y-%m-%d %H:%M:%S") in html  # time to the second


@pytest.mark.parametrize(
    "query",
    [
        "?since=yesterday",
        "?outcome=maybe",
        "?reason=bogus",
        "?route=abc",
        "?since=2026-05-02&until=2026-05-01",
        "?page=x",
    ],
)
def test_bad_filters_get_a_clear_message_never_a_500(traders, query) -> None:
    a, _ = traders
    response = a.client.get(reverse("alert_list") + query)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "could not be read" in response.content.decode()


def test_pagination(traders, monkeypatch) -> None:
    from trader.views import alerts

    a, _ = traders
    monkeypatch.setattr(alerts, "PAGE_SIZE", 1)
    send(a, position="0.01", market_position="long")
    first = a.client.get(reverse("alert_list"))
    assert "Page 1 of 2" in first.content.decode()
    second = a.client.get(reverse("alert_list") + "?page=2")
    assert [x.pk for x in second.context["page"]] == [a.alert.pk]


def test_the_timeline_shows_each_check_the_order_the_fill_the_fee_and_the_stop(traders) -> None:
    a, _ = traders
    fill = a.alert.decision.orders.get().fills.get()
    LedgerEntry.objects.create(
        exchange_account=a.account,
        route=a.route,
        entry_id="L1",
        at=timezone.now(),
        kind="futures trade",
        asset="USD",
        fee=Decimal("0.36"),
        execution_id=fill.fill_id,
    )
    html = a.client.get(reverse("alert_detail", args=[a.alert.pk])).content.decode()
    for expected in (
        "Received",
        "Route enabled",
        "Position change",
        "passed",
        "Order or-",
        "Fill: buy 0.01 @",
        "fee 0.36 USD",
        "Worst-case stop: sell 0.01",
    ):
        assert expected in html, expected
    assert ROUTE_SECRET_A not in html


def test_the_timeline_gives_the_age_checks_in_seconds_against_their_limits(traders) -> None:
    """The decision keeps the exact age (replay compares it); the page rounds it and says how it must stand."""
    a, _ = traders
    checks = {c["name"]: c for c in a.alert.decision.checks}
    exact = Decimal(checks["alert_age"]["observed"])
    html = a.client.get(reverse("alert_detail", args=[a.alert.pk])).content.decode()
    shown = f"{exact.quantize(Decimal('0.01')).normalize():f} s" if exact else "0 s"
    assert f">{shown}<" in html
    assert f">at most {a.route.max_alert_age_seconds} s<" in html
    assert f">at least -{a.route.future_skew_seconds} s<" in html


def test_a_rejected_alert_has_a_timeline_too(traders) -> None:
    a, _ = traders
    answer = post(a.client, a.route, payload("wrong-secret"))
    assert answer.status_code == 401
    html = a.client.get(reverse("alert_detail", args=[answer.json()["alert"]])).content.decode()
    assert "Refused at the webhook" in html and "does not match" in html


def test_csv_exports(traders) -> None:
    a, _ = traders
    alerts = rows(a.client.get(reverse("export_alerts")))
    assert alerts[0]["outcome"] == "sent" and alerts[0]["reason"] == "order_sent"
    orders = rows(a.client.get(reverse("export_orders")))
    assert {o["purpose"] for o in orders} == {"strategy", "worst_case_stop"}
    fills = rows(a.client.get(reverse("export_fills")))
    assert fills[0]["size"] == "0.01" and fills[0]["side"] == "buy"


def test_a_formula_in_an_exported_cell_is_written_as_text() -> None:
    from trader.views.exports import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("-0.5") == "-0.5" and _cell(Decimal("0.100000")) == "0.1"


def test_charts_are_svg_with_one_bar_per_active_day_and_escaped_text() -> None:
    day = date(2026, 5, 1)
    series = charts.fill_days([DayTotals(day, Decimal("1"), Decimal("10"), Decimal(0))], since=day, days=3)
    assert [r.net for r in series] == [Decimal(9), 0, 0]
    svg = charts.bar_chart([(r.day, r.net) for r in series], title="<b>x</b>")
    assert svg.startswith("<svg") and svg.count("<rect") == 1 and "<b>" not in svg
    assert charts.cumulative(series)[-1][1] == Decimal(9)
    assert charts.total(series).net == Decimal(9)


def test_performance_page_shows_totals_from_the_account_log(traders) -> None:
    a, _ = traders
    LedgerEntry.objects.create(
        exchange_account=a.account,
        entry_id="L2",
        at=timezone.now(),
        kind="futures trade",
        fee=Decimal("1.5"),
        realized_pnl=Decimal("12"),
    )
    html = a.client.get(reverse("performance")).content.decode()
    assert "10.50" in html and "12.00" in html and "<svg" in html


def test_positions_follow_fills_and_a_drift_baseline(traders) -> None:
    from routing.models import RouteState
    from trader.selectors import positions_by_route

    a, b = traders
    routes = [a.route, b.route]
    assert positions_by_route(routes) == {a.route.pk: Decimal("0.01"), b.route.pk: Decimal("0.01")}
    # A person re-based Alice's route on the exchange's 0.5 after the fill: later fills only add to that.
    RouteState.objects.filter(route=a.route).update(baseline_position=Decimal("0.5"), baseline_at=timezone.now())
    a.route.refresh_from_db()
    assert positions_by_route([a.route, b.route])[a.route.pk] == Decimal("0.5")
