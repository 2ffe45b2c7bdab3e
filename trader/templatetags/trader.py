from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django import template

from audit.reasons import Reason

register = template.Library()


@register.filter
def plain(value: object) -> str:
    """0.100000000000 → 0.1, 1E+3 → 1000; anything else as it is. Sizes and prices are read, not decoded."""
    if value is None or value == "":
        return "–"
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(number)
    if not number:
        return "0"
    return format(number.normalize(), "f")


@register.filter
def money(value: object) -> str:
    """Two decimals with a thousands separator, for USD amounts (fees, P&L, notional)."""
    if value is None or value == "":
        return "–"
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{number:,.2f}"


@register.filter
def signed(value: object) -> str:
    text = plain(value)
    try:
        return f"+{text}" if Decimal(str(value)) > 0 else text
    except (InvalidOperation, ValueError):
        return text


@register.filter
def second(value: datetime | None) -> str:
    """Time to the second, in UTC, as support and the exchange show it."""
    if value is None:
        return "–"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def clock(value: datetime | None) -> str:
    if value is None:
        return "–"
    return value.astimezone(UTC).strftime("%H:%M:%S")


@register.filter
def reason_label(value: str) -> str:
    try:
        return Reason(value).label
    except ValueError:
        return value


@register.filter
def check_name(value: str) -> str:
    """route_enabled → Route enabled."""
    return value.replace("_", " ").capitalize()


@register.filter
def outcome(alert: object) -> str:
    from trader.selectors import outcome_of

    return outcome_of(alert)  # type: ignore[arg-type]


@register.filter
def outcome_label(value: str) -> str:
    from trader.selectors import OUTCOMES

    return OUTCOMES.get(value, value)


@register.filter
def pretty_json(value: object) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)


@register.filter
def iso_second(value: str | None) -> str:
    """A stored ISO-8601 timestamp (a snapshot's taken_at) shown like every other time: to the second, UTC."""
    if not value:
        return "–"
    try:
        return second(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)
