"""Kraken Spot REST signing, the scheme ``GetWebSocketsToken`` and ``GetApiKeyInfo`` use (reference UWS §2.2).

    API-Sign = base64(HMAC-SHA512(base64decode(secret), urlpath + SHA256(nonce + postdata)))

Different from the Futures ``Authent`` (``exchanges/kraken/signing.py``): the path is hashed in the clear, the nonce
is part of the body, and the body's SHA-256 is taken over ``nonce + postdata``. Pure; nothing here logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from exchanges.kraken.signing import decode_secret


def api_sign(url_path: str, nonce: str, post_data: str, secret_b64: str) -> str:
    """``post_data`` must be the exact body sent (it contains ``nonce=...`` itself)."""
    digest = hashlib.sha256((nonce + post_data).encode("utf-8")).digest()
    mac = hmac.new(decode_secret(secret_b64), url_path.encode("utf-8") + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")
