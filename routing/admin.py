from __future__ import annotations

from django.contrib import admin

from routing.models import Route


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    """Routes are created here for now (the trader pages come later). The secret is set by `create_route` and
    shown once; here only its hash exists, and it is not displayed."""

    list_display = ("name", "owner", "symbol", "sizing_mode", "enabled", "exchange_account", "webhook")
    list_filter = ("enabled", "sizing_mode", "symbol")
    search_fields = ("name", "symbol", "owner__email", "=token")
    exclude = ("secret_hash", "lease_owner", "lease_until")
    readonly_fields = ("webhook",)
    raw_id_fields = ("owner", "exchange_account")

    @admin.display(description="webhook path")
    def webhook(self, obj: Route) -> str:
        return obj.webhook_path if obj.pk else "-"
