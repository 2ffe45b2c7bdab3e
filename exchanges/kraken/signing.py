"""Kraken Futures request signing (reference §2) and per-key nonces.

Pure functions only; nothing here logs, and nothing here holds a secret longer than the call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

_DERIVATIVES_PREFIX = "/derivatives"


class InvalidSecret(ValueError):
    """The API secret is not base64. The message never contains the secret itself."""


def signed_path(endpoint_path: str) -> str:
    """The path Kraken hashes: ``/derivatives/api/v3/x`` -> ``/api/v3/x``; history and auth paths as-is.

    Only a whole ``/derivatives`` segment is stripped, so a path that merely starts with those letters is left
    alone (pitfall 1: signing the prefix gives ``authenticationError``; stripping a history path gives 401).
    """
    if endpoint_path == _DERIVATIVES_PREFIX or endpoint_path.startswith(_DERIVATIVES_PREFIX + "/"):
        return endpoint_path[len(_DERIVATIVES_PREFIX) :]
    return endpoint_path


def decode_secret(secret_b64: str) -> bytes:
    """Base64-decode an API secret, adding the padding Kraken's 87-character doc example lacks."""
    text = secret_b64.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("API secret is not valid base64") from None


def authent_with_key(key: bytes, post_data: str, nonce: str, endpoint_path: str) -> str:
    """Authent from an already-decoded key, so the client decodes the secret once, not per request."""
    message = (post_data + nonce + signed_path(endpoint_path)).encode("utf-8")
    digest = hashlib.sha256(message).digest()
    return base64.b64encode(hmac.new(key, digest, hashlib.sha512).digest()).decode("ascii")


def authent(secret_b64: str, post_data: str, nonce: str, endpoint_path: str) -> str:
    """Kraken's Authent header: base64(HMAC-SHA512(b64decode(secret), SHA256(postData + nonce + path))).

    ``post_data`` must be the url-encoded string exactly as transmitted (body for POST, query for GET);
    Kraken hashes the encoded form since February 2024 (pitfall 3).
    """
    return authent_with_key(decode_secret(secret_b64), post_data, nonce, endpoint_path)


class NonceSource:
    """Strictly increasing nonces for one API key: ``max(time_ns, last + 1)``, thread-safe.

    Nanoseconds rather than milliseconds so that two processes sharing a key rarely collide (pitfall 4), and
    the ``last + 1`` floor keeps the sequence increasing in-process even if the wall clock steps back.
    """

    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._clock_ns = clock_ns
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(int(self._clock_ns()), self._last + 1)
            return str(self._last)


_nonce_sources: dict[str, NonceSource] = {}
_nonce_sources_lock = threading.Lock()


def nonce_source_for(api_key: str) -> NonceSource:
    """The process-wide nonce source of one key; every client of that key must draw from the same one.

    Known limit: the sequence is per process. Several processes on one key rely on ``time_ns`` resolution and
    on Kraken's tolerance of briefly out-of-order nonces; a shared counter (e.g. Redis INCR) would close it.
    """
    fingerprint = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    with _nonce_sources_lock:
        source = _nonce_sources.get(fingerprint)
        if source is None:
            source = _nonce_sources[fingerprint] = NonceSource()
        return source
