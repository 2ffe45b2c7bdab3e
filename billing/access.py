from __future__ import annotations

from datetime import datetime

from django.conf import settings

from billing.models import LiveAccess


def has_live_access(user_id: int, now: datetime) -> bool:
    """Live trading needs an active subscription - unless a self-hoster turned billing off."""
    if not settings.BILLING_ENABLED:
        return True
    until = LiveAccess.objects.filter(user_id=user_id).values_list("active_until", flat=True).first()
    return until is not None and until > now
