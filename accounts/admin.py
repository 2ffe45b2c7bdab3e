from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import SECRET_FIELDS, ExchangeAccount, User

admin.site.register(User, UserAdmin)


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(admin.ModelAdmin):
    """Never renders a key or a secret, of either credential kind: all are excluded, and deferred so they are not even
    decrypted. (The Unified WebSocket pair was rendered in the change form until the canary test caught it.)"""

    list_display = ("label", "owner", "venue", "mode", "key_fingerprint", "connected", "verified_at")
    list_filter = ("venue", "mode", "connected")
    search_fields = ("label", "owner__email", "key_fingerprint")
    exclude = SECRET_FIELDS
    readonly_fields = ("key_fingerprint", "ws_key_fingerprint", "verified_at", "created_at")
    raw_id_fields = ("owner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExchangeAccount]:
        return super().get_queryset(request).defer(*SECRET_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are added through `manage.py connect_exchange` (and later the trader pages), which verify them.
        return False
