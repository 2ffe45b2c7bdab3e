"""The two Stripe-hosted pages a trader is sent to: Checkout (subscribe) and the customer portal (cancel, change the
card, past invoices). Both are one API call that returns a URL; nothing here decides access - only the signed
webhook events that follow do (billing.receivers)."""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from djstripe.models import Customer
from djstripe.settings import djstripe_settings

from accounts.models import User

logger = logging.getLogger(__name__)


class BillingUnavailable(Exception):
    """Stripe could not be asked (not configured, unreachable, or it refused); nothing was charged."""


def _api_key() -> str:
    return djstripe_settings.get_default_api_key(livemode=settings.STRIPE_LIVE_MODE)


def _call(what: str, func: object, **params: object) -> stripe.StripeObject:
    if not _api_key() or not settings.STRIPE_PRICE_ID:
        raise BillingUnavailable("billing is not configured on this server")
    try:
        return func(api_key=_api_key(), stripe_version=djstripe_settings.STRIPE_API_VERSION, **params)  # type: ignore[operator]
    except stripe.StripeError as exc:
        # The class and Stripe's request id only: an error's text is Stripe's to phrase and could echo what we sent.
        logger.error("stripe %s failed: %s (request %s)", what, type(exc).__name__, getattr(exc, "request_id", None))
        raise BillingUnavailable(what) from None


def customer_for(user: User) -> Customer:
    """The user's Stripe customer, created on first use (dj-stripe keeps the link: Customer.subscriber)."""
    existing = Customer.objects.filter(subscriber=user, livemode=settings.STRIPE_LIVE_MODE).first()
    if existing is not None:
        return existing
    if not _api_key():
        raise BillingUnavailable("billing is not configured on this server")
    try:
        customer, _ = Customer.get_or_create(subscriber=user, livemode=settings.STRIPE_LIVE_MODE, api_key=_api_key())
    except stripe.StripeError as exc:
        logger.error("stripe customer create failed: %s", type(exc).__name__)
        raise BillingUnavailable("customer") from None
    return customer


def checkout_url(user: User, *, success_url: str, cancel_url: str) -> str:
    customer = customer_for(user)
    session = _call(
        "checkout",
        stripe.checkout.Session.create,
        mode="subscription",
        customer=customer.id,
        client_reference_id=str(user.pk),
        line_items=[{"price": settings.STRIPE_PRICE_ID, "quantity": 1}],
        success_url=success_url + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=cancel_url,
        subscription_data={"metadata": {"orderrail_user": str(user.pk)}},
    )
    return str(session["url"])


def portal_url(user: User, *, return_url: str) -> str:
    customer = Customer.objects.filter(subscriber=user, livemode=settings.STRIPE_LIVE_MODE).first()
    if customer is None:
        raise BillingUnavailable("no Stripe customer yet")
    params: dict[str, object] = {"customer": customer.id, "return_url": return_url}
    if settings.STRIPE_PORTAL_CONFIGURATION:
        params["configuration"] = settings.STRIPE_PORTAL_CONFIGURATION
    session = _call("portal", stripe.billing_portal.Session.create, **params)
    return str(session["url"])
