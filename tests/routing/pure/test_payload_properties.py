"""Parser properties (reliability.md §6.3): total on any input, exact Decimals, stable dedupe keys."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audit.reasons import Reason
from routing.payload import FIELDS, REASONS, ParsedAlert, PayloadError, dedupe_key, parse_alert

# 300 keeps `make test` quick; the nightly fuzz (reliability.md §7 #11) runs ORDERRAIL_PARSER_EXAMPLES=10000.
EXAMPLES = int(os.environ.get("ORDERRAIL_PARSER_EXAMPLES", "300"))
HEAD = '{"secret":"x","action":"buy","time":"2026-12-01T18:30:00Z"'


def outcome(raw: bytes) -> ParsedAlert | PayloadError:
    """The parser's answer; anything other than these two propagates and fails the test."""
    try:
        return parse_alert(raw)
    except PayloadError as error:
        assert error.reason in REASONS
        assert isinstance(error.message, str) and error.message
        error.message.encode("utf-8")  # storable as it is
        if error.field is not None:
            error.field.encode("utf-8")
        return error


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # includes NaN and ±Infinity, which json.dumps writes as bare literals
    | st.text()
    | st.decimals(allow_nan=False).map(str)
    | st.sampled_from(
        ["{{close}}", "NaN", "inf", "buy", "sell", "close", "long", "short", "flat", "2026-12-01T18:30:00Z"]
    )
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)


json_values = st.recursive(json_scalars, _containers, max_leaves=12)
# Objects made mostly of real field names, so the field validators are exercised rather than the unknown-field check.
# Mostly scalars: nesting is covered above, and what the validators branch on is the type and text of each value.
payload_values = json_scalars | st.lists(json_scalars, max_size=2) | st.dictionaries(st.text(max_size=3), json_scalars)
payload_objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), payload_values, max_size=10)


@settings(max_examples=2 * EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
@example(b"[" * 100_000)
@example(b"{" * 50_000)
@example(b"\xed\xa0\x80")  # a UTF-8-encoded surrogate, which strict UTF-8 refuses
def test_the_parser_is_total_on_arbitrary_bytes(raw: bytes) -> None:
    outcome(raw)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_the_parser_is_total_on_arbitrary_json_values(value: Any) -> None:
    outcome(json.dumps(value).encode())


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(payload_objects)
def test_the_parser_is_total_on_objects_made_of_payload_fields(value: dict[str, Any]) -> None:
    result = outcome(json.dumps(value).encode())
    if isinstance(result, ParsedAlert):
        assert "secret" not in result.stored_body
        json.dumps(result.stored_body)  # plain JSON
        result.canonical.encode("utf-8")


@settings(max_examples=EXAMPLES // 2, suppress_health_check=[HealthCheck.too_slow])
@given(payload_objects, st.sampled_from([b"", b" ", b"\n", b"x", b"}", b"\x00"]))
def test_the_parser_is_total_on_truncated_and_padded_objects(value: dict[str, Any], tail: bytes) -> None:
    raw = json.dumps(value).encode()
    outcome(raw[: len(raw) // 2] + tail)
    outcome(raw + tail)


# Every in-range decimal, including negative zero, trailing zeros and exponents.
in_range_decimals = st.builds(
    lambda digits, exponent, negative: Decimal(f"{'-' if negative else ''}{digits}E{exponent}"),
    st.integers(min_value=0, max_value=10**15 - 1),
    st.integers(min_value=-12, max_value=0),
    st.booleans(),
)


@given(in_range_decimals)
def test_decimal_quantities_round_trip_exactly_as_numbers_and_as_strings(number: Decimal) -> None:
    for literal in (str(number), json.dumps(str(number))):
        parsed = parse_alert(f'{HEAD},"position":{literal}}}'.encode())
        assert parsed.intent.position is not None
        assert parsed.intent.position.as_tuple() == number.as_tuple()  # same digits and exponent, not just equal


@given(in_range_decimals.filter(lambda d: d >= 0))
def test_equal_quantities_have_one_canonical_form_and_one_dedupe_key(number: Decimal) -> None:
    spellings = {
        str(number),
        json.dumps(str(number)),
        f"{number:f}",
        json.dumps(f"{number:f}"),
        str(number.normalize()),
    }
    if number == number.to_integral_value():
        spellings.add(str(int(number)))
    keys = {dedupe_key(3, parse_alert(f'{HEAD},"contracts":{s}}}'.encode()).canonical) for s in spellings}
    assert len(keys) == 1


@given(payload_objects)
def test_the_dedupe_key_is_stable_for_identical_bytes(value: dict[str, Any]) -> None:
    raw = json.dumps(value).encode()
    first, second = outcome(raw), outcome(raw)
    if isinstance(first, ParsedAlert):
        assert isinstance(second, ParsedAlert)
        assert dedupe_key(1, first.canonical) == dedupe_key(1, second.canonical)
    else:
        assert isinstance(second, PayloadError)
        assert (first.reason, first.field, first.message) == (second.reason, second.field, second.message)


@given(st.sampled_from(["NaN", "Infinity", "-Infinity"]), st.sampled_from(["position", "contracts", "price"]))
def test_nan_and_infinity_literals_are_always_invalid_json(literal: str, field: str) -> None:
    result = outcome(f'{HEAD},"{field}":{literal}}}'.encode())
    assert isinstance(result, PayloadError)
    assert result.reason == Reason.INVALID_JSON


@given(
    st.sampled_from(["NaN", "nan", "Infinity", "inf", "-inf", "+Infinity", "sNaN", "-NaN"]),
    st.sampled_from(["position", "contracts", "price"]),
)
def test_nan_and_infinity_strings_are_always_invalid_payload(text: str, field: str) -> None:
    result = outcome(f'{HEAD},"{field}":"{text}"}}'.encode())
    assert isinstance(result, PayloadError)
    assert (result.reason, result.field) == (Reason.INVALID_PAYLOAD, field)


secrets_ = st.text(min_size=1, max_size=40).filter(lambda s: "{{" not in s and "\x00" not in s)
safe_text = st.text(max_size=30, alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00{}"))
valid_payloads = st.fixed_dictionaries(
    {
        "secret": secrets_,
        "action": st.sampled_from(["buy", "sell", "close", "BUY", "Sell"]),
        "time": st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    },
    optional={
        "position": in_range_decimals,
        "contracts": in_range_decimals.map(abs),
        "symbol": st.from_regex(r"[A-Za-z0-9_.:/-]{1,30}", fullmatch=True),
        "price": in_range_decimals.map(abs).filter(bool),
        "id": safe_text,
        "comment": safe_text,
    },
)


def _encode(payload: dict[str, Any], *, as_strings: bool) -> bytes:
    parts = []
    for key, value in payload.items():
        if isinstance(value, Decimal):
            literal = json.dumps(str(value)) if as_strings else str(value)
        else:
            literal = json.dumps(value)
        parts.append(f"{json.dumps(key)}:{literal}")
    return ("{" + ",".join(parts) + "}").encode()


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(valid_payloads, st.randoms(use_true_random=False))
def test_valid_payloads_parse_and_their_canonical_form_ignores_spelling(payload: dict[str, Any], rnd: Any) -> None:
    try:
        first = parse_alert(_encode(payload, as_strings=False))
    except PayloadError as error:
        # The only way a generated payload can be invalid: a time outside what UTC can represent.
        assert error.field == "time"
        return
    assert "secret" not in first.stored_body
    assert first.secret == payload["secret"]
    # The hand-built canonical text is byte for byte what json.dumps would write (its format is pinned forever).
    assert first.canonical == json.dumps(
        json.loads(first.canonical), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert first.intent.fired_at.utcoffset() is not None
    reordered = list(payload.items())
    rnd.shuffle(reordered)
    second = parse_alert(_encode(dict(reordered), as_strings=True))
    assert second.canonical == first.canonical
    assert second.intent == first.intent
