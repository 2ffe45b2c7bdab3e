"""The one rule for keeping a route's secret out of everything a rejected request leaves behind.

What a request leaves behind: the rejection's `reject_detail` and `raw_excerpt`, the stored body, the HTTP answer -
and through them the admin pages and the logs. None of it may hold the route's secret **or a near copy of it**:

- any fragment of the secret of `MIN_FRAGMENT` (8) characters or more - a secret cut by the excerpt's end, or pasted
  into the wrong field with a prefix or suffix, still counts;
- in any letter case, with whitespace (or zero-width characters) inserted anywhere;
- written with escapes: JSON's `\\u0063` and `\\n`, Python's `\\x63` (which our own messages use for undecodable
  text) and URL escapes (`%63`).

Matching needs the plaintext secret; the route keeps an encrypted copy for this and nothing else
(`Route.secret_sealed`). Where no copy can be read (a route saved before the copy existed, or FERNET_KEYS lost its
key), nothing the sender wrote is kept or echoed at all: `withheld()` gives the message without the sender's text.

`found_in` is the hot-path check (C-speed substring searches over a normalised copy); `scrub` locates the matches in
the original text and blanks each whole token holding one - it runs only on rejections.
"""

from __future__ import annotations

import re
from typing import Any

from audit.reasons import Reason

MIN_FRAGMENT = 8
REMOVED = "[removed]"

# A token ends at these (and at whitespace): a blanked match takes its whole token with it, never leaving a tail.
_DELIMITERS = frozenset("\"'`{}[](),:;=&<>")
_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"', "'": "'"}
_ESCAPES = re.compile(r"[\\%]")


class SecretGuard:
    """Built from one plaintext secret; answers "does this text hold a near copy of it?" and blanks such copies."""

    def __init__(self, secret: str) -> None:
        norm = _normalise(secret)[0] if _ESCAPES.search(secret) else _normalise_fast(secret)
        self._width = min(MIN_FRAGMENT, len(norm))
        # A secret with nothing printable in it has no fragment to look for (and an empty one would match anything).
        self._fragments = frozenset(norm[i : i + self._width] for i in range(len(norm) - self._width + 1) if norm)

    def found_in(self, text: str) -> bool:
        if not self._fragments or not text:
            return False
        norm = _normalise(text)[0] if _ESCAPES.search(text) else _normalise_fast(text)
        return any(fragment in norm for fragment in self._fragments)

    def scrub(self, text: str) -> str:
        """`text` with every token that holds a near copy of the secret replaced by `[removed]`."""
        if not self.found_in(text):
            return text
        norm, spans = _normalise(text)
        width = self._width
        hits: list[tuple[int, int]] = []
        for i in range(len(norm) - width + 1):
            if norm[i : i + width] in self._fragments:
                hits.append((spans[i][0], spans[i + width - 1][1]))
        out: list[str] = []
        cursor = 0
        for start, end in _merge(_widen(text, hit) for hit in hits):
            if start < cursor:
                continue
            out.append(text[cursor:start])
            out.append(REMOVED)
            cursor = end
        out.append(text[cursor:])
        cleaned = "".join(out)
        # Belt and braces: a match the span arithmetic missed must not survive (a case-folding corner, say).
        return REMOVED if self.found_in(cleaned) else cleaned

    def scrub_body(self, body: dict[str, Any] | None) -> dict[str, Any] | None:
        """A stored body (plain JSON) with every key and string value holding a near copy blanked."""
        return None if body is None else _scrub_json(body, self)

    def fields_holding_it(self, body: dict[str, Any]) -> list[str]:
        return [key for key, value in body.items() if self.found_in(key) or self.found_in(_flat(value))]


def withheld(reason: Reason, field: str | None, known_fields: tuple[str, ...]) -> str:
    """The rejection's message with nothing the sender wrote in it (for when the secret cannot be checked)."""
    if field in known_fields:
        return f"field '{field}' is not valid (details withheld: the route's secret could not be checked)"
    if reason == Reason.INVALID_JSON:
        return "the body is not valid JSON (details withheld: the route's secret could not be checked)"
    return "the payload is not valid (details withheld: the route's secret could not be checked)"


# --- normalisation ----------------------------------------------------------------------------------------------


def _normalise_fast(text: str) -> str:
    """Case-folded, whitespace and invisible characters dropped; for text with no escapes to decode."""
    folded = "".join(text.split()).casefold()
    if not folded.isprintable():  # zero-width and control characters are not printable either
        folded = "".join(c for c in folded if c.isprintable())
    return folded


def _normalise(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Like `_normalise_fast`, escapes decoded; also the span of `text` each normalised character came from."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        char, end = _decode_one(text, i, n)
        if char.isprintable() and not char.isspace():
            for folded in char.casefold():
                chars.append(folded)
                spans.append((i, end))
        i = end
    return "".join(chars), spans


def _decode_one(text: str, i: int, n: int) -> tuple[str, int]:
    c = text[i]
    if c == "%" and _is_hex(text, i + 1, 2):
        return chr(int(text[i + 1 : i + 3], 16)), i + 3
    if c != "\\" or i + 1 >= n:
        return c, i + 1
    kind = text[i + 1]
    if kind == "u" and _is_hex(text, i + 2, 4):
        code = int(text[i + 2 : i + 6], 16)
        # A JSON surrogate pair spells one character in two escapes.
        if 0xD800 <= code < 0xDC00 and text[i + 6 : i + 8] == "\\u" and _is_hex(text, i + 8, 4):
            low = int(text[i + 8 : i + 12], 16)
            if 0xDC00 <= low < 0xE000:
                return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), i + 12
        return chr(code), i + 6
    if kind == "x" and _is_hex(text, i + 2, 2):
        return chr(int(text[i + 2 : i + 4], 16)), i + 4
    if kind == "U" and _is_hex(text, i + 2, 8):
        code = int(text[i + 2 : i + 10], 16)
        return (chr(code) if code <= 0x10FFFF else "\ufffd"), i + 10
    if kind in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[kind], i + 2
    return c, i + 1


def _is_hex(text: str, start: int, length: int) -> bool:
    chunk = text[start : start + length]
    return len(chunk) == length and all(c in _HEX for c in chunk)


def _widen(text: str, span: tuple[int, int]) -> tuple[int, int]:
    start, end = span
    while start > 0 and not _ends_token(text[start - 1]):
        start -= 1
    while end < len(text) and not _ends_token(text[end]):
        end += 1
    return start, end


def _ends_token(char: str) -> bool:
    return char in _DELIMITERS or char.isspace()


def _merge(spans: Any) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k} {_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_flat(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _scrub_json(value: Any, guard: SecretGuard) -> Any:
    if isinstance(value, dict):
        return {guard.scrub(k): _scrub_json(v, guard) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v, guard) for v in value]
    if isinstance(value, str):
        return guard.scrub(value)
    return value
