"""Kraken's Spot REST calls the Unified WebSocket needs, served on the fake's HTTP port under ``/0/private/``.

Signature checked exactly as Kraken documents it (reference UWS §2.2), re-implemented here on purpose:
``API-Sign = b64(HMAC-SHA512(b64decode(secret), path + SHA256(nonce + body)))`` with ``nonce`` read from the body.
Errors are Spot's envelope, HTTP 200: ``{"error": ["EAPI:Invalid key"], "result": {}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from exchanges.fake.api import Reply, Request
from exchanges.fake.wire import iso

if TYPE_CHECKING:
    from exchanges.fake.server import FakeKraken

# What a key made for OrderRail holds (reference UWS §2.3, "market making" set; the strings are guesses beyond
# the two the SPEC example shows).
TRADING_PERMISSIONS = ("query-funds", "query-open-trades", "modify-trades", "cancel-close-trades", "websocket-token")
TOKEN_TTL = 900.0


@dataclass
class SpotKey:
    key: str
    secret: str
    account_id: str
    permissions: tuple[str, ...] = TRADING_PERMISSIONS
    created: datetime | None = None
    last_nonce: int = 0


@dataclass
class Token:
    value: str
    account_id: str
    issued: float  # monotonic
    expired: bool = False


@dataclass
class SpotRest:
    fake: FakeKraken
    keys: dict[str, SpotKey] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    unavailable: bool = False  # a switch: every call answers EService:Unavailable (no token can be had)

    def issue(self, account_id: str) -> Token:
        value = base64.b64encode(uuid.uuid5(uuid.NAMESPACE_URL, f"uws-token:{next(self._counter)}").bytes * 2)
        token = Token(value=value.decode().rstrip("="), account_id=account_id, issued=time.monotonic())
        self.tokens[token.value] = token
        return token

    def token(self, value: object) -> Token | None:
        """The token if it may be used now: issued by us, not expired by a fault, used within 15 minutes."""
        token = self.tokens.get(value) if isinstance(value, str) else None
        if token is None or token.expired:
            return None
        return token

    def handle(self, request: Request) -> Reply:
        now = self.fake.clock()
        if request.method != "POST":
            return _error("EGeneral:Invalid arguments")
        if self.unavailable:
            return _error("EService:Unavailable")
        with self.fake.lock:
            self.fake.record_call(request.path.rsplit("/", 1)[-1])
            key = self.keys.get(request.headers.get("api-key", ""))
            if key is None:
                return _error("EAPI:Invalid key")
            nonce_values = parse_qs(request.body.decode("utf-8", "replace")).get("nonce", [""])
            nonce = nonce_values[0]
            if not _signed(key.secret, request.path, nonce, request.body, request.headers.get("api-sign", "")):
                return _error("EAPI:Invalid signature")
            if not nonce.isdigit() or int(nonce) <= key.last_nonce:
                return _error("EAPI:Invalid nonce")
            key.last_nonce = int(nonce)
            if request.path == "/0/private/GetWebSocketsToken":
                if "websocket-token" not in key.permissions:
                    return _error("EGeneral:Permission denied")
                token = self.issue(key.account_id)
                return Reply.json({"error": [], "result": {"token": token.value, "expires": int(TOKEN_TTL)}})
            if request.path == "/0/private/GetApiKeyInfo":
                return Reply.json(
                    {
                        "error": [],
                        "result": {
                            "apiKeyName": "orderrail-fake",
                            "apiKey": key.key,
                            "nonce": str(key.last_nonce),
                            "nonceWindow": 0,
                            "permissions": list(key.permissions),
                            "validUntil": "0",
                            "createdTime": iso(key.created or now),
                            "ipAllowlist": [],
                            "lastUsed": iso(now),
                        },
                    }
                )
        return _error("EGeneral:Unknown method")


def _signed(secret: str, path: str, nonce: str, body: bytes, presented: str) -> bool:
    try:
        key = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except ValueError:
        return False
    digest = hashlib.sha256(nonce.encode() + body).digest()
    expected = base64.b64encode(hmac.new(key, path.encode() + digest, hashlib.sha512).digest()).decode()
    return hmac.compare_digest(expected.encode(), presented.strip().encode())


def _error(word: str) -> Reply:
    return Reply.json({"error": [word], "result": {}})
