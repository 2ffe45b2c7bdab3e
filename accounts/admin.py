"""People and their exchange accounts in the support desk.

A user's page shows what support needs about them in one place: their routes, their exchange accounts (by key
fingerprint only), their subscription and their recent alerts. Support (view-only) sees no password hash and no
permission editor; superusers keep Django's full user form. No key or secret of either credential kind is ever
rendered: all are excluded, and deferred so they are not even decrypted.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string

from accounts.models import SECRET_FIELDS, ExchangeAccount, User
from audit.admin import SupportMedia, outcome_text
from audit.display import PlainValues, when
from audit.models import Alert

SUPPORT_FIELDS = ("routes_view", "accounts_view", "subscription_view", "recent_alerts_view")


@admin.register(User)
class SupportUserAdmin(PlainValues, UserAdmin):
    Media = SupportMedia
    list_display = ("email", "username", "date_joined", "last_login", "is_staff", "live_access", "route_count")
    search_fields = ("email", "username", "first_name", "last_name")
    ordering = ("-date_joined",)
    readonly_fields = SUPPORT_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).select_related("live_access")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return super().get_fieldsets(request, obj)
        support = ("What support needs", {"fields": SUPPORT_FIELDS})
        if not self.has_change_permission(request, obj):
            person = (
                "email",
                "username",
                "first_name",
                "last_name",
                "is_active",
                "plain_last_login",
                "plain_date_joined",
            )
            return [(None, {"fields": person}), support]
        return [*super().get_fieldsets(request, obj), support]

    @admin.display(description="live access")
    def live_access(self, obj: User) -> str:
        access = getattr(obj, "live_access", None)
        return access.status or "-" if access else "-"

    @admin.display(description="routes")
    def route_count(self, obj: User) -> int:
        return obj.routes.count()  # type: ignore[attr-defined]

    @admin.display(description="routes")
    def routes_view(self, obj: User) -> str:
        routes = obj.routes.select_related("exchange_account").order_by("name")  # type: ignore[attr-defined]
        return render_to_string("admin/accounts/user/routes.html", {"routes": routes})

    @admin.display(description="exchange accounts (key fingerprints only)")
    def accounts_view(self, obj: User) -> str:
        accounts = ExchangeAccount.objects.filter(owner=obj).order_by("label")
        return render_to_string(
            "admin/accounts/user/accounts.html",
            {"accounts": [(account, when(account.verified_at)) for account in accounts]},
        )

    @admin.display(description="subscription")
    def subscription_view(self, obj: User) -> str:
        access = getattr(obj, "live_access", None)
        customers = list(obj.djstripe_customers.values_list("id", flat=True))  # type: ignore[attr-defined]
        return render_to_string(
            "admin/accounts/user/subscription.html",
            {
                "billing": settings.BILLING_ENABLED,
                "access": access,
                "until": when(access.active_until) if access else "-",
                "grace_days": settings.BILLING_GRACE_DAYS,
                "customers": customers,
            },
        )

    @admin.display(description="recent alerts")
    def recent_alerts_view(self, obj: User) -> str:
        alerts = Alert.objects.filter(route__owner=obj).select_related("route", "decision").order_by("-received_at")
        rows = [
            (alert, when(alert.received_at), outcome_text(getattr(alert, "decision", None))) for alert in alerts[:20]
        ]
        return render_to_string("admin/accounts/user/alerts.html", {"rows": rows, "user": obj})


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(PlainValues, admin.ModelAdmin):
    Media = SupportMedia
    list_display = (
        "label",
        "owner",
        "venue",
        "mode",
        "transport",
        "key_fingerprint",
        "ws_key_fingerprint",
        "connected",
        "credentials_problem",
        "verified_at",
    )
    list_filter = ("venue", "mode", "transport", "connected")
    search_fields = ("label", "owner__email", "key_fingerprint", "ws_key_fingerprint")
    exclude = SECRET_FIELDS
    readonly_fields = ("key_fingerprint", "ws_key_fingerprint", "credentials_problem", "verified_at", "created_at")
    raw_id_fields = ("owner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExchangeAccount]:
        return super().get_queryset(request).defer(*SECRET_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are added on the trader's pages and by `manage.py connect_exchange`, which verify them.
        return False
