"""dj-stripe webhook receivers: a signed subscription event moves live access, nothing else does.

dj-stripe verifies the signature, stores the event once (a replayed event id is not processed again), re-reads the
subscription from Stripe and syncs it - all in one transaction that these receivers join. Its own handlers are
connected first (djstripe comes before billing in INSTALLED_APPS), so the subscription row is fresh here.
"""

from __future__ import annotations

import logging
from typing import Any

from djstripe.event_handlers import djstripe_receiver
from djstripe.models import Event, Subscription, WebhookEventTrigger
from djstripe.signals import webhook_pre_process

from billing import sync

logger = logging.getLogger(__name__)

SUBSCRIPTION_EVENTS = [
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
]


@djstripe_receiver(SUBSCRIPTION_EVENTS)
def on_subscription_event(sender: Any, event: Event, **kwargs: Any) -> None:
    subscription_id = (event.data.get("object") or {}).get("id")
    subscription = Subscription.objects.filter(id=subscription_id).select_related("customer").first()
    if subscription is None:
        logger.warning("stripe event %s: subscription %s not stored; live access unchanged", event.id, subscription_id)
        return
    user_id = subscription.customer.subscriber_id
    if user_id is None:
        logger.warning("stripe event %s: customer %s belongs to no user", event.id, subscription.customer.id)
        return
    sync.refresh_live_access(user_id)


def lock_user_before_processing(sender: Any, instance: WebhookEventTrigger, **kwargs: Any) -> None:
    data = (instance.json_body.get("data") or {}).get("object") or {}
    customer = data.get("customer") if data.get("object") == "subscription" else None
    if isinstance(customer, str) and customer:
        sync.lock_user_of_customer(customer)


webhook_pre_process.connect(lock_user_before_processing, dispatch_uid="billing-lock-user-before-processing")
