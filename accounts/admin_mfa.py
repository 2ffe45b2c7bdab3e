"""Staff use the Django admin only with two-factor authentication on.

The admin signs in through allauth (`orderrail/urls.py`: `secure_admin_login`), so a staff member with an
authenticator gets the same second step as any trader. This makes it a requirement: a staff account without one is
sent to set it up before any admin page opens (support sees every trader's alerts and can pause routes)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


class AdminRequiresMFA:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.ADMIN_REQUIRE_MFA and request.path.startswith("/admin/") and _staff_without_mfa(request):
            messages.warning(request, "Staff need two-factor authentication to use the admin: set it up first.")
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def _staff_without_mfa(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return False
    from allauth.mfa.adapter import get_adapter

    return not get_adapter().is_mfa_enabled(user)
