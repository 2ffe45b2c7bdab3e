"""Shared constants and assertions for the Kraken adapter tests (imported by name: this directory is on sys.path).

Not ``conftest``: two non-package conftests share the module name ``conftest``, so importing from one is fragile.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import responses

from exchanges.kraken.signing import authent

BASE = "https://futures.kraken.test"
V3 = f"{BASE}/derivatives/api/v3"
HISTORY = f"{BASE}/api/history/v3"
API_KEY = "test-public-key-0001"
# TV2's secret: base64("python-kraken-sdk unit-test secret value").
API_SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def signed_data(request: object) -> str:
    """What a request signed: the form body for POST, the query string for GET."""
    method = request.method  # type: ignore[attr-defined]
    if method == "GET":
        return urlsplit(request.url).query  # type: ignore[attr-defined]
    body = request.body or b""  # type: ignore[attr-defined]
    return body.decode("ascii") if isinstance(body, bytes) else body


def assert_signed(request: object) -> None:
    """The Authent header is the signature over exactly the bytes sent, with this request's nonce and path."""
    headers = request.headers  # type: ignore[attr-defined]
    path = urlsplit(request.url).path  # type: ignore[attr-defined]
    assert headers["APIKey"] == API_KEY
    expected = authent(API_SECRET, signed_data(request), headers["Nonce"], path)
    assert headers["Authent"] == expected


def assert_no_secret(
    exc: BaseException, mock: responses.RequestsMock | None = None, *, secret: str = API_SECRET
) -> None:
    """Neither the secret nor any Authent header sent appears in the exception, its repr or its chain."""
    forbidden = [secret, secret.rstrip("=")]
    if mock is not None:
        forbidden += [c.request.headers.get("Authent", "") for c in mock.calls if c.request.headers.get("Authent")]
    seen: BaseException | None = exc
    while seen is not None:
        text = f"{seen!s} {seen!r} {seen.args!r} {vars(seen)!r}"
        for secret in forbidden:
            assert secret not in text
        seen = seen.__cause__ or seen.__context__
