"""Read-only admin for support: every alert, decision, check, order, its history and fills - nothing secret.

Stored bodies never hold the route secret (the intake strips it), and exchange keys live on ExchangeAccount, whose
admin shows only a fingerprint.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from audit.models import Alert, Attention, Decision, Fill, LedgerEntry, Order, OrderEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _pretty(data: object) -> str:
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(data, indent=2, sort_keys=True))


class DecisionInline(admin.StackedInline):
    model = Decision
    fields = ("action", "reason", "message", "venue_status", "created_at")
    readonly_fields = fields
    can_delete = False
    extra = 0
    show_change_link = True


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "route", "owner", "status", "outcome", "fired_at", "duplicates")
    list_filter = ("status", "decision__reason", "received_at", "route")
    search_fields = ("=id", "route__name", "route__owner__email")
    list_select_related = ("route", "route__owner", "decision")
    date_hierarchy = "received_at"
    readonly_fields = (
        "route",
        "received_at",
        "status",
        "fired_at",
        "payload",
        "raw_excerpt",
        "content_type",
        "remote_ip",
        "reject_reason",
        "reject_detail",
        "duplicates",
        "claimed_at",
        "decided_at",
    )
    fields = readonly_fields
    inlines = [DecisionInline]

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        # Support pastes a client order id ("or-123") to find the alert behind it.
        if search_term.startswith("or-"):
            return queryset.filter(decision__orders__client_order_id=search_term), True
        return super().get_search_results(request, queryset, search_term.removeprefix("#"))

    @admin.display(description="owner")
    def owner(self, obj: Alert) -> str:
        return obj.route.owner.email

    @admin.display(description="outcome")
    def outcome(self, obj: Alert) -> str:
        decision = getattr(obj, "decision", None)
        return f"{decision.action}: {decision.reason}" if decision else "-"

    @admin.display(description="payload (secret removed)")
    def payload(self, obj: Alert) -> str:
        return _pretty(obj.body)


class OrderInline(admin.TabularInline):
    model = Order
    fields = ("client_order_id", "side", "size", "reduce_only", "state", "venue_status", "filled_size")
    readonly_fields = fields
    can_delete = False
    extra = 0
    show_change_link = True


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "route", "owner", "action", "reason", "message")
    list_filter = ("action", "reason", "created_at", "route")
    search_fields = ("=alert__id", "=id", "orders__client_order_id", "route__owner__email", "route__name")
    list_select_related = ("route", "route__owner")
    date_hierarchy = "created_at"
    readonly_fields = (
        "alert",
        "route",
        "created_at",
        "evaluated_at",
        "action",
        "reason",
        "message",
        "venue_status",
        "check_table",
        "snapshot_view",
        "config_view",
        "intent_view",
    )
    fields = readonly_fields
    inlines = [OrderInline]

    @admin.display(description="owner")
    def owner(self, obj: Decision) -> str:
        return obj.route.owner.email

    @admin.display(description="checks")
    def check_table(self, obj: Decision) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (c["name"], "✔" if c["passed"] else "✘ " + (c.get("reason") or ""), c["observed"], c["limit"])
                for c in obj.checks
            ),
        )
        return format_html(
            "<table><tr><th>check</th><th>passed</th><th>observed</th><th>limit</th></tr>{}</table>", rows
        )

    @admin.display(description="snapshot")
    def snapshot_view(self, obj: Decision) -> str:
        return _pretty(obj.snapshot)

    @admin.display(description="route configuration")
    def config_view(self, obj: Decision) -> str:
        return _pretty(obj.route_config)

    @admin.display(description="alert as read")
    def intent_view(self, obj: Decision) -> str:
        return _pretty(obj.intent)


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ("at", "from_state", "to_state", "cause")
    readonly_fields = fields
    can_delete = False
    extra = 0


class FillInline(admin.TabularInline):
    model = Fill
    fields = ("filled_at", "fill_id", "side", "size", "price", "liquidity", "fee", "realized_pnl")
    readonly_fields = fields
    can_delete = False
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "client_order_id",
        "created_at",
        "route",
        "purpose",
        "side",
        "size",
        "reduce_only",
        "state",
        "venue_status",
        "filled_size",
    )
    list_filter = ("purpose", "state", "reduce_only", "created_at", "route")
    search_fields = ("=client_order_id", "=exchange_order_id", "=decision__alert__id", "route__owner__email")
    list_select_related = ("route",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "route",
        "decision",
        "purpose",
        "leg",
        "client_order_id",
        "exchange_order_id",
        "symbol",
        "side",
        "order_type",
        "size",
        "stop_price",
        "limit_price",
        "trigger_signal",
        "reduce_only",
        "state",
        "venue_status",
        "filled_size",
        "average_fill_price",
        "submit_attempts",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    inlines = [OrderEventInline, FillInline]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ("filled_at", "fill_id", "symbol", "side", "size", "price", "fee", "realized_pnl", "order")
    list_filter = ("symbol", "side", "filled_at")
    search_fields = ("=fill_id", "=client_order_id", "=exchange_order_id")
    date_hierarchy = "filled_at"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "exchange_account", "route", "kind", "symbol", "fee", "realized_pnl", "realized_funding")
    list_filter = ("kind", "symbol", "at")
    search_fields = ("=entry_id", "=execution_id")
    date_hierarchy = "at"


@admin.register(Attention)
class AttentionAdmin(admin.ModelAdmin):
    """What needs a person. Support resolves an item by setting `resolved_at`; nothing else is editable."""

    list_display = ("created_at", "kind", "route", "order", "detail", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("detail", "route__name", "route__owner__email", "order__client_order_id")
    readonly_fields = ("kind", "route", "order", "detail", "created_at")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
