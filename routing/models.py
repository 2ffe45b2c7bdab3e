from __future__ import annotations

import hashlib
import hmac
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.fields import UNREADABLE, SecretTextField
from routing.domain import RouteConfig, SidePolicy, SizingMode
from routing.symbols import normalise_symbol

MONEY = {"max_digits": 30, "decimal_places": 12}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hash_secret(secret: str, salt: str | None = None) -> str:
    """Salted SHA-256. The secret is ours (32 random bytes), so a slow KDF buys nothing and would cost the webhook."""
    salt = salt or secrets.token_hex(8)
    return f"sha256${salt}${hashlib.sha256((salt + secret).encode()).hexdigest()}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        algorithm, salt, expected = stored.split("$", 2)
    except ValueError:
        return False
    if algorithm != "sha256":
        return False
    actual = hashlib.sha256((salt + secret).encode()).hexdigest()
    return hmac.compare_digest(actual, expected)


def open_sealed(value: str | None) -> str | None:
    """A route secret's encrypted copy as read (decrypted by its field): None when there is no readable copy (a route
    saved before copies were kept, or FERNET_KEYS lost the key it was sealed under)."""
    return None if not value or value == UNREADABLE else value


class RouteManager(models.Manager["Route"]):
    def get_queryset(self) -> models.QuerySet[Route]:
        # The sealed secret is decrypted only when a rejection needs it (routing.intake), not on every route load.
        return super().get_queryset().defer("secret_sealed")


class Route(models.Model):
    """One TradingView alert → one exchange account and instrument, with sizing and risk limits."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routes")
    name = models.CharField(max_length=80)
    exchange_account = models.ForeignKey(
        "accounts.ExchangeAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="routes"
    )
    symbol = models.CharField(max_length=40, help_text="Exchange instrument, e.g. PF_XBTUSD.")
    tv_alias = models.CharField(
        max_length=40, blank=True, help_text="What TradingView's {{ticker}} says, e.g. XBTUSD.P"
    )
    sizing_mode = models.CharField(max_length=12, choices=[(m.value, m.name.title()) for m in SizingMode])
    multiplier = models.DecimalField(default=Decimal(1), **MONEY)
    fixed_size = models.DecimalField(null=True, blank=True, **MONEY)
    side_policy = models.CharField(
        max_length=12, choices=[(p.value, p.name.replace("_", " ").title()) for p in SidePolicy], default="both"
    )
    max_order_size = models.DecimalField(null=True, blank=True, **MONEY)
    max_position = models.DecimalField(null=True, blank=True, **MONEY)
    max_notional = models.DecimalField(null=True, blank=True, **MONEY)
    max_leverage = models.DecimalField(null=True, blank=True, **MONEY)
    orders_per_hour = models.PositiveIntegerField(null=True, blank=True)
    daily_loss_limit = models.DecimalField(null=True, blank=True, **MONEY)
    max_alert_age_seconds = models.PositiveIntegerField(default=60)
    future_skew_seconds = models.PositiveIntegerField(default=5)
    price_deviation_pct = models.DecimalField(null=True, blank=True, **MONEY)
    worst_case_stop_pct = models.DecimalField(
        null=True, blank=True, help_text="Distance of the last-resort stop from the entry, in percent.", **MONEY
    )
    enabled = models.BooleanField(default=True)
    email_alerts = models.BooleanField(
        default=True,
        help_text="E-mail the owner when an order is rejected, a position drifts, the worst-case stop fails or the "
        "exchange key stops working (one e-mail per incident).",
    )
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    secret_hash = models.CharField(max_length=128, editable=False)
    # The secret itself, encrypted under FERNET_KEYS like exchange keys. Only for routing.redaction: finding near
    # copies of the secret (fragments, case and escape variants) in what a rejected request leaves behind needs the
    # plaintext. Authentication uses the hash, never this.
    secret_sealed = SecretTextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RouteManager()

    class Meta:
        base_manager_name = "objects"
        constraints = [
            # Kraken Futures keeps one net position per instrument per account: two routes trading it would fight.
            models.UniqueConstraint(
                fields=["exchange_account", "symbol"],
                condition=Q(enabled=True),
                name="one_enabled_route_per_account_instrument",
                violation_error_message=(
                    "Another enabled route already trades this instrument on this exchange account. "
                    "Use a sub-account to run two strategies on one instrument."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.symbol}"

    def save(self, *args: object, **kwargs: object) -> None:
        # One symbol identity everywhere: the route's instrument is stored in its normal form once, so positions,
        # stops, drift and alerts all compare the same text.
        self.symbol = normalise_symbol(self.symbol) or self.symbol
        if self.tv_alias:
            self.tv_alias = normalise_symbol(self.tv_alias) or self.tv_alias
        adding = self._state.adding
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        if adding:
            RouteState.objects.get_or_create(route=self)

    @property
    def frozen_reason(self) -> str:
        """Why reconciliation froze the route for new exposure ("" when it is not frozen); read fresh each time."""
        return RouteState.objects.filter(route_id=self.pk).values_list("frozen_reason", flat=True).first() or ""

    def set_secret(self, secret: str) -> None:
        self.secret_hash = hash_secret(secret)
        self.secret_sealed = secret

    def sealed_secret(self) -> str | None:
        """The plaintext secret from its encrypted copy, in a query of its own; None when there is no readable copy
        (a route saved before copies were kept, or FERNET_KEYS lost the key it was sealed under)."""
        return open_sealed(type(self).objects.filter(pk=self.pk).values_list("secret_sealed", flat=True).first())

    def check_secret(self, secret: str) -> bool:
        return secret_matches(secret, self.secret_hash)

    @property
    def webhook_path(self) -> str:
        return f"/hooks/{self.token}"

    def config(self, state: RouteState | None = None) -> RouteConfig:
        """`state`: the route's engine state as the caller just read it under the route's lease (a freeze is made
        under the same lease, so it cannot have changed since); None reads the freeze here."""
        return RouteConfig(
            route_id=self.pk,
            symbol=self.symbol,
            tv_alias=self.tv_alias,
            enabled=self.enabled,
            sizing_mode=SizingMode(self.sizing_mode),
            multiplier=plain(self.multiplier) or Decimal(1),
            fixed_size=plain(self.fixed_size),
            side_policy=SidePolicy(self.side_policy),
            max_order_size=plain(self.max_order_size),
            max_position=plain(self.max_position),
            max_notional=plain(self.max_notional),
            max_leverage=plain(self.max_leverage),
            orders_per_hour=self.orders_per_hour,
            daily_loss_limit=plain(self.daily_loss_limit),
            max_alert_age_seconds=self.max_alert_age_seconds,
            future_skew_seconds=self.future_skew_seconds,
            price_deviation_pct=plain(self.price_deviation_pct),
            worst_case_stop_pct=plain(self.worst_case_stop_pct),
            frozen=bool(state.frozen_reason if state is not None else self.frozen_reason),
        )


class RouteState(models.Model):
    """What the engine knows about a route besides its configuration: the processing lease, the drift freeze and
    its baseline, the newest decided alert. Written only by the engine, never by a form - so a trader or support
    person saving the route's settings can never write a stale copy of any of it back (they used to be columns of
    Route, and an admin save restored an expired lease and cleared a fresh freeze)."""

    route = models.OneToOneField(Route, on_delete=models.CASCADE, primary_key=True, related_name="engine")
    # The lease (routing/lease.py): who holds the route, until when, and a fencing token that grows with every
    # acquisition, so a holder that lost the lease can tell and stops.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_fence = models.PositiveBigIntegerField(default=0)
    # Drift: set by reconciliation when the exchange position differs from what our fills imply; new exposure is
    # refused until a person re-bases the route (exits still go out).
    frozen_reason = models.CharField(max_length=300, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    # A person acknowledged drift by re-basing on the exchange's position at `baseline_at`: from then on the
    # implied position is the baseline plus our later fills.
    baseline_position = models.DecimalField(null=True, blank=True, **MONEY)
    baseline_at = models.DateTimeField(null=True, blank=True)
    # TradingView's `time` of the newest alert decided for this route: an older one is `superseded`.
    last_fired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"engine state of route {self.route_id}"


def engine_state(route: Route) -> RouteState:
    """The route's engine state (created on first use for routes made without `save()`, e.g. bulk_create)."""
    try:
        return route.engine
    except RouteState.DoesNotExist:
        state, _ = RouteState.objects.get_or_create(route_id=route.pk)
        route.engine = state
        return state


def plain(value: Decimal | None) -> Decimal | None:
    """Drop the column's trailing zeros (2.000000000000 → 2) without ever switching to exponent notation."""
    if value is None:
        return None
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
