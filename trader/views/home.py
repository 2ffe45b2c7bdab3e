from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from trader import selectors


def home(request: HttpRequest) -> HttpResponse:
    """What OrderRail is; a signed-in trader goes straight to their dashboard."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "trader/home.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "trader/dashboard.html",
        {
            "nav": "dashboard",
            "rows": selectors.dashboard_rows(user),
            "attention": list(selectors.open_attention(user)[:20]),
            "accounts": list(selectors.accounts_of(user)),
            "totals": selectors.totals(user, timezone.now()),
        },
    )


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    from allauth.mfa.adapter import get_adapter

    return render(
        request,
        "trader/account_settings.html",
        {"nav": "account", "mfa_enabled": get_adapter().is_mfa_enabled(request.user)},
    )
