"""The route's page in the support desk: its settings, its worst-case stop, its freeze, its open attention items and
its whole history (who did what, when and why), with the staff actions that change its state:

- pause (support.pause_route): new alerts are skipped; what is resting stays;
- acknowledge drift (support.acknowledge_drift): routing.drift.acknowledge re-bases the route and lifts the freeze;
- flatten and pause (support.flatten_route, not in the support group: it places a reduce-only order).

Each asks why, and is recorded as RouteEvents with who and when. Routes are created by their traders (the secret is
shown to them once); the admin never creates one and never sees or changes a secret - only a hash and an encrypted
copy (for scrubbing rejections) exist, neither displayed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from audit.admin import SupportMedia
from audit.display import PlainValues, number, when
from audit.models import Attention, Order, RouteEvent
from exchanges.errors import ExchangeError
from routing import drift, flatten
from routing.models import Route, RouteState
from routing.route_changes import record, save_settings, set_enabled
from routing.selectors import LIVE_STOP_STATES


class RouteEventInline(PlainValues, admin.TabularInline):
    model = RouteEvent
    fields = ("at", "kind", "actor", "detail")
    readonly_fields = fields
    can_delete = False
    extra = 0
    verbose_name_plural = "history: who did what, when and why"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


STAFF_ACTIONS: dict[str, tuple[str, str]] = {
    # slug: (permission, button label)
    "pause": ("support.pause_route", "Pause route"),
    "acknowledge-drift": ("support.acknowledge_drift", "Acknowledge drift (re-base)"),
    "flatten": ("support.flatten_route", "Flatten and pause"),
}


@admin.register(Route)
class RouteAdmin(PlainValues, admin.ModelAdmin):
    Media = SupportMedia
    change_form_template = "admin/routing/route/change_form.html"
    list_display = (
        "name",
        "owner",
        "symbol",
        "account_mode",
        "sizing_mode",
        "enabled",
        "frozen",
        "worst_case_stop",
        "open_items",
        "webhook",
    )
    list_filter = ("enabled", "sizing_mode", "symbol", "exchange_account__mode")
    search_fields = ("name", "symbol", "owner__email", "=token")
    list_select_related = ("owner", "exchange_account")
    exclude = ("secret_hash",)
    readonly_fields = (
        "enabled",
        "webhook",
        "worst_case_stop",
        "freeze",
        "open_attention",
        "recent_alerts",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("owner", "exchange_account")
    inlines = [RouteEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Route, form: Any, change: bool) -> None:
        # A superuser's edit is history like a trader's: which settings changed, who and when.
        save_settings(route=obj, changed=list(form.changed_data), actor=request.user, now=timezone.now())  # type: ignore[arg-type]

    # --- columns -------------------------------------------------------------------------------------------------

    @admin.display(description="account", ordering="exchange_account__mode")
    def account_mode(self, obj: Route) -> str:
        account = obj.exchange_account
        return f"{account.get_mode_display()} · key …{account.key_fingerprint}" if account else "none"

    @admin.display(description="webhook path")
    def webhook(self, obj: Route) -> str:
        return obj.webhook_path if obj.pk else "-"

    @admin.display(description="frozen", boolean=True)
    def frozen(self, obj: Route) -> bool:
        return bool(obj.frozen_reason)

    @admin.display(description="open attention items")
    def open_items(self, obj: Route) -> int:
        return Attention.objects.filter(route=obj, resolved_at__isnull=True).count()

    @admin.display(description="worst-case stop (safety net)")
    def worst_case_stop(self, obj: Route) -> str:
        """The resting last-resort stop(s) of the route: what protects the position right now."""
        if not obj.pk:
            return "-"
        stops = Order.objects.filter(route=obj, purpose=Order.Purpose.WORST_CASE_STOP, state__in=LIVE_STOP_STATES)
        if not stops:
            return "none (flat, or no stop distance set)"
        return format_html_join(
            ", ",
            '<a href="{}">{} {} {} @ {} ({})</a>',
            (
                (
                    reverse("admin:audit_order_change", args=[o.pk]),
                    o.client_order_id,
                    o.side,
                    number(o.size),
                    number(o.stop_price),
                    o.state,
                )
                for o in stops
            ),
        )

    @admin.display(description="drift freeze")
    def freeze(self, obj: Route) -> str:
        state = RouteState.objects.filter(route_id=obj.pk).first()
        if state is None:
            return "-"
        frozen = f"frozen since {when(state.frozen_at)}: {state.frozen_reason}" if state.frozen_reason else "not frozen"
        if state.baseline_at is not None:
            frozen += f" · re-based on {number(state.baseline_position)} at {when(state.baseline_at)}"
        return frozen

    @admin.display(description="open attention items")
    def open_attention(self, obj: Route) -> str:
        items = Attention.objects.filter(route=obj, resolved_at__isnull=True).order_by("created_at")
        if not items:
            return "none"
        return format_html_join(
            "",
            '<p><a href="{}">{}</a> since {}: {}</p>',
            (
                (
                    reverse("admin:audit_attention_change", args=[item.pk]),
                    item.get_kind_display(),
                    when(item.created_at),
                    item.detail,
                )
                for item in items
            ),
        )

    @admin.display(description="alerts")
    def recent_alerts(self, obj: Route) -> str:
        alerts = reverse("admin:audit_alert_changelist")
        return format_html('<a href="{}?route__id__exact={}">every alert of this route</a>', alerts, obj.pk)

    # --- staff actions ---------------------------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        own = [
            path(
                f"<int:pk>/{slug}/",
                self.admin_site.admin_view(self._staff_action(slug)),
                name=f"routing_route_{slug.replace('-', '_')}",
            )
            for slug in STAFF_ACTIONS
        ]
        return own + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        route = Route.objects.filter(pk=object_id).first()
        allowed = [
            (reverse(f"admin:routing_route_{slug.replace('-', '_')}", args=[object_id]), label)
            for slug, (permission, label) in STAFF_ACTIONS.items()
            if request.user.has_perm(permission) and route is not None and _offered(slug, route)
        ]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "staff_actions": allowed})

    def _staff_action(self, slug: str) -> Callable[..., HttpResponse]:
        permission, label = STAFF_ACTIONS[slug]

        def view(request: HttpRequest, pk: int) -> HttpResponse:
            if not request.user.has_perm(permission):
                raise PermissionDenied
            route = get_object_or_404(Route.objects.select_related("exchange_account", "owner"), pk=pk)
            why = request.POST.get("why", "").strip() if request.method == "POST" else ""
            if not why:
                return TemplateResponse(
                    request,
                    "admin/routing/route/staff_action.html",
                    {
                        **self.admin_site.each_context(request),
                        "title": f"{label}: {route.name}",
                        "route": route,
                        "label": label,
                        "explain": render_to_string(f"admin/routing/route/explain_{slug}.html", {"route": route}),
                        "missing_why": request.method == "POST",
                        "opts": self.model._meta,
                        "original": route,
                    },
                )
            level, text = _run(slug, route, request.user, why)  # type: ignore[arg-type]
            self.message_user(request, text, level)
            return HttpResponseRedirect(reverse("admin:routing_route_change", args=[route.pk]))

        return view


def _offered(slug: str, route: Route) -> bool:
    """A button only where it can do something: pause an enabled route, re-base a frozen one. (The action's own
    page still answers either way, and says what it would do.)"""
    if slug == "pause":
        return route.enabled
    if slug == "acknowledge-drift":
        return bool(route.frozen_reason)
    return True


def _run(slug: str, route: Route, actor: Any, why: str) -> tuple[int, str]:
    now = timezone.now()
    if slug == "pause":
        changed = set_enabled(route=route, enabled=False, actor=actor, now=now, detail=f"by support: {why}")
        return (messages.SUCCESS, "Route paused.") if changed else (messages.INFO, "The route was paused already.")
    if slug == "acknowledge-drift":
        try:
            drift.acknowledge(route, actor=actor, note=why, now=now)
        except drift.RouteBusy:
            return messages.WARNING, "The route is busy with an alert or a reconciliation; nothing changed. Try again."
        except (ValueError, ExchangeError) as exc:
            return messages.ERROR, f"Nothing changed: {type(exc).__name__}: {exc}"
        return messages.SUCCESS, "Drift acknowledged: the route is re-based on the exchange's position and unfrozen."
    record(route, RouteEvent.Kind.NOTE, actor=actor, now=now, detail=f"flatten and pause by support: {why}")
    result = flatten.flatten_and_pause(route, actor=actor)
    return (messages.SUCCESS if result.outcome in {"flat", "closing"} else messages.WARNING), " ".join(
        [f"Flatten: {result.outcome}.", *result.steps]
    )
