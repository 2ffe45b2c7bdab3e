"""Read-only admin for support: each paper account's book (balance, positions, resting orders) and its history.

Nothing here is secret; nothing here can be changed (a paper account is funded or reset through
``exchanges.paper.service``, which records it in the account log)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from exchanges.paper.models import PaperAccount, PaperOrder


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PaperAccount)
class PaperAccountAdmin(_ReadOnly):
    list_display = ("account", "owner", "collateral", "positions", "live_orders", "version", "updated_at")
    search_fields = ("account__label", "account__owner__email", "=uid")
    list_select_related = ("account", "account__owner")
    readonly_fields = (
        "account",
        "uid",
        "starting_balance",
        "collateral",
        "positions",
        "live_orders",
        "version",
        "created_at",
        "updated_at",
    )
    exclude = ("state",)

    @admin.display(description="owner")
    def owner(self, obj: PaperAccount) -> str:
        return obj.account.owner.email

    @admin.display(description="collateral (USD)")
    def collateral(self, obj: PaperAccount) -> str:
        return str(obj.state.get("accounts", {}).get(obj.uid, {}).get("collateral", ""))

    @admin.display(description="positions")
    def positions(self, obj: PaperAccount) -> str:
        held = obj.state.get("accounts", {}).get(obj.uid, {}).get("positions", {})
        return ", ".join(f"{symbol} {p['size']} @ {p['average_price']}" for symbol, p in held.items()) or "flat"


@admin.register(PaperOrder)
class PaperOrderAdmin(_ReadOnly):
    list_display = ("order_id", "client_order_id", "paper", "state", "accepted", "finished_at")
    list_filter = ("state", "accepted")
    search_fields = ("=order_id", "=client_order_id")
    exclude = ("data",)
    readonly_fields = ("paper", "order_id", "client_order_id", "seq", "accepted", "state", "finished_at")
