from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models

from accounts.fields import SecretTextField
from audit.display import when


class LiveAccess(models.Model):
    """Whether a user may trade live, and until when: the projection of the user's Stripe subscription.

    Written only by `billing.sync` inside the transaction of the signed Stripe webhook event that changed the
    subscription (dj-stripe re-reads the subscription from Stripe before we project it, so a replayed or late event
    can only ever write Stripe's current state). Read at send time by the pipeline (`billing.access`). Paper trading
    never needs it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_access")
    # Paid through: live access ends here - unless `renews`, when it lasts the grace period longer.
    active_until = models.DateTimeField(null=True, blank=True)
    # Stripe is renewing the subscription (or retrying a failed renewal): access lasts BILLING_GRACE_DAYS past
    # `active_until`, so a declined card or a late webhook does not cut a trader off at the stroke of the period end.
    renews = models.BooleanField(default=False)
    # The subscription's status in Stripe (active, past_due, canceled, ...); "" when there is none.
    status = models.CharField(max_length=24, blank=True)
    subscription_id = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=40, default="stripe")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "live access"
        verbose_name_plural = "live access"

    def __str__(self) -> str:
        return f"live access for user {self.user_id} until {when(self.active_until)}"

    def ends_at(self, grace: timedelta) -> datetime | None:
        """The moment live access ends if nothing changes (None: it never began)."""
        if self.active_until is None:
            return None
        return self.active_until + grace if self.renews else self.active_until


class AccessNotice(models.Model):
    """One e-mail to the trader about live access ending: before it ends, and when it has. The unique constraint is
    the dedupe - a job that runs every few minutes sends each notice once."""

    class Kind(models.TextChoices):
        ENDING = "ending", "Live access ending soon"
        ENDED = "ended", "Live access ended"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_notices")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    ends_at = models.DateTimeField()
    sent_at = models.DateTimeField()
    routes = models.TextField(blank=True, help_text="The live routes the notice named.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind", "ends_at"], name="one_notice_per_end")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.ends_at:%Y-%m-%d %H:%M} UTC) for user {self.user_id}"


class WebhookSecret(models.Model):
    """The signing secret of a Stripe webhook endpoint, sealed under FERNET_KEYS like exchange keys (and re-encrypted
    with them by `manage.py reencrypt_secrets`). dj-stripe would keep it in plaintext on its WebhookEndpoint row;
    `billing.webhook_secrets` moves it here whichever way the endpoint was saved, and the webhook view opens it in
    memory only to verify a delivery."""

    endpoint = models.OneToOneField("djstripe.WebhookEndpoint", on_delete=models.CASCADE)
    secret = SecretTextField()

    def __str__(self) -> str:
        return f"signing secret of webhook endpoint {self.endpoint_id}"
