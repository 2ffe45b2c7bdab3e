"""Kraken Futures request authentication, re-implemented from the documentation (reference §2).

Deliberately independent of the adapter's signing module: the fake must catch a signing bug, not share it.

    Authent = base64(HMAC-SHA512(base64decode(secret), SHA256(postData + nonce + endpointPath)))

``postData`` is the query string and/or body exactly as the bytes arrived (query + body when both), ``nonce`` is the
optional Nonce header ("" when absent), and ``endpointPath`` is the request path with a leading ``/derivatives``
removed (history and auth paths are signed whole).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class KeyPermission(StrEnum):
    FULL = "full"
    READ_ONLY = "read_only"
    NONE = "none"

    @classmethod
    def parse(cls, value: str) -> KeyPermission:
        aliases = {
            "full": cls.FULL,
            "full_access": cls.FULL,
            "read": cls.READ_ONLY,
            "read_only": cls.READ_ONLY,
            "readonly": cls.READ_ONLY,
            "none": cls.NONE,
            "no_access": cls.NONE,
        }
        try:
            return aliases[value.lower()]
        except KeyError:
            raise ValueError(f"unknown permission {value!r}") from None

    @property
    def wire(self) -> str:
        """The word the api-keys check endpoint uses."""
        return {
            KeyPermission.FULL: "FULL_ACCESS",
            KeyPermission.READ_ONLY: "READ_ONLY",
            KeyPermission.NONE: "NO_ACCESS",
        }[self]


def decode_secret(secret: str) -> bytes:
    """Base64-decode a secret, padding it first (Kraken's documented example secret is 87 characters)."""
    try:
        return base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("secret is not valid base64") from exc


def signed_path(path: str) -> str:
    return path.removeprefix("/derivatives")


def authent(secret: str, post_data: bytes | str, nonce: str, path: str) -> str:
    data = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
    digest = hashlib.sha256(data + nonce.encode("utf-8") + signed_path(path).encode("utf-8")).digest()
    return base64.b64encode(hmac.new(decode_secret(secret), digest, hashlib.sha512).digest()).decode("ascii")


def signature_matches(secret: str, post_data: bytes, nonce: str, path: str, presented: str) -> bool:
    return hmac.compare_digest(authent(secret, post_data, nonce, path).encode(), presented.strip().encode())


@dataclass
class NonceTracker:
    """Kraken's nonce rule: increasing, but "out of order for a brief period of time" is tolerated.

    A nonce is refused as ``nonceDuplicate`` if seen before, and as ``nonceBelowThreshold`` if it is at or below the
    highest nonce that arrived more than ``tolerance`` seconds ago. Inside the window any order is accepted, which is
    what lets several workers share one key with slightly skewed counters.
    """

    tolerance: float = 1.0
    settled_max: int | None = None
    recent: deque[tuple[float, int]] = field(default_factory=deque)
    seen: set[int] = field(default_factory=set)

    def check(self, nonce: int, at: float) -> str | None:
        self._settle(at)
        if nonce in self.seen:
            return "nonceDuplicate"
        if self.settled_max is not None and nonce <= self.settled_max:
            return "nonceBelowThreshold"
        return None

    def record(self, nonce: int, at: float) -> None:
        self.seen.add(nonce)
        self.recent.append((at, nonce))

    def _settle(self, at: float) -> None:
        while self.recent and self.recent[0][0] <= at - self.tolerance:
            _, nonce = self.recent.popleft()
            self.settled_max = nonce if self.settled_max is None else max(self.settled_max, nonce)
        if len(self.seen) > 10_000 and self.settled_max is not None:
            # Anything below the threshold is refused anyway; keep memory bounded on long `make run` sessions.
            self.seen = {n for n in self.seen if n >= self.settled_max}


@dataclass
class ApiKey:
    key: str
    secret: str
    account_id: str
    permission: KeyPermission = KeyPermission.FULL
    withdrawal: bool = False
    nonces: NonceTracker = field(default_factory=NonceTracker)

    def __post_init__(self) -> None:
        decode_secret(self.secret)  # refuse a secret Kraken could never have issued, at set-up time

    def allows(self, access: str) -> bool:
        if access == "public":
            return True
        if access == "read":
            return self.permission in (KeyPermission.READ_ONLY, KeyPermission.FULL)
        return self.permission is KeyPermission.FULL


class AuthFailure(Exception):
    """Why a request was refused; ``code`` is the classic error word (authenticationError, nonceDuplicate ...)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def verify(
    keys: dict[str, ApiKey],
    headers: dict[str, str],
    *,
    post_data: bytes,
    path: str,
    at: float,
) -> ApiKey:
    """The key a request is signed with, or AuthFailure. ``headers`` must be keyed lower-case."""
    presented_key = headers.get("apikey")
    signature = headers.get("authent")
    if not presented_key:
        raise AuthFailure("authenticationError", "no APIKey header")
    api_key = keys.get(presented_key.strip())
    if api_key is None:
        raise AuthFailure("authenticationError", "unknown API key")
    if not signature:
        raise AuthFailure("authenticationError", "no Authent header")
    nonce = headers.get("nonce", "")
    if not signature_matches(api_key.secret, post_data, nonce, path, signature):
        raise AuthFailure("authenticationError", "signature does not match")
    if nonce:
        if not nonce.isdigit():
            raise AuthFailure("authenticationError", "nonce is not an integer")
        problem = api_key.nonces.check(int(nonce), at)
        if problem:
            raise AuthFailure(problem, f"nonce {nonce}")
        api_key.nonces.record(int(nonce), at)
    return api_key
