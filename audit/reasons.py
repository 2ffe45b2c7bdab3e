"""The one vocabulary of reasons an alert ends the way it does.

Values are stable snake_case: add new ones, never rename or reuse a value (stored decisions keep them forever).
Our own skips are kept distinct from the exchange's rejections (`exchange_rejected`, with the venue's status
verbatim on the decision). Each reason has a sentence template a trader understands; `explain` fills it from the
observed value and the limit of the check that produced it.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models


class Reason(models.TextChoices):
    # Intake: the request itself was refused.
    INVALID_JSON = "invalid_json", "Invalid JSON"
    INVALID_PAYLOAD = "invalid_payload", "Invalid payload"
    PAYLOAD_TOO_LARGE = "payload_too_large", "Payload too large"
    INVALID_SECRET = "invalid_secret", "Invalid secret"
    DUPLICATE_ALERT = "duplicate_alert", "Duplicate alert"
    RATE_LIMITED = "rate_limited", "Rate limited"
    # Structural checks.
    ROUTE_DISABLED = "route_disabled", "Route disabled"
    NO_EXCHANGE_ACCOUNT = "no_exchange_account", "No exchange account"
    CREDENTIALS_UNREADABLE = "credentials_unreadable", "Credentials unreadable"
    LIVE_ACCESS_REQUIRED = "live_access_required", "Live access required"
    SYMBOL_MISMATCH = "symbol_mismatch", "Symbol mismatch"
    STALE_ALERT = "stale_alert", "Stale alert"
    INSTRUMENT_NOT_TRADEABLE = "instrument_not_tradeable", "Instrument not tradeable"
    PRICE_DEVIATION = "price_deviation", "Price deviation"
    # Sizing.
    ALREADY_AT_TARGET = "already_at_target", "Already at target"
    SIZE_BELOW_MINIMUM = "size_below_minimum", "Size below minimum"
    # Exposure checks (only for the part of an order that increases exposure).
    SIDE_NOT_ALLOWED = "side_not_allowed", "Side not allowed"
    MAX_ORDER_SIZE = "max_order_size", "Max order size"
    MAX_POSITION_SIZE = "max_position_size", "Max position size"
    MAX_NOTIONAL = "max_notional", "Max notional"
    MAX_LEVERAGE = "max_leverage", "Max leverage"
    ORDER_RATE_LIMIT = "order_rate_limit", "Order rate limit"
    DAILY_LOSS_LIMIT = "daily_loss_limit", "Daily loss limit"
    ROUTE_FROZEN = "route_frozen", "Route frozen"
    # The route's own state.
    ORDER_IN_FLIGHT = "order_in_flight", "Order in flight"
    SUPERSEDED = "superseded", "Superseded by a newer alert"
    INSTRUMENT_UNSUPPORTED = "instrument_unsupported", "Instrument not supported"
    # The exchange.
    EXCHANGE_UNAVAILABLE = "exchange_unavailable", "Exchange unavailable"
    EXCHANGE_REJECTED = "exchange_rejected", "Exchange rejected"
    OUTCOME_UNKNOWN = "outcome_unknown", "Outcome unknown"
    ORDER_SENT = "order_sent", "Order sent"
    # Ours: processing the alert failed; nothing was sent.
    INTERNAL_ERROR = "internal_error", "Internal error"


# Sentences for traders. Placeholders: {observed}, {limit}, {unit}, {detail}; missing ones render as "?".
SENTENCES: dict[Reason, str] = {
    Reason.INVALID_JSON: "Rejected: the alert message is not valid JSON ({detail}).",
    Reason.INVALID_PAYLOAD: "Rejected: the alert message is not a valid OrderRail payload ({detail}).",
    Reason.PAYLOAD_TOO_LARGE: "Rejected: the alert message is larger than {limit} bytes.",
    Reason.INVALID_SECRET: "Rejected: the secret in the alert message does not match this route's secret.",
    Reason.DUPLICATE_ALERT: "Ignored: this is a copy of an alert already received.",
    Reason.RATE_LIMITED: "Rejected: too many invalid requests for this route; this one was not processed.",
    Reason.ROUTE_DISABLED: "Skipped: this route is disabled.",
    Reason.NO_EXCHANGE_ACCOUNT: "Skipped: this route has no connected exchange account.",
    Reason.CREDENTIALS_UNREADABLE: "Skipped: the exchange API key for this route could not be read; reconnect it.",
    Reason.LIVE_ACCESS_REQUIRED: "Skipped: live trading needs an active subscription.",
    Reason.SYMBOL_MISMATCH: "Skipped: the alert is for {observed}, this route trades {limit}.",
    Reason.STALE_ALERT: "Skipped: {detail}.",
    Reason.INSTRUMENT_NOT_TRADEABLE: "Skipped: {limit} is not tradeable on the exchange right now.",
    Reason.PRICE_DEVIATION: "Skipped: the alert price is {observed}% away from the mark price, your limit is {limit}%.",
    Reason.ALREADY_AT_TARGET: "Skipped: the position is already {observed} {unit}, as the alert asks.",
    Reason.SIZE_BELOW_MINIMUM: "Skipped: the order would be {observed} {unit}, below the minimum of {limit} {unit}.",
    Reason.SIDE_NOT_ALLOWED: "Skipped: this route does not allow {observed} positions.",
    Reason.MAX_ORDER_SIZE: "Skipped: the order would be {observed} {unit}, your limit is {limit} {unit}.",
    Reason.MAX_POSITION_SIZE: "Skipped: position would be {observed} {unit}, your limit is {limit} {unit}.",
    Reason.MAX_NOTIONAL: "Skipped: position would be worth {observed} USD, your limit is {limit} USD.",
    Reason.MAX_LEVERAGE: "Skipped: leverage would be {observed}x, your limit is {limit}x.",
    Reason.ORDER_RATE_LIMIT: "Skipped: {observed} orders in the last hour, your limit is {limit}.",
    Reason.DAILY_LOSS_LIMIT: "Skipped: today's realised loss is {observed} USD, your limit is {limit} USD.",
    Reason.ROUTE_FROZEN: "Skipped: the route is frozen for new exposure ({limit}); exits still go out.",
    Reason.ORDER_IN_FLIGHT: (
        "Skipped: an earlier order of this route ({detail}) is not confirmed by the exchange yet; sizing now could "
        "double the position."
    ),
    Reason.SUPERSEDED: (
        "Skipped: this alert fired at {observed}, before the newest alert already decided for this route "
        "({limit}); an older alert never overrides a newer one."
    ),
    Reason.INSTRUMENT_UNSUPPORTED: (
        "Skipped: {limit} is {observed}; OrderRail trades linear USD-margined contracts only."
    ),
    Reason.INTERNAL_ERROR: (
        "Not processed: OrderRail failed internally ({detail}); no order was sent and support has been alerted."
    ),
    Reason.EXCHANGE_UNAVAILABLE: "Skipped: the exchange could not be read ({detail}); no order was sent.",
    Reason.EXCHANGE_REJECTED: "The exchange rejected the order: {detail}.",
    Reason.OUTCOME_UNKNOWN: "The exchange did not answer clearly; the order is being looked up before anything else.",
    Reason.ORDER_SENT: "Order sent: {detail}.",
}


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def explain(reason: Reason | str, values: Mapping[str, object] | None = None) -> str:
    """The trader-facing sentence for a reason, filled from a check's observed value and limit."""
    template = SENTENCES[Reason(reason)]
    filled = _Blank({k: str(v) for k, v in (values or {}).items() if v is not None and v != ""})
    return template.format_map(filled)
