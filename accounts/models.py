from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models

from accounts.fields import UNREADABLE, SecretTextField


class User(AbstractUser):
    """The project's own user model from the first migration, so it can grow without a painful swap later."""

    email = models.EmailField("email address", unique=True)


SECRET_FIELDS = ("api_key", "api_secret", "ws_api_key", "ws_api_secret")


class CredentialsUnreadable(Exception):
    """The stored API key could not be decrypted (FERNET_KEYS changed without a re-encryption)."""


class ExchangeAccountManager(models.Manager["ExchangeAccount"]):
    def get_queryset(self) -> models.QuerySet[ExchangeAccount]:
        # Keys are decrypted only when `credentials()` asks for them, not whenever an account is listed.
        return super().get_queryset().defer(*SECRET_FIELDS)


class ExchangeAccount(models.Model):
    class Venue(models.TextChoices):
        KRAKEN_FUTURES = "kraken_futures", "Kraken Futures"

    class Mode(models.TextChoices):
        LIVE = "live", "Live"
        PAPER = "paper", "Paper"

    class Transport(models.TextChoices):
        # Kraken decommissions Derivatives REST v3 on 1 March 2027; the Unified WebSocket replaces it.
        REST = "rest", "Kraken Futures REST v3"
        UWS = "uws", "Kraken Unified WebSocket"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_accounts")
    label = models.CharField(max_length=80, default="Kraken Futures")
    venue = models.CharField(max_length=32, choices=Venue.choices, default=Venue.KRAKEN_FUTURES)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.LIVE)
    # Encrypted under FERNET_KEYS. Never rendered anywhere: the fingerprint is what people see.
    api_key = SecretTextField(blank=True)
    api_secret = SecretTextField(blank=True)
    key_fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    # Bumped whenever a key or secret is replaced: cached adapters are keyed by it, so a changed key takes effect in
    # running workers at once (a fingerprint alone misses a changed secret).
    credentials_version = models.PositiveIntegerField(default=0, editable=False)
    transport = models.CharField(max_length=8, choices=Transport.choices, default=Transport.REST)
    # The second credential kind: a Kraken (Spot-style) API key with WebSocket, query and order permissions, which
    # the Unified WebSocket transport needs for its token. Encrypted like the first; fingerprint only on display.
    ws_api_key = SecretTextField(blank=True)
    ws_api_secret = SecretTextField(blank=True)
    ws_key_fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    ws_verified_at = models.DateTimeField(null=True, blank=True)
    # Set by the engine when the exchange refuses the key (revoked, wrong) or no FERNET_KEYS opens it; cleared when
    # the key is replaced. Shown to the trader and support; one attention item and one e-mail per incident.
    credentials_problem = models.CharField(max_length=300, blank=True, editable=False)
    connected = models.BooleanField(default=True, help_text="Off when the key was revoked or refused by the exchange.")
    verified_at = models.DateTimeField(null=True, blank=True)
    # Circuit breaker: exchange failures counted since `failures_since` (a rolling window), and the time until
    # which the account is paused.
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    failures_since = models.DateTimeField(null=True, blank=True, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Reconciliation cursors (Kraken keeps 22 days of fills and account log; we keep everything we saw).
    fills_synced_until = models.DateTimeField(null=True, blank=True, editable=False)
    ledger_synced_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The reconciliation tick: when this account's task was queued, and when it last finished.
    reconcile_queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    reconciled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ExchangeAccountManager()

    class Meta:
        indexes = [models.Index(fields=["owner", "venue"])]
        base_manager_name = "objects"

    def __str__(self) -> str:
        return f"{self.label} ({self.get_mode_display()}, key …{self.key_fingerprint})"

    def set_credentials(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.key_fingerprint = fingerprint(api_key)
        self.credentials_version += 1
        self.credentials_problem = ""

    def set_ws_credentials(self, api_key: str, api_secret: str) -> None:
        self.ws_api_key = api_key
        self.ws_api_secret = api_secret
        self.ws_key_fingerprint = fingerprint(api_key)
        self.credentials_version += 1
        self.credentials_problem = ""

    def credentials(self) -> tuple[str, str]:
        """Decrypt the key pair in a query of its own, so an unreadable key fails here and nowhere else."""
        return self._decrypt("api_key", "api_secret")

    def ws_credentials(self) -> tuple[str, str]:
        """The Kraken API key pair the Unified WebSocket transport signs its token request with."""
        return self._decrypt("ws_api_key", "ws_api_secret")

    def _decrypt(self, key_field: str, secret_field: str) -> tuple[str, str]:
        row = type(self).objects.filter(pk=self.pk).values_list(key_field, secret_field).get()
        if UNREADABLE in row:
            raise CredentialsUnreadable("stored API key cannot be decrypted with FERNET_KEYS")
        if not row[0] or not row[1]:
            raise CredentialsUnreadable("no API key stored")
        return row[0], row[1]


def fingerprint(api_key: str) -> str:
    """What people see of a key: its last four characters and a short hash, never enough to use it."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:8]
    return f"{api_key[-4:]}·{digest}"
