"""Reading Kraken JSON safely: Decimals from numbers or strings, timestamps, required keys.

Anything missing or unreadable raises ``MalformedResponse``; the adapter turns that into ``Unavailable`` (reads)
or ``AmbiguousOutcome`` (order calls). Nothing here ever substitutes a default for a value we were promised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from exchanges.base import Side, TriggerSignal
from exchanges.kraken.errors import MalformedResponse


def require(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise MalformedResponse(f"{where}: expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise MalformedResponse(f"{where}: missing {key!r}")
    return obj[key]


def require_obj(obj: Any, key: str, where: str) -> Mapping[str, Any]:
    value = require(obj, key, where)
    if not isinstance(value, Mapping):
        raise MalformedResponse(f"{where}: {key!r} is not an object")
    return value


def require_list(obj: Any, key: str, where: str) -> list[Any]:
    value = require(obj, key, where)
    if not isinstance(value, list):
        raise MalformedResponse(f"{where}: {key!r} is not a list")
    return value


def require_str(obj: Any, key: str, where: str) -> str:
    value = require(obj, key, where)
    if not isinstance(value, str) or not value:
        raise MalformedResponse(f"{where}: {key!r} is not a non-empty string")
    return value


def optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return str(value)


def to_decimal(value: Any, where: str) -> Decimal:
    """``Decimal(str(x))`` for JSON numbers or numeric strings; bools, NaN and infinities are refused."""
    if isinstance(value, bool) or value is None:
        raise MalformedResponse(f"{where}: {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise MalformedResponse(f"{where}: {value!r} is not finite")
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MalformedResponse(f"{where}: {value!r} is not a number") from None
    if not result.is_finite():
        raise MalformedResponse(f"{where}: {value!r} is not finite")
    return result


def decimal_field(obj: Any, key: str, where: str) -> Decimal:
    return to_decimal(require(obj, key, where), f"{where}.{key}")


def optional_decimal(obj: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return to_decimal(value, f"{where}.{key}")


def to_datetime(value: Any, where: str) -> datetime:
    """ISO-8601 (``2019-09-05T16:33:50.734Z``) or Unix milliseconds (history endpoints) -> aware UTC."""
    if isinstance(value, bool) or value is None:
        raise MalformedResponse(f"{where}: {value!r} is not a time")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, ValueError, OSError):
            raise MalformedResponse(f"{where}: {value!r} is not a time") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise MalformedResponse(f"{where}: {value!r} is not a time") from None
        # Kraken's times are UTC; a zone-less one is read as UTC rather than as local time.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise MalformedResponse(f"{where}: {value!r} is not a time")


def optional_datetime(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = obj.get(key)
    if value is None or value in ("", "0", 0):
        return None
    return to_datetime(value, f"{where}.{key}")


def to_millis(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return int(moment.timestamp() * 1000)


def symbol(value: Any, where: str) -> str:
    """Kraken echoes symbols in either case (``pi_xbtusd``); we always speak upper case."""
    if not isinstance(value, str) or not value:
        raise MalformedResponse(f"{where}: symbol {value!r} is not a string")
    return value.upper()


def side(value: Any, where: str) -> Side:
    """``buy``/``sell`` (REST) or ``Buy``/``Sell`` (history)."""
    text = str(value).lower()
    if text == "buy":
        return Side.BUY
    if text == "sell":
        return Side.SELL
    raise MalformedResponse(f"{where}: side {value!r} is neither buy nor sell")


# Kraken spells trigger signals four ways (pitfall 8): sendorder mark|index|last, responses
# mark_price|last_price|spot_price, orders/status MARK_PRICE.., history MarkPrice..; "spot" is the index.
_TRIGGER_SIGNALS = {
    "mark": TriggerSignal.MARK,
    "mark_price": TriggerSignal.MARK,
    "markprice": TriggerSignal.MARK,
    "index": TriggerSignal.INDEX,
    "index_price": TriggerSignal.INDEX,
    "spot": TriggerSignal.INDEX,
    "spot_price": TriggerSignal.INDEX,
    "spotprice": TriggerSignal.INDEX,
    "last": TriggerSignal.LAST,
    "last_price": TriggerSignal.LAST,
    "lastprice": TriggerSignal.LAST,
}


def trigger_signal(value: Any, where: str) -> TriggerSignal | None:
    if value is None or value == "":
        return None
    found = _TRIGGER_SIGNALS.get(str(value).lower())
    if found is None:
        raise MalformedResponse(f"{where}: unknown trigger signal {value!r}")
    return found


def render_decimal(value: Decimal) -> str:
    """A plain decimal string for the wire: ``1E+3`` -> ``1000``, ``1.50`` -> ``1.5``, never an exponent."""
    if not value.is_finite():
        raise ValueError(f"cannot send a non-finite number: {value}")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text
