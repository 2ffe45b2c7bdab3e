"""Payload v1: the bytes TradingView POSTs → a validated `AlertIntent`, or a `PayloadError` naming the field.

Runs inside the webhook request (≥ 300 alerts/s on 2 cores, DB writes included), so it is a single pass of the stdlib
JSON decoder plus a few dict lookups: no DRF serializer, no regex over the whole body.

The parser is total: for any `bytes` it returns a `ParsedAlert` or raises `PayloadError`, nothing else. The cases
stdlib `json` lets through or blows up on are handled explicitly:

- not UTF-8 → `INVALID_JSON` (we decode ourselves: `json.loads(bytes)` would silently accept UTF-16/32);
- `NaN` / `Infinity` / `-Infinity` literals → `INVALID_JSON` (stdlib accepts them; `parse_constant` refuses);
- duplicate keys → `INVALID_JSON` (stdlib keeps the last one; two `action`s must not be resolved by a guess);
- deep nesting → `INVALID_JSON` (the C scanner raises `RecursionError`);
- numbers too large for `Decimal` → the field is rejected as out of range, not an `InvalidOperation` escaping;
- lone surrogates (`"\\ud800"`) and NUL in strings → rejected: PostgreSQL cannot store them and SHA-256 of the
  canonical form needs encodable text.

Decisions (see the report of the change that introduced this file):
- `action` and `market_position` are case-insensitive (`"Buy"` is `buy`); nothing else is, and no value is stripped.
- `null` is not "absent": an optional field given as `null` is a wrong type (TradingView never sends `null`).
- Numeric strings must look like a JSON/decimal number (ASCII digits, optional sign, fraction, exponent);
  `Decimal()`'s own leniency (`" 1 "`, `"1_000"`, `"inf"`, `"NaN"`, non-ASCII digits) is not accepted.
- Numbers are bounded: at most 40 significant digits, 30 decimal places and |x| < 10^15. Real sizes and prices are
  far inside this; the bounds keep every later Decimal operation exact and cheap, and every size and price within
  what the order columns (< 10^18) and the venue can hold - an alert the engine could not store is refused here,
  with its reason, not acked and then lost.
- `symbol` is compared and deduplicated in its normal form (routing/symbols.py): `xbtusd` and `XBTUSD` are one
  alert, and text that cannot be a ticker (non-ASCII, spaces) is refused by name.
- `stored_body` keeps the fields as received minus `secret`; numbers become their exact decimal text so the dict is
  plain JSON (a `Decimal` would break `JSONField`, a float would lose digits).
- `canonical` is built from the validated values, so spellings of the same alert collapse: numbers normalised
  (`1` = `1.0` = `"1.00"`), `action`/`market_position` lower-cased, `time` as the UTC instant.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from json.encoder import encode_basestring as _quote  # the C string quoter json.dumps(ensure_ascii=False) uses
from typing import Any

from audit.reasons import Reason
from routing.domain import Action, AlertIntent
from routing.symbols import normalise_symbol

FIELDS: tuple[str, ...] = (
    "secret",
    "action",
    "time",
    "position",
    "contracts",
    "market_position",
    "symbol",
    "price",
    "id",
    "comment",
)
_FIELD_SET = frozenset(FIELDS)
_SORTED_FIELDS = tuple(sorted(FIELDS))  # field names are plain ASCII: they need no JSON escaping
REQUIRED: tuple[str, ...] = ("secret", "action", "time")

# Every reason `parse_alert` can raise.
REASONS: frozenset[Reason] = frozenset({Reason.INVALID_JSON, Reason.INVALID_PAYLOAD})

MAX_SECRET_LENGTH = 512
MAX_SYMBOL_LENGTH = 64
MAX_ID_LENGTH = 128
MAX_COMMENT_LENGTH = 512
_MAX_TIME_LENGTH = 64  # the longest ISO-8601 form is ~40 characters; more is garbage, not a time
_MAX_NUMBER_TEXT = 64

_MAX_DIGITS = 40
_MAX_DECIMAL_PLACES = 30
_MAX_ADJUSTED_EXPONENT = 14  # |x| < 10^15

_ACTIONS = {a.value: a for a in Action}
_MARKET_POSITIONS = frozenset({"long", "short", "flat"})

# A TradingView placeholder left unexpanded, e.g. `{{close}}` or `{{plot("x")}}`.
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
# A number written as a string. ASCII only: `Decimal("١٢")` would otherwise accept Arabic-Indic digits.
_NUMERIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)

# Normalising a number of ≤ 40 digits under 60 digits of precision never rounds, whatever the thread's context is.
_EXACT = Context(prec=60)
_OUT_OF_RANGE = Decimal("Infinity")


class PayloadError(Exception):
    """The body is not a valid payload v1. `field` is None when the problem is the body as a whole."""

    def __init__(self, reason: Reason, field: str | None, message: str) -> None:
        # All three in args so the exception pickles (django-q2 and logging may do that).
        super().__init__(reason, field, message)
        self.reason = reason
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ParsedAlert:
    intent: AlertIntent
    secret: str
    stored_body: dict[str, Any]  # as received minus the secret; plain JSON (numbers as exact decimal text)
    canonical: str  # the payload without the secret, canonical form: input of `dedupe_key`


def dedupe_key(route_id: int, canonical: str) -> str:
    """SHA-256 hex of the route id and the canonical payload.

    Stored under a unique constraint forever: changing this format would let a resent copy through as new.
    The NUL separators and the version tag keep (route, payload) pairs from colliding by concatenation.
    """
    return hashlib.sha256(f"orderrail-dedupe-v1\x00{int(route_id)}\x00{canonical}".encode()).hexdigest()


def parse_alert(body: bytes) -> ParsedAlert:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            Reason.INVALID_JSON, None, f"the body is not UTF-8 text (invalid byte at position {exc.start})"
        ) from None
    if text.startswith("\ufeff"):
        # json.loads would say so too, but JSONDecoder.decode (used for speed) reports it as a bare syntax error.
        raise PayloadError(Reason.INVALID_JSON, None, "the body starts with a byte-order mark; send plain UTF-8")
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        raise PayloadError(Reason.INVALID_JSON, None, "the JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(Reason.INVALID_JSON, None, f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, ArithmeticError):
        # Not reachable through the stdlib decoder today; kept so that totality does not hang on its internals.
        raise PayloadError(Reason.INVALID_JSON, None, "the body is not valid JSON") from None

    if not isinstance(data, dict):
        raise PayloadError(Reason.INVALID_JSON, None, f"expected a JSON object {{...}}, got {_kind(data)}")
    return _validate(data)


# --- JSON decoding ----------------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise PayloadError(Reason.INVALID_JSON, None, f"{name} is not a number; JSON has no NaN or Infinity")


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        # An exponent beyond what Decimal can hold: let the field validator reject it by name.
        return _OUT_OF_RANGE


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                name = _label(key)
                raise PayloadError(Reason.INVALID_JSON, name, f"field '{name}' appears more than once")
            seen.add(key)
    return obj


# One decoder for the process: `json.loads(**kwargs)` would build a new one per call.
_DECODER = json.JSONDecoder(
    parse_float=_decimal,
    parse_int=_decimal,  # ints too: no int/Decimal split, and no int-digit-limit ValueError on huge integers
    parse_constant=_refuse_constant,
    object_pairs_hook=_unique_keys,
)


# --- validation -------------------------------------------------------------------------------------------------


def _validate(data: dict[str, Any]) -> ParsedAlert:
    for key, value in data.items():
        if key not in _FIELD_SET:
            name = _label(key)
            raise PayloadError(
                Reason.INVALID_PAYLOAD,
                name,
                f"field '{name}' is not a payload v1 field (allowed: {', '.join(FIELDS)})",
            )
        if isinstance(value, str) and "{{" in value and _PLACEHOLDER.search(value):
            shown = "" if key == "secret" else f" {_show(value)}"
            raise PayloadError(
                Reason.INVALID_PAYLOAD,
                key,
                f"field '{key}' still holds an unexpanded TradingView placeholder{shown}; "
                "check the alert's message template",
            )
    for key in REQUIRED:
        if key not in data:
            raise PayloadError(Reason.INVALID_PAYLOAD, key, f"field '{key}' is required")

    canonical: dict[str, str] = {}

    secret = data["secret"]
    if not isinstance(secret, str):
        # Never echo the secret, not even a wrongly typed one.
        raise PayloadError(Reason.INVALID_PAYLOAD, "secret", "field 'secret': expected a string")
    if not secret:
        raise PayloadError(Reason.INVALID_PAYLOAD, "secret", "field 'secret' must not be empty")
    if len(secret) > MAX_SECRET_LENGTH or not _storable(secret):
        raise PayloadError(Reason.INVALID_PAYLOAD, "secret", "field 'secret' is not a valid secret")

    raw_action = data["action"]
    action = _ACTIONS.get(raw_action.lower()) if isinstance(raw_action, str) else None
    if action is None:
        raise PayloadError(
            Reason.INVALID_PAYLOAD,
            "action",
            f"field 'action': expected buy, sell or close, got {_show(raw_action)}",
        )
    canonical["action"] = action.value

    fired_at = _time(data["time"])
    canonical["time"] = fired_at.isoformat()

    position = contracts = price = None
    if "position" in data:
        position = _number("position", data["position"])
        canonical["position"] = _canonical_number(position)
    if "contracts" in data:
        contracts = _number("contracts", data["contracts"])
        if contracts < 0:
            raise PayloadError(
                Reason.INVALID_PAYLOAD, "contracts", f"field 'contracts': must not be negative, got {contracts}"
            )
        canonical["contracts"] = _canonical_number(contracts)

    market_position = None
    if "market_position" in data:
        raw = data["market_position"]
        market_position = raw.lower() if isinstance(raw, str) else None
        if market_position not in _MARKET_POSITIONS:
            raise PayloadError(
                Reason.INVALID_PAYLOAD,
                "market_position",
                f"field 'market_position': expected long, short or flat, got {_show(raw)}",
            )
        if position is not None and market_position != _market_position_of(position):
            raise PayloadError(
                Reason.INVALID_PAYLOAD,
                "market_position",
                f"field 'market_position': {market_position} disagrees with position {position} "
                f"(which means {_market_position_of(position)})",
            )
        canonical["market_position"] = market_position

    symbol = None
    if "symbol" in data:
        raw_symbol = _text("symbol", data["symbol"], MAX_SYMBOL_LENGTH, allow_empty=False)
        symbol = normalise_symbol(raw_symbol)
        if symbol is None:
            raise PayloadError(
                Reason.INVALID_PAYLOAD,
                "symbol",
                f"field 'symbol': {_show(raw_symbol)} is not a ticker (letters A-Z, digits and _ . - : / only)",
            )
        canonical["symbol"] = symbol
    if "price" in data:
        price = _number("price", data["price"])
        if price <= 0:
            raise PayloadError(Reason.INVALID_PAYLOAD, "price", f"field 'price': must be greater than 0, got {price}")
        canonical["price"] = _canonical_number(price)
    order_id = comment = None
    if "id" in data:
        order_id = _text("id", data["id"], MAX_ID_LENGTH, allow_empty=True)
        canonical["id"] = order_id
    if "comment" in data:
        comment = _text("comment", data["comment"], MAX_COMMENT_LENGTH, allow_empty=True)
        canonical["comment"] = comment

    intent = AlertIntent(
        action=action,
        fired_at=fired_at,
        position=position,
        contracts=contracts,
        market_position=market_position,
        symbol=symbol,
        price=price,
        strategy_order_id=order_id,
        comment=comment,
    )
    # Every value left is a validated str or Decimal; str(Decimal) is its exact text.
    stored_body = {k: v if isinstance(v, str) else str(v) for k, v in data.items() if k != "secret"}
    return ParsedAlert(
        intent=intent,
        secret=secret,
        stored_body=stored_body,
        canonical=_canonical_text(canonical),
    )


def _canonical_text(values: dict[str, str]) -> str:
    """Exactly `json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, without building
    an encoder per call (a third of the parse time otherwise). Every value is a str, so string quoting is all it takes.
    """
    return "{" + ",".join(f'"{key}":{_quote(values[key])}' for key in _SORTED_FIELDS if key in values) + "}"


def _time(value: Any) -> datetime:
    expected = "an ISO-8601 time with a timezone, like 2026-12-01T18:30:00Z"
    if not isinstance(value, str) or len(value) > _MAX_TIME_LENGTH:
        raise PayloadError(Reason.INVALID_PAYLOAD, "time", f"field 'time': expected {expected}, got {_show(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(
            Reason.INVALID_PAYLOAD, "time", f"field 'time': expected {expected}, got {_show(value)}"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        # A naive time would be read in the server's zone: a guess about when the alert fired.
        raise PayloadError(
            Reason.INVALID_PAYLOAD,
            "time",
            f"field 'time': {_show(value)} has no timezone; add Z or an offset (TradingView's {{{{timenow}}}} has Z)",
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        raise PayloadError(Reason.INVALID_PAYLOAD, "time", f"field 'time': {_show(value)} is out of range") from None


def _number(name: str, value: Any) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT and _NUMERIC.fullmatch(value):
        number = _decimal(value)
    else:
        # bool, null, list, object, or a string that is not a number ("abc", "NaN", "inf", " 1").
        raise PayloadError(Reason.INVALID_PAYLOAD, name, f"field '{name}': expected a number, got {_show(value)}")
    if not number.is_finite():
        raise PayloadError(Reason.INVALID_PAYLOAD, name, f"field '{name}': the number is out of range")
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite, so never 'n'/'N'/'F'
    if (
        len(digits) > _MAX_DIGITS
        or exponent < -_MAX_DECIMAL_PLACES
        or (number and number.adjusted() > _MAX_ADJUSTED_EXPONENT)
    ):
        raise PayloadError(
            Reason.INVALID_PAYLOAD,
            name,
            f"field '{name}': {_show(value)} is out of range (at most {_MAX_DIGITS} digits, "
            f"{_MAX_DECIMAL_PLACES} decimal places and {_MAX_ADJUSTED_EXPONENT + 1} digits before the point)",
        )
    return number


def _text(name: str, value: Any, limit: int, *, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise PayloadError(Reason.INVALID_PAYLOAD, name, f"field '{name}': expected a string, got {_show(value)}")
    if not value and not allow_empty:
        raise PayloadError(Reason.INVALID_PAYLOAD, name, f"field '{name}' must not be empty")
    if len(value) > limit:
        raise PayloadError(
            Reason.INVALID_PAYLOAD, name, f"field '{name}' is too long ({len(value)} characters, at most {limit})"
        )
    if not _storable(value):
        raise PayloadError(
            Reason.INVALID_PAYLOAD, name, f"field '{name}' contains a NUL or an unpaired surrogate character"
        )
    return value


def _market_position_of(position: Decimal) -> str:
    if position > 0:
        return "long"
    if position < 0:
        return "short"
    return "flat"


def _canonical_number(number: Decimal) -> str:
    if not number:
        return "0"  # 0, 0.00 and -0 are the same quantity
    return format(number.normalize(_EXACT), "f")


def _storable(text: str) -> bool:
    """Text PostgreSQL can store and UTF-8 can encode: no NUL, no unpaired surrogate."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _label(text: str, limit: int = 40) -> str:
    """A key or value made safe to put in a message that is stored and shown: clipped, NUL and surrogates escaped."""
    clipped = text if len(text) <= limit else text[:limit] + "…"
    return clipped.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{_label(value)}'"
    return _kind(value) if isinstance(value, dict | list) else _json_word(value)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return _json_word(value)
    return "a number"


def _json_word(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return _label(str(value))
