from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """What every page's layout needs: whether billing is on and which "continue with" providers exist."""
    return {
        "BILLING_ENABLED": settings.BILLING_ENABLED,
        "SOCIAL_LOGIN_ENABLED": bool(settings.SOCIAL_PROVIDERS),
    }
