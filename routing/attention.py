"""Raising something for a person: an Attention row support sees in the admin, and an e-mail to the owner."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail

from audit.models import Attention, Order
from routing.models import Route

logger = logging.getLogger(__name__)


def raise_attention(
    *, kind: Attention.Kind, route: Route | None, detail: str, now: datetime, order: Order | None = None
) -> Attention:
    # One open item per (route, order, kind): a condition that persists across reconciliations is not re-sent.
    existing = Attention.objects.filter(kind=kind, route=route, order=order, resolved_at__isnull=True).first()
    if existing is not None:
        return existing
    item = Attention.objects.create(kind=kind, route=route, order=order, detail=detail[:500], created_at=now)
    owner_email = route.owner.email if route is not None else ""
    logger.warning("attention %s on route %s: %s", kind, route.pk if route else "-", detail)
    if owner_email:
        send_mail(
            subject=f"OrderRail: {item.get_kind_display()} on {route.name if route else 'your account'}",
            message=f"{detail}\n\nOrderRail will not trade around this on its own. Open the route to review it.",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[owner_email],
            fail_silently=True,  # the Attention row is the record; a mail outage must not stop reconciliation
        )
    return item
