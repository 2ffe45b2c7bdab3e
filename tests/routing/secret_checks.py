"""An independent check for near copies of a secret in text, for tests (not routing.redaction: a test must not
trust the code it tests). A near copy: any 8-character fragment, in any case, with whitespace inserted, or written
with JSON/Python/URL escapes."""

from __future__ import annotations

import re
from urllib.parse import unquote

FRAGMENT = 8

_ESCAPES = [
    (re.compile(r"\\u([0-9a-fA-F]{4})"), lambda m: chr(int(m.group(1), 16))),
    (re.compile(r"\\x([0-9a-fA-F]{2})"), lambda m: chr(int(m.group(1), 16))),
]


def _views(text: str) -> list[str]:
    decoded = text
    for pattern, repl in _ESCAPES:
        decoded = pattern.sub(repl, decoded)
    views = []
    for candidate in (text, decoded, unquote(text)):
        views.append(re.sub(r"\s+", "", candidate).lower())
        views.append(candidate.lower())
    return views


def near_copies(secret: str, text: str) -> list[str]:
    """The fragments of `secret` found in `text` (empty when clean)."""
    secret = secret.lower()
    fragments = {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}
    found = set()
    for view in _views(text):
        found |= {f for f in fragments if f in view}
    return sorted(found)


def assert_clean(secret: str, where: str, text: str) -> None:
    found = near_copies(secret, text)
    assert not found, f"near copies of the secret in {where}: {found[:3]}"
