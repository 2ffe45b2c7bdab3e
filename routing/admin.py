from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join

from audit.models import Order
from routing.models import Route
from routing.selectors import LIVE_STOP_STATES


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    """Routes are created by their traders on the route pages (or `manage.py create_route`), which set the secret
    and show it once; the admin never creates one (a route saved here would have no secret and could never receive
    an alert) and never sees or changes a secret: only its hash and an encrypted copy (for scrubbing rejections)
    exist, neither displayed."""

    list_display = (
        "name",
        "owner",
        "symbol",
        "sizing_mode",
        "enabled",
        "frozen",
        "worst_case_stop",
        "exchange_account",
        "webhook",
    )
    list_filter = ("enabled", "sizing_mode", "symbol")
    search_fields = ("name", "symbol", "owner__email", "=token")
    exclude = ("secret_hash",)
    readonly_fields = ("webhook", "worst_case_stop")
    raw_id_fields = ("owner", "exchange_account")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="webhook path")
    def webhook(self, obj: Route) -> str:
        return obj.webhook_path if obj.pk else "-"

    @admin.display(description="frozen", boolean=True)
    def frozen(self, obj: Route) -> bool:
        return bool(obj.frozen_reason)

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
                    o.size,
                    o.stop_price,
                    o.state,
                )
                for o in stops
            ),
        )
