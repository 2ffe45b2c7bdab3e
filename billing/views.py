"""The trader's billing page and the two buttons on it. Thin: reading is billing.selectors, Stripe is
billing.sessions, and access itself only ever moves on Stripe's signed webhook events."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing import selectors, sessions


def _billing_on() -> None:
    if not settings.BILLING_ENABLED:
        raise Http404("billing is off on this server: every account has live access")


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # after a POST, the browser GETs the next page
    return response


@require_GET
@login_required
def billing_page(request: HttpRequest) -> HttpResponse:
    _billing_on()
    summary = selectors.billing_summary(request.user, timezone.now())  # type: ignore[arg-type]
    return render(
        request,
        "billing/billing.html",
        {"summary": summary, "nav": "billing", "waiting": False, "grace_days": settings.BILLING_GRACE_DAYS},
    )


@require_GET
@login_required
def checkout_return(request: HttpRequest) -> HttpResponse:
    """Where Stripe Checkout sends the trader back. The query string proves nothing: access turns on when Stripe's
    signed event arrives, usually within seconds, so the page refreshes itself until then."""
    _billing_on()
    summary = selectors.billing_summary(request.user, timezone.now())  # type: ignore[arg-type]
    response = render(
        request,
        "billing/billing.html",
        {"summary": summary, "nav": "billing", "waiting": not summary.live, "grace_days": settings.BILLING_GRACE_DAYS},
    )
    if not summary.live:
        response["Refresh"] = "3"  # a header, not a script: the page allows no inline code
    return response


@require_POST
@login_required
def start_checkout(request: HttpRequest) -> HttpResponse:
    _billing_on()
    summary = selectors.billing_summary(request.user, timezone.now())  # type: ignore[arg-type]
    if not summary.can_subscribe:
        messages.info(request, "You already have a subscription; manage it with “Manage billing”.")
        return _see_other(reverse("billing"))
    try:
        url = sessions.checkout_url(
            request.user,  # type: ignore[arg-type]
            success_url=request.build_absolute_uri(reverse("billing_return")),
            cancel_url=request.build_absolute_uri(reverse("billing")),
        )
    except sessions.BillingUnavailable:
        messages.error(request, "Stripe could not be reached, so nothing was charged. Please try again in a minute.")
        return _see_other(reverse("billing"))
    return _see_other(url)


@require_POST
@login_required
def open_portal(request: HttpRequest) -> HttpResponse:
    _billing_on()
    try:
        url = sessions.portal_url(request.user, return_url=request.build_absolute_uri(reverse("billing")))  # type: ignore[arg-type]
    except sessions.BillingUnavailable:
        messages.error(request, "Stripe's billing portal could not be opened. Please try again in a minute.")
        return _see_other(reverse("billing"))
    return _see_other(url)
