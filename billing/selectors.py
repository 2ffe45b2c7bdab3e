"""What the billing page and the access notices read: the user's live access, the subscription behind it, its
invoices, and the live routes a lapse affects. Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from djstripe.models import Customer, Invoice

from accounts.models import ExchangeAccount, User
from billing.access import grace_period, lapse
from billing.models import AccessNotice, LiveAccess

STATUS_TEXT = {
    "active": "Active",
    "trialing": "Active (trial)",
    "past_due": "Payment failed - Stripe is retrying",
    "unpaid": "Unpaid",
    "canceled": "Cancelled",
    "incomplete": "Waiting for the first payment",
    "incomplete_expired": "First payment never completed",
    "paused": "Paused",
    "": "No subscription",
}


@dataclass(frozen=True)
class InvoiceRow:
    number: str
    created: datetime | None
    amount: Decimal
    currency: str
    status: str
    url: str


@dataclass(frozen=True)
class BillingSummary:
    status: str
    status_text: str
    live: bool  # live access right now
    ends_at: datetime | None  # when live access ends if nothing changes
    renews_at: datetime | None  # the next renewal, when the subscription renews normally
    in_grace: bool  # a renewal failed and access is running on the grace period
    ending_soon: bool  # access ends within the notice window and will not renew by itself
    has_customer: bool
    live_routes: list[str] = field(default_factory=list)
    invoices: list[InvoiceRow] = field(default_factory=list)

    @property
    def can_subscribe(self) -> bool:
        # A second subscription would charge twice: while one is paid or retrying, the portal is the way.
        return self.status not in {"active", "trialing", "past_due"}


def live_route_names(user: User) -> list[str]:
    """The enabled routes that trade on a live exchange account: what a lapse of live access stops adding to."""
    return list(
        user.routes.filter(enabled=True, exchange_account__mode=ExchangeAccount.Mode.LIVE)  # type: ignore[attr-defined]
        .order_by("name")
        .values_list("name", flat=True)
    )


def billing_summary(user: User, now: datetime) -> BillingSummary:
    access = LiveAccess.objects.filter(user=user).first()
    grace = grace_period()
    status = access.status if access else ""
    ends_at = access.ends_at(grace) if access else None
    renews_normally = bool(access and access.renews and status in {"active", "trialing"})
    paid_until = access.active_until if access else None
    return BillingSummary(
        status=status,
        status_text=STATUS_TEXT.get(status, status.replace("_", " ").capitalize()),
        live=ends_at is not None and ends_at > now,
        ends_at=None if renews_normally else ends_at,
        renews_at=paid_until if renews_normally else None,
        in_grace=bool(paid_until and ends_at and paid_until <= now < ends_at),
        ending_soon=getattr(lapse(access, now), "kind", None) == AccessNotice.Kind.ENDING,
        has_customer=Customer.objects.filter(subscriber=user, livemode=settings.STRIPE_LIVE_MODE).exists(),
        live_routes=live_route_names(user),
        invoices=invoices(user),
    )


def invoices(user: User, limit: int = 24) -> list[InvoiceRow]:
    rows = Invoice.objects.filter(customer__subscriber=user).order_by("-created")[:limit]
    return [invoice_row(invoice.stripe_data, invoice.created) for invoice in rows]


def invoice_row(data: dict[str, Any], created: datetime | None) -> InvoiceRow:
    currency = str(data.get("currency") or "usd")
    cents = data.get("total") if isinstance(data.get("total"), int) else data.get("amount_due") or 0
    return InvoiceRow(
        number=str(data.get("number") or data.get("id") or ""),
        created=created,
        amount=_money(int(cents), currency),
        currency=currency.upper(),
        status=str(data.get("status") or ""),
        url=str(data.get("hosted_invoice_url") or ""),
    )


def _money(cents: int, currency: str) -> Decimal:
    if currency.lower() in {"jpy", "krw", "vnd", "clp"}:  # zero-decimal currencies
        return Decimal(cents)
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
