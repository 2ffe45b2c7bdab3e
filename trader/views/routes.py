"""Routes: create and edit, the webhook URL and TradingView message, secret rotation, pause/enable, "test this
route" and "flatten and pause". Changes go through `routing.route_changes`, `routing.preview`, `routing.flatten`."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from exchanges.errors import ExchangeError
from routing import drift, flatten, preview, route_changes
from routing.alert_message import alert_message
from routing.domain import Action, AlertIntent, SizingMode
from routing.models import Route
from trader import selectors
from trader.forms import RouteForm, SampleAlertForm


def webhook_url(request: HttpRequest, route: Route) -> str:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{route.webhook_path}" if base else request.build_absolute_uri(route.webhook_path)


def message_for(route: Route, secret: str | None = None) -> str:
    return alert_message(
        sizing_mode=route.sizing_mode,
        secret=secret,
        tv_alias=route.tv_alias,
        price_guard=route.price_deviation_pct is not None,
    )


@login_required
def route_list(request: HttpRequest) -> HttpResponse:
    return render(request, "trader/route_list.html", {"nav": "routes", "rows": selectors.dashboard_rows(request.user)})


@login_required
@never_cache
def route_create(request: HttpRequest) -> HttpResponse:
    initial = {"sizing_mode": SizingMode.TARGET.value, "max_alert_age_seconds": 60, "worst_case_stop_pct": 10}
    if request.GET.get("account", "").isdigit():
        initial["exchange_account"] = int(request.GET["account"])
    form = RouteForm(request.POST or None, owner=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            created = route_changes.create_route(route=form.save(commit=False), actor=request.user, now=timezone.now())
        except route_changes.RouteConflict as exc:
            form.add_error(None, str(exc))
        else:
            return _secret_once(request, created.route, created.secret, created=True)
    has_accounts = selectors.accounts_of(request.user).filter(connected=True).exists()
    return render(
        request,
        "trader/route_form.html",
        {"nav": "routes", "form": form, "creating": True, "has_accounts": has_accounts},
        status=400 if form.is_bound else 200,
    )


def _secret_once(request: HttpRequest, route: Route, secret: str, *, created: bool) -> HttpResponse:
    """The one page that shows the secret: answered to the POST itself (no redirect, not cached), so it is never
    stored anywhere for a later page to show."""
    response = render(
        request,
        "trader/route_secret.html",
        {
            "nav": "routes",
            "route": route,
            "created": created,
            "secret": secret,
            "webhook_url": webhook_url(request, route),
            "message": message_for(route, secret),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def route_detail(request: HttpRequest, pk: int) -> HttpResponse:
    route = selectors.route_of(request.user, pk)
    return render(
        request,
        "trader/route_detail.html",
        {
            "nav": "routes",
            "route": route,
            "position": selectors.positions_by_route([route]).get(route.pk),
            "webhook_url": webhook_url(request, route),
            "message": message_for(route),
            "orders": selectors.route_orders(route),
            "stop": selectors.route_live_stop(route),
            "alerts": selectors.route_recent_alerts(route),
            "history": selectors.route_history(route),
            "attention": list(selectors.open_attention(request.user).filter(route=route)),
        },
    )


@login_required
def route_edit(request: HttpRequest, pk: int) -> HttpResponse:
    route = selectors.route_of(request.user, pk)
    form = RouteForm(request.POST or None, instance=route, owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            route_changes.save_settings(
                route=form.save(commit=False), changed=form.changed_data, actor=request.user, now=timezone.now()
            )
        except route_changes.RouteConflict as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Settings saved. They apply from the next alert on.")
            return redirect("route_detail", pk=route.pk)
    return render(
        request,
        "trader/route_form.html",
        {"nav": "routes", "form": form, "route": route, "creating": False, "has_accounts": True},
        status=400 if form.is_bound else 200,
    )


@login_required
@require_POST
@never_cache
def route_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    route = selectors.route_of(request.user, pk)
    rotated = route_changes.rotate_secret(route=route, actor=request.user, now=timezone.now())
    return _secret_once(request, rotated.route, rotated.secret, created=False)


@login_required
@require_POST
def route_enable(request: HttpRequest, pk: int) -> HttpResponse:
    route = selectors.route_of(request.user, pk)
    try:
        route_changes.set_enabled(route=route, enabled=True, actor=request.user, now=timezone.now())
    except route_changes.RouteConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Route enabled: the next alert is processed.")
    return redirect("route_detail", pk=route.pk)


@login_required
@require_POST
def route_disable(request: HttpRequest, pk: int) -> HttpResponse:
    route = selectors.route_of(request.user, pk)
    route_changes.set_enabled(route=route, enabled=False, actor=request.user, now=timezone.now())
    messages.success(
        request,
        "Route paused: alerts are recorded and skipped. The position and its worst-case stop stay as they are; use "
        "“Flatten and pause” to close the position.",
    )
    return redirect("route_detail", pk=route.pk)


@login_required
@require_POST
def route_rebase(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge position drift: re-base the route on the exchange's position and lift the freeze."""
    route = selectors.route_of(request.user, pk)
    if not route.frozen_reason:
        messages.info(request, "This route is not frozen: there is nothing to acknowledge.")
        return redirect("route_detail", pk=route.pk)
    note = (request.POST.get("note") or "").strip()[:200]
    try:
        event = drift.acknowledge(
            route, actor=request.user, note=note or "acknowledged by the trader", now=timezone.now()
        )
    except drift.RouteBusy:
        messages.warning(request, "The route is processing an alert right now; nothing changed. Try again in a moment.")
    except ExchangeError as exc:
        messages.error(
            request, f"The exchange position could not be read ({type(exc).__name__}); nothing changed. Try again."
        )
    else:
        messages.success(request, f"{event.detail} New exposure is allowed again.")
    return redirect("route_detail", pk=route.pk)


@login_required
def route_test(request: HttpRequest, pk: int) -> HttpResponse:
    route = selectors.route_of(request.user, pk)
    defaults = {"action": "buy", "position": "0.01", "contracts": "0.01", "market_position": "long"}
    form = SampleAlertForm(request.POST or None, initial=defaults)
    result = None
    if request.method == "POST" and form.is_valid():
        now = timezone.now()
        result = preview.preview(route, _intent(route, form.cleaned_data, now), now)
    return render(
        request,
        "trader/route_test.html",
        {"nav": "routes", "route": route, "form": form, "result": result},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _intent(route: Route, data: dict[str, object], now: datetime) -> AlertIntent:
    return AlertIntent(
        action=Action(str(data["action"])),
        fired_at=now,
        # Only what the route's message carries: the other mode's field would never arrive from TradingView.
        position=data.get("position") if route.sizing_mode == SizingMode.TARGET else None,  # type: ignore[arg-type]
        contracts=data.get("contracts") if route.sizing_mode == SizingMode.CONTRACTS else None,  # type: ignore[arg-type]
        market_position=str(data.get("market_position") or "") or None,
        symbol=route.tv_alias or None,
        price=data.get("price"),  # type: ignore[arg-type]
    )


@login_required
def route_flatten(request: HttpRequest, pk: int) -> HttpResponse:
    route = selectors.route_of(request.user, pk)
    if request.method != "POST":
        return render(
            request,
            "trader/route_flatten.html",
            {"nav": "routes", "route": route, "position": selectors.positions_by_route([route]).get(route.pk)},
        )
    result = flatten.flatten_and_pause(route, actor=request.user)
    level = messages.SUCCESS if result.outcome == "flat" else messages.WARNING
    messages.add_message(request, level, " ".join(result.steps))
    return redirect("route_detail", pk=route.pk)
