"""Billing in the support desk, read-only: live access (which moves only on Stripe's signed events), the notices
sent, and the Stripe customers, subscriptions and invoices dj-stripe keeps.

dj-stripe's own admin pages for those three are replaced: they list every property of the stored Stripe object (one
that Stripe's current API no longer sends, an invoice's `paid`, made the invoice list a 500) and offer actions that
call Stripe - cancel a subscription, re-sync - to anyone who may view them. Support may only look.

Stripe keys come from the environment only: dj-stripe's API-key admin (which stores a pasted secret key in its own
table) is taken out, and the webhook signing secrets (billing.WebhookSecret) are never registered. dj-stripe's admin
for every other Stripe object shows each property of the model read-only - `default_api_key` among them, which is the
Stripe secret key itself (the support desk's canary test found it on every event, price and product page): the
properties that are keys are taken out of those pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from djstripe.admin.admin import StripeModelAdmin
from djstripe.models import APIKey, Customer, Invoice, Subscription

from audit.admin import ReadOnlyAdmin
from audit.display import when
from billing.models import AccessNotice, LiveAccess
from billing.selectors import invoice_row
from billing.sync import facts

for model in (APIKey, Customer, Subscription, Invoice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)

KEY_PROPERTIES = frozenset({"default_api_key"})
_readonly_fields_with_keys = StripeModelAdmin.get_readonly_fields


def _readonly_fields_without_keys(self: StripeModelAdmin, request: HttpRequest, obj: Any = None) -> list[Any]:
    return [name for name in _readonly_fields_with_keys(self, request, obj) if name not in KEY_PROPERTIES]


StripeModelAdmin.get_readonly_fields = _readonly_fields_without_keys  # type: ignore[method-assign]


@admin.register(LiveAccess)
class LiveAccessAdmin(ReadOnlyAdmin):
    list_display = ("user", "status", "active_until", "renews", "subscription_id", "updated_at")
    list_filter = ("status", "renews")
    search_fields = ("user__email", "=subscription_id")
    list_select_related = ("user",)
    ordering = ("-updated_at",)


@admin.register(AccessNotice)
class AccessNoticeAdmin(ReadOnlyAdmin):
    list_display = ("sent_at", "user", "kind", "ends_at", "routes")
    list_filter = ("kind",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    ordering = ("-sent_at",)


class StripeReadOnly(ReadOnlyAdmin):
    actions = None
    ordering = ("-created",)


@admin.register(Customer)
class StripeCustomerAdmin(StripeReadOnly):
    list_display = ("id", "subscriber", "stripe_email", "created", "livemode")
    search_fields = ("=id", "subscriber__email")
    list_select_related = ("subscriber",)
    fields = ("id", "subscriber", "stripe_email", "created", "livemode")
    readonly_fields = fields

    @admin.display(description="e-mail at Stripe")
    def stripe_email(self, obj: Customer) -> str:
        return str(obj.stripe_data.get("email") or "-")


@admin.register(Subscription)
class StripeSubscriptionAdmin(StripeReadOnly):
    list_display = ("id", "subscriber", "status", "period_end", "ends", "created")
    search_fields = ("=id", "customer__subscriber__email", "=customer__id")
    list_select_related = ("customer", "customer__subscriber")
    fields = ("id", "customer", "subscriber", "status", "period_start", "period_end", "ends", "prices", "created")
    readonly_fields = fields

    @admin.display(description="user")
    def subscriber(self, obj: Subscription) -> Any:
        return obj.customer.subscriber

    @admin.display(description="status")
    def status(self, obj: Subscription) -> str:
        return facts(obj.stripe_data).status or "-"

    @admin.display(description="current period from")
    def period_start(self, obj: Subscription) -> str:
        return when(facts(obj.stripe_data).period_start)

    @admin.display(description="current period to")
    def period_end(self, obj: Subscription) -> str:
        return when(facts(obj.stripe_data).period_end)

    @admin.display(description="ends")
    def ends(self, obj: Subscription) -> str:
        known = facts(obj.stripe_data)
        if known.ended_at:
            return f"ended {when(known.ended_at)}"
        if known.cancel_at_period_end or known.cancel_at:
            return f"at {when(known.cancel_at or known.period_end)}"
        return "renews"

    @admin.display(description="prices")
    def prices(self, obj: Subscription) -> str:
        return ", ".join(sorted(facts(obj.stripe_data).price_ids)) or "-"


@admin.register(Invoice)
class StripeInvoiceAdmin(StripeReadOnly):
    list_display = ("number", "subscriber", "status", "amount", "created", "link")
    search_fields = ("=id", "customer__subscriber__email")
    list_select_related = ("customer", "customer__subscriber")
    fields = ("id", "number", "customer", "subscriber", "status", "amount", "created", "link")
    readonly_fields = fields

    @admin.display(description="user")
    def subscriber(self, obj: Invoice) -> Any:
        return obj.customer.subscriber if obj.customer_id else "-"

    @admin.display(description="number")
    def number(self, obj: Invoice) -> str:
        return invoice_row(obj.stripe_data, obj.created).number

    @admin.display(description="status")
    def status(self, obj: Invoice) -> str:
        return invoice_row(obj.stripe_data, obj.created).status or "-"

    @admin.display(description="amount")
    def amount(self, obj: Invoice) -> str:
        row = invoice_row(obj.stripe_data, obj.created)
        return f"{row.amount} {row.currency}"

    @admin.display(description="Stripe's page")
    def link(self, obj: Invoice) -> str:
        return invoice_row(obj.stripe_data, obj.created).url or "-"
