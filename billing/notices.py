"""Telling the trader, by e-mail, before live access ends and when it has - and which live routes it affects.

Run on a schedule (routing.schedules, every BILLING_NOTICE_EVERY_MINUTES). Each notice is sent once: an
`AccessNotice` row per (user, kind, end) is inserted first, and the unique constraint turns a second run, or a second
worker, into a no-op. What counts as ending or ended is `billing.access.lapse`, the same rule as the page banner.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from accounts.models import User
from billing.access import lapse
from billing.models import AccessNotice, LiveAccess
from billing.selectors import live_route_names

logger = logging.getLogger(__name__)


def send_access_notices(now: datetime) -> int:
    if not settings.BILLING_ENABLED:
        return 0
    sent = 0
    for access in LiveAccess.objects.select_related("user").filter(active_until__isnull=False).iterator():
        found = lapse(access, now)
        if found is not None:
            sent += _send_once(access.user, found.kind, found.ends_at, now)
    return sent


def _send_once(user: User, kind: AccessNotice.Kind, ends_at: datetime, now: datetime) -> int:
    routes = live_route_names(user)
    try:
        with transaction.atomic():
            AccessNotice.objects.create(user=user, kind=kind, ends_at=ends_at, sent_at=now, routes="\n".join(routes))
    except IntegrityError:
        return 0  # told already
    subject, body = message(kind, ends_at, routes)
    send_mail(
        subject=subject,
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
        fail_silently=True,  # the page says the same; a mail outage must not stop the job for everyone else
    )
    logger.info("access notice %s for user %s (ends %s, %d live routes)", kind, user.pk, ends_at, len(routes))
    return 1


def message(kind: AccessNotice.Kind, ends_at: datetime, routes: list[str]) -> tuple[str, str]:
    when = f"{ends_at:%-d %B %Y, %H:%M} UTC"
    listed = "\n".join(f"  - {name}" for name in routes) or "  (none of your routes trades on a live account)"
    safe = (
        "Exits, reductions and every worst-case stop keep working with or without a subscription; OrderRail never "
        "leaves a position without its stop."
    )
    if kind == AccessNotice.Kind.ENDING:
        return (
            f"OrderRail: live access ends on {ends_at:%-d %B %Y}",
            f"Your OrderRail live access ends on {when}.\n\n"
            f"After that, these live routes stop opening or adding to positions:\n{listed}\n\n{safe}\n\n"
            "To keep trading live, renew or update your card on the billing page.",
        )
    return (
        "OrderRail: live access has ended",
        f"Your OrderRail live access ended on {when}.\n\n"
        f"These live routes no longer open or add to positions:\n{listed}\n\n{safe}\n\n"
        "Subscribe again on the billing page at any time; paper routes stay free.",
    )
