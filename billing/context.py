"""A banner on every page while live access is about to end or has just ended, naming the live routes it affects
(the same rule as the e-mails: billing.access.lapse). One indexed query per page for a signed-in trader."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from billing.access import lapse
from billing.models import AccessNotice, LiveAccess
from billing.selectors import live_route_names


def access_banner(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if not settings.BILLING_ENABLED or user is None or not user.is_authenticated:
        return {}
    found = lapse(LiveAccess.objects.filter(user=user).first(), timezone.now())
    if found is None:
        return {}
    routes = live_route_names(user)
    if not routes:
        return {}
    return {
        "access_banner": {
            "ended": found.kind == AccessNotice.Kind.ENDED,
            "ends_at": found.ends_at,
            "routes": routes,
        }
    }
