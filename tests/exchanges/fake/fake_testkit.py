"""A minimal, independent Kraken Futures client for testing the fake over real HTTP.

Independent on purpose: it follows the reference's §2 sketch line by line instead of importing the fake's verifier
or the adapter's signer, so that a bug in either cannot cancel itself out here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests

from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET

_nonces = itertools.count(int(time.time() * 1000) * 1000)


def authent(secret_b64: str, post_data: str, nonce: str, endpoint_path: str) -> str:
    path = endpoint_path.removeprefix("/derivatives")  # history/auth paths are used as-is
    digest = hashlib.sha256((post_data + nonce + path).encode("utf-8")).digest()
    key = base64.b64decode(secret_b64 + "=" * (-len(secret_b64) % 4))
    return base64.b64encode(hmac.new(key, digest, hashlib.sha512).digest()).decode()


class Client:
    """Signs exactly the string it sends. ``where`` chooses query string, form body, or both."""

    def __init__(self, base: str, key: str = FAKE_KEY, secret: str = FAKE_SECRET, timeout: float = 5.0) -> None:
        self.base = base
        self.key = key
        self.secret = secret
        self.timeout = timeout
        self.session = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        where: str = "auto",
        body: str | None = None,
        sign: bool = True,
        nonce: str | None = "auto",
        sign_path: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        encoded = urlencode(params or [], doseq=True)
        if where == "auto":
            where = "query" if method in ("GET", "DELETE") else "body"
        query, form = (encoded, body or "") if where == "query" else ("", encoded if body is None else body)
        if where == "both":
            query, form = encoded, body or ""
        sent = dict(headers or {})
        if sign:
            n = str(next(_nonces)) if nonce == "auto" else (nonce or "")
            if n:
                sent["Nonce"] = n
            sent["APIKey"] = self.key
            sent["Authent"] = authent(self.secret, query + form, n, sign_path or path)
        if form:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        url = self.base + path + (f"?{query}" if query else "")
        return self.session.request(
            method, url, data=form.encode() if form else None, headers=sent, timeout=timeout or self.timeout
        )

    def json(self, method: str, path: str, params: Any = None, **kwargs: Any) -> Any:
        response = self.request(method, path, params, **kwargs)
        return json.loads(response.content, parse_float=Decimal)

    def v3(self, method: str, endpoint: str, params: Any = None, **kwargs: Any) -> Any:
        return self.json(method, f"/derivatives/api/v3/{endpoint}", params, **kwargs)

    def history(self, endpoint: str, params: Any = None, **kwargs: Any) -> Any:
        return self.json("GET", f"/api/history/v3/{endpoint}", params, **kwargs)

    def send(self, **params: Any) -> dict[str, Any]:
        body = self.v3("POST", "sendorder", params)
        assert body["result"] == "success", body
        return body["sendStatus"]


class ManualClock:
    """A clock for FakeKraken(clock=...) that only moves when told (orders/status window, dead man's switch)."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> Any:
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)
