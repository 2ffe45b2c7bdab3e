"""The client's IP address behind a trusted proxy, settled once per request.

Only what our own proxy wrote is believed: the configured header (CLIENT_IP_HEADER, e.g. X-Real-IP, which the proxy
overwrites) or, with X-Forwarded-For, the entry TRUSTED_PROXY_COUNT hops from the right - entries further left are
whatever the client sent. allauth reads the same through its ALLAUTH_TRUSTED_* settings (set from ours).
REMOTE_ADDR becomes the client's address; the TCP peer stays in PEER_ADDR.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PEER_ADDR = "ORDERRAIL_PEER_ADDR"


def client_ip(meta: dict[str, str], header: str, proxy_count: int) -> str | None:
    """Pure: the client IP from a request's META (see the module doc), or the peer when nothing usable was sent."""
    peer = meta.get("REMOTE_ADDR")
    candidate: str | None = None
    if header:
        candidate = meta.get("HTTP_" + header.upper().replace("-", "_"))
    elif proxy_count > 0:
        hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        candidate = hops[-proxy_count] if len(hops) >= proxy_count else None
    cleaned = _clean(candidate) if candidate else None
    return cleaned or peer


def _clean(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 1.2.3.4:5678
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class ClientIPMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = settings.CLIENT_IP_HEADER
        self.proxy_count = settings.TRUSTED_PROXY_COUNT

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.header or self.proxy_count:
            request.META[PEER_ADDR] = request.META.get("REMOTE_ADDR", "")
            request.META["REMOTE_ADDR"] = client_ip(request.META, self.header, self.proxy_count) or ""
        return self.get_response(request)
