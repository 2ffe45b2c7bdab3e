"""The Stripe webhook endpoint, `stripe/webhook/<uuid>/` (endpoints kept in the database by dj-stripe).

dj-stripe's own view, with three differences:
- the endpoint's signing secret is opened from its sealed copy (billing.webhook_secrets) in memory, for this request;
- dj-stripe lets an `X-Djstripe-Webhook-Secret` header stand in for that secret when DEBUG is on (for the Stripe
  CLI): anyone who can reach a DEBUG server could then sign their own events. Refused here whatever DEBUG says, so
  the header (a secret) is never stored with the request either;
- a processing failure (Stripe unreachable while dj-stripe re-reads the object) is a 503 with no traceback: Stripe
  retries a non-2xx answer, which is what we want, and dj-stripe has recorded the failed trigger.
Billing off: there is no endpoint (404). `WebhookEventTrigger.from_request` verifies, stores the event once and runs
the receivers in one transaction.
"""

from __future__ import annotations

import logging
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from djstripe.models import WebhookEndpoint, WebhookEventTrigger

from billing.webhook_secrets import signing_secret

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 512 * 1024  # Stripe events are a few KiB; this is generous


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain")


@csrf_exempt
@login_not_required
@transaction.non_atomic_requests  # from_request keeps the failed trigger row while rolling the processing back
@require_POST
def stripe_webhook(request: HttpRequest, uuid: UUID) -> HttpResponse:
    if not settings.BILLING_ENABLED:
        raise Http404("billing is off")
    if "x-djstripe-webhook-secret" in request.headers:
        return _text("refused: a webhook secret header is not accepted", 400)
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return _text("refused: body too large", 413)
    if "stripe-signature" not in request.headers:
        return _text("refused: no Stripe-Signature", 400)  # nothing stored: an unsigned flood fills no table
    endpoint = get_object_or_404(WebhookEndpoint, djstripe_uuid=uuid)
    endpoint.secret = signing_secret(endpoint)  # in memory only; the row keeps no plaintext
    if not endpoint.secret:
        # Ours to fix (billing.W001 says so), not the sender's: nothing can be verified, so nothing is trusted, and
        # Stripe keeps retrying for three days.
        logger.error("stripe webhook endpoint %s has no usable signing secret", endpoint.id)
        return _text("this endpoint cannot verify signatures yet; retry", 503)
    try:
        trigger = WebhookEventTrigger.from_request(request, webhook_endpoint=endpoint)
    except Exception as exc:  # recorded on the WebhookEventTrigger by dj-stripe; Stripe will retry
        logger.error("stripe webhook processing failed: %s", type(exc).__name__)
        return _text("temporarily unable to process; retry", 503)
    if not trigger.valid:
        return _text("refused: the signature does not verify", 400)
    return _text(str(trigger.id), 200)
