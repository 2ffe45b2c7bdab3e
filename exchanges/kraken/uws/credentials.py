"""The Kraken (Spot-style) API key's two REST calls: a WebSocket token, and the key's own permissions.

Every failure leaves as an ``exchanges.errors`` exception; the secret and the signature never appear in a log,
an exception or a repr. Spot REST answers errors as HTTP 200 ``{"error": ["EGeneral:Permission denied"], ...}``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from exchanges.base import KeyPermissions, Permission
from exchanges.errors import AuthenticationFailed, ExchangeError, PermissionDenied, RateLimited, Unavailable
from exchanges.kraken import signing as futures_signing
from exchanges.kraken.client import session_for
from exchanges.kraken.uws import assumptions as A
from exchanges.kraken.uws.signing import api_sign

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyInfo:
    permissions: tuple[str, ...]
    name: str = ""

    @property
    def can_withdraw(self) -> bool:
        return any(marker in p.lower() for p in self.permissions for marker in A.WITHDRAW_PERMISSION_MARKERS)

    @property
    def missing_trade_permissions(self) -> tuple[str, ...]:
        return tuple(p for p in A.TRADE_PERMISSIONS if p not in self.permissions)


def _classify(errors: list[str], what: str) -> ExchangeError:
    text = "; ".join(errors)
    if any(e.startswith("EAPI:Invalid key") or e.startswith("EAPI:Invalid signature") for e in errors):
        return AuthenticationFailed(f"{what}: {text}", venue_code=errors[0])
    if any(e.startswith("EAPI:Invalid nonce") for e in errors):
        return AuthenticationFailed(f"{what}: {text}", venue_code=errors[0])
    if any("Permission denied" in e for e in errors):
        return PermissionDenied(f"{what}: {text}", venue_code=errors[0])
    if any("Rate limit" in e or "Throttled" in e for e in errors):
        return RateLimited(f"{what}: {text}", retry_after=1.0, venue_code=errors[0])
    return Unavailable(f"{what}: {text}", venue_code=errors[0])


class SpotKeyClient:
    """Signed calls to Kraken's Spot REST with the key the Unified WebSocket needs. One per key, kept."""

    def __init__(self, base_url: str, api_key: str, api_secret: str, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._secret = api_secret
        try:
            futures_signing.decode_secret(api_secret)
        except futures_signing.InvalidSecret:
            raise AuthenticationFailed("the API secret is not valid base64", venue_code="invalidSecret") from None
        self.timeout = timeout
        # Spot nonces must increase per key; the same max(time_ns, last+1) source the Futures client uses.
        self.nonces = futures_signing.nonce_source_for("spot:" + api_key)
        self.session = session_for(self.base_url)

    def __repr__(self) -> str:
        return f"SpotKeyClient({self.base_url!r}, key=...{self._api_key[-4:]})"

    def _post(self, path: str) -> dict:
        nonce = self.nonces.next()
        body = urlencode({"nonce": nonce})
        headers = {
            "API-Key": self._api_key,
            "API-Sign": api_sign(path, nonce, body, self._secret),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        failure: ExchangeError | None = None
        try:
            response = self.session.post(
                self.base_url + path,
                data=body.encode("ascii"),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            failure = Unavailable(f"POST {path}: {type(exc).__name__}", venue_code="transport")
        if failure is not None:
            raise failure  # outside the except block: the signed request never rides along as __context__
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise Unavailable(f"POST {path}: HTTP {response.status_code}, unreadable body", venue_code="unparsable")
        errors = data.get("error") or []
        if errors:
            raise _classify([str(e) for e in errors], f"POST {path}")
        result = data.get("result")
        if not isinstance(result, dict):
            raise Unavailable(f"POST {path}: no result", venue_code="malformedResponse")
        return result

    def websocket_token(self) -> str:
        token = self._post(A.TOKEN_PATH).get("token")
        if not isinstance(token, str) or not token:
            raise Unavailable("GetWebSocketsToken: no token in the answer", venue_code="malformedResponse")
        return token

    def key_info(self) -> KeyInfo:
        result = self._post(A.KEY_INFO_PATH)
        permissions = result.get("permissions")
        if not isinstance(permissions, list):
            raise Unavailable("GetApiKeyInfo: no permissions list", venue_code="malformedResponse")
        return KeyInfo(permissions=tuple(str(p) for p in permissions), name=str(result.get("apiKeyName") or ""))

    def key_permissions(self) -> KeyPermissions:
        """The venue-neutral view: trade access if no trading permission is missing; withdrawal if any marker."""
        info = self.key_info()
        general = Permission.FULL if not info.missing_trade_permissions else Permission.READ_ONLY
        return KeyPermissions(general=general, withdrawal=info.can_withdraw)

    def close(self) -> None:
        self.session.close()
