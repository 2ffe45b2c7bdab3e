"""Raising something for a person: an Attention row support sees in the admin, and one e-mail to the owner.

One item per incident: while an item of the same kind for the same subject (route, account, order, alert) is
open, the condition showing up again bumps its count and time - it does not raise a second item or a second
e-mail. A stop that fails on every upkeep, a key refused on every alert: one item, one e-mail."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F

from accounts.models import ExchangeAccount
from audit.models import Alert, Attention, Order
from routing.models import Route

logger = logging.getLogger(__name__)


def raise_attention(
    *,
    kind: Attention.Kind,
    route: Route | None,
    detail: str,
    now: datetime,
    order: Order | None = None,
    exchange_account: ExchangeAccount | None = None,
    alert: Alert | None = None,
) -> Attention:
    subject = {"kind": kind, "route": route, "order": order, "exchange_account": exchange_account, "alert": alert}
    open_items = Attention.objects.filter(**subject, resolved_at__isnull=True)
    if open_items.update(occurrences=F("occurrences") + 1, last_seen_at=now):
        return open_items.first()  # type: ignore[return-value]
    item = Attention.objects.create(**subject, detail=detail[:500], created_at=now, last_seen_at=now)
    logger.warning(
        "attention %s (route %s, account %s)",
        kind,
        route.pk if route else "-",
        exchange_account.pk if exchange_account else "-",
    )
    _email(item, route, exchange_account, detail)
    return item


def resolve_open(
    *, kind: Attention.Kind | tuple[Attention.Kind, ...], now: datetime, note: str, **subject: object
) -> int:
    """The condition is gone (the key works again, the stop is in place): close its open item(s), recorded."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return Attention.objects.filter(kind__in=kinds, resolved_at__isnull=True, **subject).update(
        resolved_at=now, resolution_note=note[:300]
    )


def _email(item: Attention, route: Route | None, account: ExchangeAccount | None, detail: str) -> None:
    if route is not None and not route.email_alerts:
        return
    owner = route.owner if route is not None else account.owner if account is not None else None
    if owner is None or not owner.email:
        return
    where = route.name if route is not None else account.label if account is not None else "your account"
    send_mail(
        subject=f"OrderRail: {item.get_kind_display()} on {where}",
        message=f"{detail}\n\nOrderRail will not trade around this on its own. Sign in to review it.",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[owner.email],
        fail_silently=True,  # the Attention row is the record; a mail outage must not stop the engine
    )
