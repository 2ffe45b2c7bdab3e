"""The support desk's record pages: every alert, decision, check, order (with its history), fill, fee and account-log
row, the attention items and every route's history. Read-only for everyone; nothing secret is stored here (intake
strips the route secret from bodies; keys live on ExchangeAccount, shown by fingerprint only).

Support starts from the alert list: the search box takes whatever the trader said (audit.search). One page per alert
tells the whole story - the sentence the trader saw, the decision with every check, the orders with their state
history, fills, fees and the worst-case stop. Times are to the second in UTC and decimals plain (audit.display).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from audit.display import PlainValues, number, when
from audit.models import Alert, Attention, Decision, Fill, LedgerEntry, Order, OrderEvent, RouteEvent
from audit.order_states import OrderState
from audit.reasons import Reason
from audit.search import alert_query

STOP_STATES_NOW = (OrderState.PENDING_SUBMIT, OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.UNKNOWN)


class SupportMedia:
    css = {"all": ("support/admin.css",)}


class ReadOnlyAdmin(PlainValues, admin.ModelAdmin):
    Media = SupportMedia

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(PlainValues, admin.TabularInline):
    can_delete = False
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _pretty(data: object) -> str:
    return format_html('<pre class="support-json">{}</pre>', json.dumps(data, indent=2, sort_keys=True))


def _link(name: str, pk: object, text: object) -> str:
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{name}_change", args=[pk]), text)


def outcome_text(decision: Decision | None) -> str:
    if decision is None:
        return "-"
    return f"{decision.get_action_display()}: {Reason(decision.reason).label} ({decision.reason})"


# --- alerts: where support starts --------------------------------------------------------------------------------


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    # Few, narrow columns so that the outcome and the trader's sentence are read in full at laptop width (when
    # TradingView fired it is on the alert's page; the list sorts by when it arrived).
    list_display = ("id", "received_at", "owner_and_route", "status", "outcome", "explanation")
    list_display_links = ("id",)
    list_filter = ("status", "decision__action", "decision__reason", "route")
    list_select_related = ("route", "route__owner", "decision")
    ordering = ("-received_at", "-id")
    search_help_text = (
        "An alert id, the trader's e-mail, a route, a reason (code or words), sent/skipped/rejected, a time "
        "(2026-12-04 18:03:12, UTC), a client or exchange order id. Several words narrow the list."
    )
    fields = (
        "story",
        "route_link",
        "owner",
        "received_at",
        "fired_at",
        "status",
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
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Alert], search_term: str
    ) -> tuple[QuerySet[Alert], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(alert_query(search_term)).distinct(), False

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("id",)  # shows the search box; the search itself is alert_query

    @admin.display(description="owner", ordering="route__owner__email")
    def owner(self, obj: Alert) -> str:
        return _link("accounts_user", obj.route.owner_id, obj.route.owner.email)

    @admin.display(description="route", ordering="route__name")
    def route_link(self, obj: Alert) -> str:
        return _link("routing_route", obj.route_id, obj.route.name)

    @admin.display(description="trader · route", ordering="route__owner__email")
    def owner_and_route(self, obj: Alert) -> str:
        return format_html("{}<br>{}", self.owner(obj), self.route_link(obj))

    @admin.display(description="outcome", ordering="decision__reason")
    def outcome(self, obj: Alert) -> str:
        return outcome_text(getattr(obj, "decision", None))

    @admin.display(description="what the trader sees")
    def explanation(self, obj: Alert) -> str:
        decision = getattr(obj, "decision", None)
        return decision.message if decision else "Queued; not decided yet."

    @admin.display(description="payload (secret removed)")
    def payload(self, obj: Alert) -> str:
        return _pretty(obj.body)

    @admin.display(description="what happened")
    def story(self, obj: Alert) -> str:
        return render_to_string("audit/admin/alert_story.html", alert_story(obj))


def alert_story(alert: Alert) -> dict[str, Any]:
    decision = Decision.objects.filter(alert=alert).first()
    orders = []
    if decision is not None:
        for order in decision.orders.prefetch_related("events", "fills").order_by("leg"):
            fills = list(order.fills.all())
            fees = [fill.fee for fill in fills if fill.fee is not None]
            orders.append(
                {
                    "order": order,
                    "size": number(order.size),
                    "filled": number(order.filled_size),
                    "average": number(order.average_fill_price),
                    "events": [(when(e.at), e.from_state, e.to_state, e.cause) for e in order.events.all()],
                    "fills": [
                        (when(f.filled_at), f.side, *map(number, (f.size, f.price, f.fee, f.realized_pnl)))
                        for f in fills
                    ],
                    "fees": number(sum(fees, Decimal(0))) if fees else "-",
                }
            )
    stops = []
    if decision is not None:
        later = Order.objects.filter(
            route_id=alert.route_id, purpose=Order.Purpose.WORST_CASE_STOP, created_at__gte=decision.created_at
        ).order_by("created_at")[:3]
        resting = Order.objects.filter(
            route_id=alert.route_id, purpose=Order.Purpose.WORST_CASE_STOP, state__in=STOP_STATES_NOW
        )
        for stop in dict.fromkeys([*later, *resting]):
            stops.append(
                {
                    "order": stop,
                    "size": number(stop.size),
                    "stop_price": number(stop.stop_price),
                    "created": when(stop.created_at),
                    "resting": stop.state in STOP_STATES_NOW,
                }
            )
    return {
        "alert": alert,
        "decision": decision,
        "outcome": outcome_text(decision),
        "received": when(alert.received_at),
        "fired": when(alert.fired_at),
        "decided": when(decision.created_at) if decision else "-",
        "checks": decision.checks if decision else [],
        "orders": orders,
        "stops": stops,
    }


# --- decisions, orders, fills, fees -------------------------------------------------------------------------------


class OrderInline(ReadOnlyInline):
    model = Order
    fields = ("client_order_id", "side", "size", "reduce_only", "state", "venue_status", "filled_size")
    readonly_fields = fields
    show_change_link = True


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "alert_link", "owner", "route", "action", "reason_text", "message")
    list_display_links = ("id",)
    list_filter = ("action", "reason", "route")
    search_fields = ("=alert__id", "=id", "=orders__client_order_id", "route__owner__email", "route__name")
    list_select_related = ("route", "route__owner")
    ordering = ("-created_at", "-id")
    fields = (
        "alert_link",
        "route",
        "created_at",
        "evaluated_at",
        "action",
        "reason_text",
        "message",
        "venue_status",
        "check_table",
        "snapshot_view",
        "config_view",
        "intent_view",
    )
    readonly_fields = fields
    inlines = [OrderInline]

    @admin.display(description="alert", ordering="alert_id")
    def alert_link(self, obj: Decision) -> str:
        return _link("audit_alert", obj.alert_id, f"alert {obj.alert_id}")

    @admin.display(description="owner", ordering="route__owner__email")
    def owner(self, obj: Decision) -> str:
        return obj.route.owner.email

    @admin.display(description="reason", ordering="reason")
    def reason_text(self, obj: Decision) -> str:
        return f"{Reason(obj.reason).label} ({obj.reason})"

    @admin.display(description="checks")
    def check_table(self, obj: Decision) -> str:
        return render_to_string("audit/admin/checks.html", {"checks": obj.checks})

    @admin.display(description="snapshot")
    def snapshot_view(self, obj: Decision) -> str:
        return _pretty(obj.snapshot)

    @admin.display(description="route configuration")
    def config_view(self, obj: Decision) -> str:
        return _pretty(obj.route_config)

    @admin.display(description="alert as read")
    def intent_view(self, obj: Decision) -> str:
        return _pretty(obj.intent)


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("at", "from_state", "to_state", "cause")
    readonly_fields = fields


class FillInline(ReadOnlyInline):
    model = Fill
    fields = ("filled_at", "fill_id", "side", "size", "price", "liquidity", "fee", "realized_pnl")
    readonly_fields = fields


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
    list_filter = ("purpose", "state", "reduce_only", "route")
    search_fields = ("=client_order_id", "=exchange_order_id", "=decision__alert__id", "route__owner__email")
    list_select_related = ("route",)
    ordering = ("-created_at", "-id")
    fields = (
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
    readonly_fields = fields
    inlines = [OrderEventInline, FillInline]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ("filled_at", "fill_id", "symbol", "side", "size", "price", "fee", "realized_pnl", "order")
    list_filter = ("symbol", "side")
    search_fields = ("=fill_id", "=client_order_id", "=exchange_order_id")
    ordering = ("-filled_at", "-id")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "exchange_account", "route", "kind", "symbol", "fee", "realized_pnl", "realized_funding")
    list_filter = ("kind", "symbol")
    search_fields = ("=entry_id", "=execution_id")
    ordering = ("-at", "-id")


# --- attention items and route history ------------------------------------------------------------------------


class AttentionAdmin(ReadOnlyAdmin):
    """Every attention item, open and closed (the queue of open ones, with what to do, is support's "Needs
    attention" page). Registered by the support desk (support.admin), which adds acknowledging - the one change,
    recorded with who, when and a note, by the same rule as the queue's."""

    list_display = (
        "created_at",
        "kind",
        "subject",
        "detail",
        "occurrences",
        "last_seen_at",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    )
    list_filter = (("resolved_at", admin.EmptyFieldListFilter), "kind")
    search_fields = ("detail", "route__name", "route__owner__email", "order__client_order_id", "=alert__id")
    list_select_related = ("route", "order", "resolved_by")
    ordering = ("created_at", "id")  # oldest first, as a queue
    fields = (
        "kind",
        "subject",
        "detail",
        "created_at",
        "last_seen_at",
        "occurrences",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    )
    readonly_fields = fields

    @admin.display(description="subject")
    def subject(self, obj: Attention) -> str:
        if obj.route_id:
            return _link("routing_route", obj.route_id, obj.route)
        if obj.exchange_account_id:
            return _link("accounts_exchangeaccount", obj.exchange_account_id, obj.exchange_account)
        if obj.alert_id:
            return _link("audit_alert", obj.alert_id, f"alert {obj.alert_id}")
        return "-"


@admin.register(RouteEvent)
class RouteEventAdmin(ReadOnlyAdmin):
    """What people and the engine did to routes: enabled, paused, secret rotated, drift acknowledged, flattened -
    with who and when. Each route's page shows its own."""

    list_display = ("at", "route", "kind", "actor", "detail")
    list_filter = ("kind",)
    search_fields = ("route__name", "route__owner__email", "actor__email", "detail")
    list_select_related = ("route", "actor")
    ordering = ("-at", "-id")
