"""The permanent record: every alert, the one decision it ended in, the orders sent, their history and fills."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from audit.display import number
from audit.order_states import OrderState
from audit.reasons import Reason

MONEY = {"max_digits": 30, "decimal_places": 12}


class Alert(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DECIDED = "decided", "Decided"
        REJECTED = "rejected", "Rejected at intake"

    route = models.ForeignKey("routing.Route", on_delete=models.PROTECT, related_name="alerts")
    received_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    # The payload as received, minus the secret. Null when it could not be parsed (raw text is kept, truncated).
    body = models.JSONField(null=True, blank=True)
    raw_excerpt = models.TextField(blank=True, help_text="Start of an unparsable body, secret-scrubbed.")
    content_type = models.CharField(max_length=100, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=64, null=True, blank=True)
    # The validated payload as the pipeline reads it (routing.domain.AlertIntent as JSON).
    intent = models.JSONField(null=True, blank=True)
    reject_reason = models.CharField(max_length=40, choices=Reason.choices, blank=True)
    reject_detail = models.CharField(max_length=300, blank=True)
    duplicates = models.PositiveIntegerField(default=0, help_text="Identical copies received after this one.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["route", "dedupe_key"], condition=Q(dedupe_key__isnull=False), name="one_alert_per_dedupe_key"
            )
        ]
        indexes = [
            models.Index(fields=["route", "status", "fired_at", "id"], name="alert_route_queue"),
            models.Index(fields=["route", "received_at"], name="alert_route_received"),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} ({self.status})"


class Decision(models.Model):
    class Action(models.TextChoices):
        SEND = "send", "Sent"
        SKIP = "skip", "Skipped"
        REJECT = "reject", "Rejected"  # at intake, or by the exchange

    # One alert, one decision - enforced by the database, not by hope.
    alert = models.OneToOneField(Alert, on_delete=models.PROTECT, related_name="decision")
    route = models.ForeignKey("routing.Route", on_delete=models.PROTECT, related_name="decisions")
    created_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    reason = models.CharField(max_length=40, choices=Reason.choices, db_index=True)
    message = models.CharField(max_length=400)
    venue_status = models.CharField(max_length=80, blank=True, help_text="The exchange's own status, verbatim.")
    checks = models.JSONField(default=list)
    snapshot = models.JSONField(null=True, blank=True)
    route_config = models.JSONField(null=True, blank=True)
    intent = models.JSONField(null=True, blank=True)
    verdict = models.JSONField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True, help_text="The 'now' the risk evaluation used.")

    class Meta:
        indexes = [models.Index(fields=["route", "created_at"])]

    def __str__(self) -> str:
        return f"decision {self.pk}: {self.action} ({self.reason})"


class Order(models.Model):
    class Purpose(models.TextChoices):
        STRATEGY = "strategy", "Strategy order"
        WORST_CASE_STOP = "worst_case_stop", "Worst-case stop (safety net)"
        FLATTEN = "flatten", "Flatten and pause (closing the position)"

    route = models.ForeignKey("routing.Route", on_delete=models.PROTECT, related_name="orders")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.STRATEGY)
    leg = models.PositiveSmallIntegerField(default=0)
    client_order_id = models.CharField(max_length=100, unique=True, null=True)
    exchange_order_id = models.CharField(max_length=100, blank=True, db_index=True)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=10)
    size = models.DecimalField(**MONEY)
    stop_price = models.DecimalField(null=True, blank=True, **MONEY)
    limit_price = models.DecimalField(null=True, blank=True, **MONEY)
    trigger_signal = models.CharField(max_length=8, blank=True)
    reduce_only = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=OrderState.choices, default=OrderState.PENDING_SUBMIT)
    venue_status = models.CharField(max_length=80, blank=True)
    filled_size = models.DecimalField(default=0, **MONEY)
    average_fill_price = models.DecimalField(null=True, blank=True, **MONEY)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # At most one order per decision leg: a re-driven pipeline can never mint a second one.
            models.UniqueConstraint(fields=["decision", "leg"], name="one_order_per_decision_leg"),
        ]
        indexes = [models.Index(fields=["route", "state"]), models.Index(fields=["state", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.client_order_id or 'order'} {self.side} {number(self.size)} {self.symbol} ({self.state})"


class OrderEvent(models.Model):
    """Each state change of an order, with its time and cause: the order's full history."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=20, choices=OrderState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=OrderState.choices)
    cause = models.CharField(max_length=300)

    class Meta:
        ordering = ["at", "id"]


class Fill(models.Model):
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="fills")
    route = models.ForeignKey("routing.Route", null=True, blank=True, on_delete=models.PROTECT, related_name="fills")
    exchange_account = models.ForeignKey("accounts.ExchangeAccount", on_delete=models.PROTECT, related_name="fills")
    fill_id = models.CharField(max_length=100)
    exchange_order_id = models.CharField(max_length=100, blank=True)
    client_order_id = models.CharField(max_length=100, blank=True)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    size = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY)
    liquidity = models.CharField(max_length=10, blank=True)
    fee = models.DecimalField(null=True, blank=True, **MONEY)
    realized_pnl = models.DecimalField(null=True, blank=True, **MONEY)
    filled_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Fills are recorded idempotently: the same execution seen twice is one row.
            models.UniqueConstraint(fields=["exchange_account", "fill_id"], name="one_row_per_fill"),
        ]


class LedgerEntry(models.Model):
    """One account-log row from the exchange: a trade's fee and realised P&L, a funding payment, a transfer."""

    exchange_account = models.ForeignKey(
        "accounts.ExchangeAccount", on_delete=models.PROTECT, related_name="ledger_entries"
    )
    route = models.ForeignKey("routing.Route", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    entry_id = models.CharField(max_length=100)
    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=60)
    symbol = models.CharField(max_length=40, blank=True)
    asset = models.CharField(max_length=20, blank=True)
    fee = models.DecimalField(default=0, **MONEY)
    realized_pnl = models.DecimalField(default=0, **MONEY)
    realized_funding = models.DecimalField(default=0, **MONEY)
    execution_id = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(fields=["exchange_account", "entry_id"], name="one_row_per_ledger_entry")
        ]


class Attention(models.Model):
    """Something a person must look at: drift between our books and the exchange, a stop that could not be
    placed, an order whose fate stays unknown, a key that stopped working, an alert that failed internally.
    One open item per incident: a condition that persists bumps `occurrences`, it does not raise a new item (or a
    new e-mail)."""

    class Kind(models.TextChoices):
        POSITION_DRIFT = "position_drift", "Position drift"
        STOP_FAILED = "stop_failed", "Worst-case stop could not be placed"
        STOP_TRIGGERED = "stop_triggered", "Worst-case stop triggered"
        STOP_UNVERIFIED = "stop_unverified", "Worst-case stop could not be checked"
        ORDER_UNRESOLVED = "order_unresolved", "Order outcome unresolved"
        ORDER_REJECTED = "order_rejected", "Order rejected by the exchange"
        CREDENTIALS_BROKEN = "credentials_broken", "Exchange key not working"
        INTERNAL_ERROR = "internal_error", "Internal error"

    route = models.ForeignKey(
        "routing.Route", null=True, blank=True, on_delete=models.PROTECT, related_name="attention"
    )
    exchange_account = models.ForeignKey(
        "accounts.ExchangeAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="attention"
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="attention")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="attention")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.CharField(max_length=500)
    created_at = models.DateTimeField(db_index=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "attention item"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail}"


class RouteEvent(models.Model):
    """The route's own history: what a person (trader or support) or the engine did to it, who, when and why -
    enabled, disabled, secret rotated, drift acknowledged, flatten and pause with each of its steps."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Settings changed"
        ENABLED = "enabled", "Enabled"
        DISABLED = "disabled", "Disabled"
        SECRET_ROTATED = "secret_rotated", "Secret rotated"
        FROZEN = "frozen", "Frozen for position drift"
        DRIFT_ACKNOWLEDGED = "drift_acknowledged", "Drift acknowledged (re-based)"
        FLATTEN_REQUESTED = "flatten_requested", "Flatten and pause requested"
        ORDERS_CANCELLED = "orders_cancelled", "Orders cancelled"
        POSITION_CLOSED = "position_closed", "Position closed"
        NOTE = "note", "Note"

    route = models.ForeignKey("routing.Route", on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "route history entry"
        verbose_name_plural = "route history"

    def __str__(self) -> str:
        who = self.actor or "OrderRail"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.get_kind_display()} by {who}"
