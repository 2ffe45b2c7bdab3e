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


# Checks whose values are seconds, and how the observed value must stand against the limit. The decision stores the
# exact figures (replay compares them); the page rounds them and says the unit, so "0.483659 / -5" reads as
# "0.48 s / at least -5 s".
_SECONDS_CHECKS = {"alert_age": "at most", "alert_not_from_future": "at least"}


def _field(check: object, name: str) -> object:
    """A stored decision's check is a dict; a preview's is routing.domain.Check."""
    return check.get(name) if isinstance(check, dict) else getattr(check, name, None)


@register.filter
def check_observed(check: object) -> str:
    value = _field(check, "observed")
    if value in (None, ""):
        return "–"
    return _seconds(value) if _field(check, "name") in _SECONDS_CHECKS else str(value)


@register.filter
def check_limit(check: object) -> str:
    value = _field(check, "limit")
    if value in (None, ""):
        return "–"
    word = _SECONDS_CHECKS.get(str(_field(check, "name")))
    return f"{word} {_seconds(value)}" if word else str(value)


def _seconds(value: object) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    rounded = number.quantize(Decimal("0.01")) if abs(number) < 10 else number.quantize(Decimal("0.1"))
    return f"{plain(rounded)} s"


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
