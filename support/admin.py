"""The "needs attention" queue (support.queue), as a page of the support desk: open items and stuck orders, oldest
first, each with what to do and an acknowledge form (support.acknowledge_attention), recorded with who and when.

Also: allauth's social-login app and token pages are taken out of the admin - the providers' client secrets come from
the environment here, and a token page would show people's OAuth tokens.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialApp, SocialToken
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from audit.admin import AttentionAdmin, ReadOnlyAdmin, SupportMedia
from audit.display import when
from audit.models import Attention, Order
from support import queue
from support.models import NeedsAttention

# The desk's lists are wide (outcomes and the trader's sentence in full): the page is theirs, not a sidebar's.
admin.site.enable_nav_sidebar = False
admin.site.site_header = "OrderRail support desk"
admin.site.site_title = "OrderRail support desk"
admin.site.index_title = "Find an alert, a trader or a route; see what needs attention"
admin.site.index_template = "support/index.html"
_index = admin.site.index


def _desk_index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's home starts with the alert search and the queue's size, for whoever may see the queue."""
    sees_queue = request.user.has_perm("support.view_needsattention")
    desk = {
        "open_attention": len(queue.open_items(timezone.now())) if sees_queue else None,
        "desk_media": forms.Media(css=SupportMedia.css),
    }
    return _index(request, {**(extra_context or {}), **desk})


admin.site.index = _desk_index  # type: ignore[method-assign]

for model in (SocialApp, SocialToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(NeedsAttention)
class NeedsAttentionAdmin(ReadOnlyAdmin):
    # Read-only like every desk page: an item is acknowledged through the queue's own view, never edited.

    def get_urls(self) -> list[Any]:
        return [
            path("", self.admin_site.admin_view(self.changelist_view), name="support_needsattention_changelist"),
            path(
                "item/<int:pk>/acknowledge/",
                self.admin_site.admin_view(self.acknowledge_item),
                name="support_needsattention_acknowledge",
            ),
            path(
                "order/<int:pk>/acknowledge/",
                self.admin_site.admin_view(self.acknowledge_order),
                name="support_needsattention_acknowledge_order",
            ),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        return TemplateResponse(
            request,
            "support/needs_attention.html",
            {
                **self.admin_site.each_context(request),
                "title": "Needs attention (oldest first)",
                "opts": self.model._meta,
                "rows": [(row, when(row.since)) for row in queue.open_items(now)],
                "can_acknowledge": request.user.has_perm("support.acknowledge_attention"),
                "media": self.media,
            },
        )

    def acknowledge_item(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = get_object_or_404(Attention, pk=pk)
        return self._acknowledge(
            request, lambda note, now: queue.acknowledge(item, actor=request.user, note=note, now=now)
        )  # type: ignore[arg-type]

    def acknowledge_order(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = get_object_or_404(Order, pk=pk)
        return self._acknowledge(
            request,
            lambda note, now: queue.acknowledge_order(order, actor=request.user, note=note, now=now),  # type: ignore[arg-type]
        )

    def _acknowledge(self, request: HttpRequest, act: Any) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("support.acknowledge_attention"):
            raise PermissionDenied
        note = request.POST.get("note", "").strip()
        if not note:
            self.message_user(request, "Say what you found or did: a note is required.", messages.ERROR)
        else:
            act(note, timezone.now())
            self.message_user(request, "Acknowledged.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:support_needsattention_changelist"))


@admin.register(Attention)
class AttentionDeskAdmin(AttentionAdmin):
    """Every attention item, open and closed, with acknowledging in bulk from the list: queue.acknowledge, the
    same rule as the queue's own button (who, when, a note; an item closed already stays as it was)."""

    actions = ["acknowledge"]

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("support.acknowledge_attention")

    @admin.action(description="Acknowledge the selected items (with a note)", permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Attention]) -> HttpResponse | None:
        note = request.POST.get("note", "").strip()
        if "apply" not in request.POST or not note:
            return TemplateResponse(
                request,
                "support/acknowledge.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Acknowledge attention items",
                    "items": queryset,
                    "opts": self.model._meta,
                    "action": "acknowledge",
                    "missing_note": "apply" in request.POST,
                },
            )
        now = timezone.now()
        closed = sum(queue.acknowledge(item, actor=request.user, note=note, now=now) for item in queryset)  # type: ignore[arg-type]
        self.message_user(request, f"{closed} item(s) acknowledged.", messages.SUCCESS)
        return None
