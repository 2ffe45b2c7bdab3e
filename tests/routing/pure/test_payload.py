"""Payload v1 parsing: what is accepted, what is refused (always naming the field), and the dedupe key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from audit.reasons import Reason
from routing.domain import Action
from routing.payload import FIELDS, PayloadError, dedupe_key, parse_alert

SECRET = "s3cr3t-canary-value"
TIME = "2026-12-01T18:30:00Z"
FIRED = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)


def body(**fields: Any) -> bytes:
    data: dict[str, Any] = {"secret": SECRET, "action": "buy", "time": TIME}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not _DROP}).encode()


_DROP = object()


def refused(raw: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse_alert(raw)
    error = info.value
    assert SECRET not in error.message
    return error


# --- accepted -----------------------------------------------------------------------------------------------------


def test_a_full_target_mode_alert_becomes_an_intent() -> None:
    parsed = parse_alert(
        body(
            action="sell",
            position="-0.5",
            contracts="1.5",
            market_position="short",
            symbol="XBTUSD.P",
            price="67000.5",
            id="Short entry",
            comment="ema cross",
        )
    )
    intent = parsed.intent
    assert intent.action is Action.SELL
    assert intent.fired_at == FIRED
    assert intent.position == Decimal("-0.5")
    assert intent.contracts == Decimal("1.5")
    assert intent.market_position == "short"
    assert intent.symbol == "XBTUSD.P"
    assert intent.price == Decimal("67000.5")
    assert intent.strategy_order_id == "Short entry"
    assert intent.comment == "ema cross"
    assert parsed.secret == SECRET


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("1", Decimal(1)),
        ("1.25", Decimal("1.25")),
        ('"1.25"', Decimal("1.25")),
        ("-0.001", Decimal("-0.001")),
        ('"-0.001"', Decimal("-0.001")),
        ('"+2"', Decimal(2)),
        ("1e-3", Decimal("0.001")),
        ('"1E2"', Decimal(100)),
        ("0", Decimal(0)),
        ('".5"', Decimal("0.5")),
        ("0.30000000000000004", Decimal("0.30000000000000004")),  # Pine float noise, kept exactly
        ("123456789012345.123456789", Decimal("123456789012345.123456789")),  # no float on the way
    ],
)
def test_numbers_arrive_as_json_numbers_or_numeric_strings_and_become_exact_decimals(
    literal: str, expected: Decimal
) -> None:
    raw = b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":%s}' % literal.encode()
    position = parse_alert(raw).intent.position
    assert isinstance(position, Decimal)
    assert position == expected


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-12-01T18:30:00Z",  # {{timenow}}
        "2026-12-01T18:30:00+00:00",
        "2026-12-01T19:30:00+01:00",
        "2026-12-01T13:30:00-05:00",
        "2026-12-01T18:30:00.000Z",
        "2026-12-01 18:30:00Z",
        "2026-12-02T00:00:00+05:30",
    ],
)
def test_times_with_a_zone_are_converted_to_aware_utc(stamp: str) -> None:
    fired_at = parse_alert(body(time=stamp)).intent.fired_at
    assert fired_at.tzinfo is UTC
    assert fired_at == FIRED  # every stamp above is the same instant


@pytest.mark.parametrize(("given", "action"), [("buy", Action.BUY), ("SELL", Action.SELL), ("Close", Action.CLOSE)])
def test_action_is_case_insensitive(given: str, action: Action) -> None:
    assert parse_alert(body(action=given)).intent.action is action


@pytest.mark.parametrize(
    ("position", "market_position"),
    [("1", "long"), ("-1", "short"), ("0", "flat"), ("0.0", "FLAT"), ("-0", "flat")],
)
def test_market_position_agreeing_with_position_is_accepted(position: str, market_position: str) -> None:
    assert parse_alert(body(position=position, market_position=market_position)).intent.market_position == (
        market_position.lower()
    )


def test_market_position_without_position_is_accepted() -> None:
    assert parse_alert(body(market_position="long")).intent.market_position == "long"


def test_text_plain_and_application_json_bodies_are_the_same_bytes_and_parse_the_same() -> None:
    # TradingView picks the Content-Type; the parser only ever sees bytes, so both parse identically.
    raw = b'{"secret": "s3cr3t-canary-value", "action": "buy", "time": "2026-12-01T18:30:00Z", "position": 1}'
    assert parse_alert(raw) == parse_alert(bytes(raw))
    # A template typed by hand: extra whitespace and a trailing newline.
    assert parse_alert(b"\n  " + raw + b"\r\n").canonical == parse_alert(raw).canonical


def test_empty_id_and_comment_are_kept() -> None:
    intent = parse_alert(body(id="", comment="")).intent
    assert intent.strategy_order_id == ""
    assert intent.comment == ""


def test_unicode_text_is_kept() -> None:
    assert parse_alert(body(comment="achat 📈 über")).intent.comment == "achat 📈 über"


# --- refused ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (body(postion="1"), "postion", "not a payload v1 field"),
        (body(price="{{close}}"), "price", "placeholder"),
        (body(symbol="{{ticker}}"), "symbol", "placeholder"),
        (body(comment='pre {{plot("x")}} post'), "comment", "placeholder"),
        (body(position="NaN"), "position", "expected a number, got 'NaN'"),
        (body(position="nan"), "position", "expected a number"),
        (body(position="Infinity"), "position", "expected a number"),
        (body(position="inf"), "position", "expected a number"),
        (body(position="-inf"), "position", "expected a number"),
        (body(position="abc"), "position", "field 'position': expected a number, got 'abc'"),
        (body(position=" 1"), "position", "expected a number"),
        (body(position="1_000"), "position", "expected a number"),
        (body(position="١٢"), "position", "expected a number"),  # Arabic-Indic digits, which Decimal() accepts
        (body(position=True), "position", "expected a number, got true"),
        (body(contracts=False), "contracts", "expected a number, got false"),
        (body(price=None), "price", "expected a number, got null"),
        (body(price=[1]), "price", "expected a number, got a list"),
        (body(position={"v": 1}), "position", "expected a number, got an object"),
        (body(position="1e400"), "position", "out of range"),
        # Beyond what an order's size column (< 10^18) could hold once multiplied: refused here, not acked and lost.
        (body(contracts="99999999999999999999"), "contracts", "out of range"),
        (body(position="1000000000000000"), "position", "out of range"),
        (body(price="1E+15"), "price", "out of range"),
        (body(symbol="XBTUſD"), "symbol", "is not a ticker"),  # the long s casefolds to s: never folded
        (body(symbol="XBT USD"), "symbol", "is not a ticker"),
        (
            b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":1e99999999999999999999999}',
            "position",
            "out of range",
        ),
        (body(position="0." + "0" * 40 + "1"), "position", "out of range"),
        (body(secret=_DROP), "secret", "required"),
        (body(action=_DROP), "action", "required"),
        (body(time=_DROP), "time", "required"),
        (body(secret=""), "secret", "must not be empty"),
        (body(secret=123), "secret", "expected a string"),
        (body(secret="x" * 513), "secret", "not a valid secret"),
        (body(action="long"), "action", "expected buy, sell or close, got 'long'"),
        (body(action=1), "action", "expected buy, sell or close, got 1"),
        (body(time="2026-12-01T18:30:00"), "time", "no timezone"),
        (body(time="2026-12-01"), "time", "no timezone"),
        (body(time="yesterday"), "time", "ISO-8601"),
        (body(time=1764613800), "time", "ISO-8601"),
        (body(time="0001-01-01T00:00:00+01:00"), "time", "out of range"),
        (body(contracts="-1"), "contracts", "must not be negative"),
        (body(contracts=-0.5), "contracts", "must not be negative"),
        (body(price="0"), "price", "greater than 0"),
        (body(price=-1), "price", "greater than 0"),
        (body(position="1", market_position="short"), "market_position", "disagrees"),
        (body(position="-1", market_position="long"), "market_position", "disagrees"),
        (body(position="1", market_position="flat"), "market_position", "disagrees"),
        (body(position="0", market_position="long"), "market_position", "disagrees"),
        (body(market_position="sideways"), "market_position", "expected long, short or flat"),
        (body(symbol=""), "symbol", "must not be empty"),
        (body(symbol="X" * 65), "symbol", "too long"),
        (body(id="i" * 129), "id", "too long"),
        (body(comment="c" * 513), "comment", "too long"),
        (body(symbol=42), "symbol", "expected a string, got 42"),
        (body(comment=["a"]), "comment", "expected a string, got a list"),
        (body(comment="nul\x00inside"), "comment", "NUL"),
        (b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","comment":"\\ud800"}', "comment", "surrogate"),
    ],
)
def test_invalid_payloads_are_refused_naming_the_field(raw: bytes, field: str, words: str) -> None:
    error = refused(raw)
    assert error.reason == Reason.INVALID_PAYLOAD
    assert error.field == field
    assert words in error.message
    assert f"'{field}'" in error.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":NaN}', "NaN"),
        (b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":Infinity}', "Infinity"),
        (b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":-Infinity}', "-Infinity"),
        (b"[1, 2]", "got a list"),
        (b'"buy"', "got a string"),
        (b"42", "got a number"),
        (b"null", "got null"),
        (b"true", "got true"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"secret": "caf\xe9"}', "not UTF-8"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        (b'{"secret":"x","action":"buy"', "line 1"),
        (b"", "Expecting value"),
        (b"   ", "Expecting value"),
        (b'{"a": 1} {"b": 2}', "Extra data"),
        (b"{'secret': 'x'}", "line 1"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a":' * 100_000, "nested too deeply"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_invalid_json(raw: bytes, words: str) -> None:
    error = refused(raw)
    assert error.reason == Reason.INVALID_JSON
    assert words in error.message


def test_duplicate_keys_are_refused_naming_the_field() -> None:
    error = refused(b'{"secret":"x","action":"buy","action":"sell","time":"2026-12-01T18:30:00Z"}')
    assert error.reason == Reason.INVALID_JSON
    assert error.field == "action"
    assert "more than once" in error.message


def test_the_secret_is_never_echoed_in_an_error() -> None:
    for secret in ("{{secret " + SECRET + "}}", SECRET + "\x00", SECRET * 30):
        error = refused(body(secret=secret))
        assert error.field == "secret"
        assert SECRET not in error.message
        assert SECRET not in str(error)


def test_unknown_field_names_are_made_safe_to_store() -> None:
    error = refused(b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","\\ud800\\u0000":1}')
    assert error.field is not None
    error.field.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in error.field
    error.message.encode("utf-8")


def test_the_first_problem_in_document_order_is_reported() -> None:
    error = refused(b'{"zeta": 1, "alpha": 2, "secret": "x", "action": "buy", "time": "2026-12-01T18:30:00Z"}')
    assert error.field == "zeta"


def test_every_error_carries_its_parts_and_pickles() -> None:
    import pickle

    error = refused(body(position="abc"))
    again = pickle.loads(pickle.dumps(error))
    assert (again.reason, again.field, again.message) == (error.reason, error.field, error.message)
    assert str(again) == error.message


# --- stored body, canonical form, dedupe key ----------------------------------------------------------------------


def test_the_stored_body_is_the_payload_without_the_secret_in_plain_json() -> None:
    parsed = parse_alert(body(position=1.50, price="67000.5", comment="hi", action="BUY"))
    assert "secret" not in parsed.stored_body
    assert SECRET not in json.dumps(parsed.stored_body)
    assert parsed.stored_body == {
        "action": "BUY",
        "time": TIME,
        "position": "1.5",
        "price": "67000.5",
        "comment": "hi",
    }
    assert SECRET not in parsed.canonical


def test_stored_body_keeps_a_json_number_s_exact_digits() -> None:
    parsed = parse_alert(b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":1.10}')
    assert parsed.stored_body["position"] == "1.10"


@pytest.mark.parametrize("spelling", ["1", "1.0", '"1"', '"1.00"', "1e0", '"10E-1"', "1.000000"])
def test_canonical_form_treats_equal_numbers_as_equal(spelling: str) -> None:
    raw = b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":%s}' % spelling.encode()
    reference = parse_alert(b'{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z","position":1}')
    assert parse_alert(raw).canonical == reference.canonical


def test_canonical_form_ignores_key_order_secret_spelling_and_time_zone_spelling() -> None:
    a = parse_alert(b'{"secret":"one","action":"buy","time":"2026-12-01T18:30:00Z","position":"0.50","symbol":"X"}')
    b = parse_alert(b'{"symbol":"X","position":0.5,"time":"2026-12-01T19:30:00+01:00","action":"BUY","secret":"two"}')
    assert a.canonical == b.canonical
    assert dedupe_key(7, a.canonical) == dedupe_key(7, b.canonical)


def test_zero_in_any_spelling_is_one_canonical_value() -> None:
    spellings = ("0", "0.00", "-0", '"-0.0"', "0e5")
    keys = {
        parse_alert(
            b'{"secret":"x","action":"close","time":"2026-12-01T18:30:00Z","position":%s}' % s.encode()
        ).canonical
        for s in spellings
    }
    assert len(keys) == 1


def test_dedupe_key_differs_for_other_routes_and_other_values() -> None:
    base = parse_alert(body(position="1")).canonical
    other_value = parse_alert(body(position="1.0001")).canonical
    other_time = parse_alert(body(position="1", time="2026-12-01T18:30:01Z")).canonical
    other_field = parse_alert(body(contracts="1")).canonical
    keys = {dedupe_key(1, base), dedupe_key(2, base), dedupe_key(1, other_value), dedupe_key(1, other_time)}
    keys.add(dedupe_key(1, other_field))
    assert len(keys) == 5


def test_dedupe_key_is_stable_across_calls_and_processes() -> None:
    canonical = parse_alert(body(position="1")).canonical
    assert dedupe_key(1, canonical) == dedupe_key(1, canonical)
    # Pinned: the key is stored under a unique constraint, so its format must never drift.
    assert canonical == '{"action":"buy","position":"1","time":"2026-12-01T18:30:00+00:00"}'
    assert dedupe_key(1, canonical) == _pinned_key()


def _pinned_key() -> str:
    import hashlib

    text = 'orderrail-dedupe-v1\x001\x00{"action":"buy","position":"1","time":"2026-12-01T18:30:00+00:00"}'
    return hashlib.sha256(text.encode()).hexdigest()


def test_dedupe_key_is_sha256_hex() -> None:
    key = dedupe_key(1, "{}")
    assert len(key) == 64
    int(key, 16)


def test_fields_are_exactly_the_design_table() -> None:
    assert set(FIELDS) == {
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
    }
