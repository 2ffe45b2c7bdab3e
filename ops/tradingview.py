"""Optional checks that a webhook request comes from TradingView itself, before anything else is looked at.

- The IP allowlist (TRADINGVIEW_IP_ALLOWLIST): the client address (ops.client_ip, so behind a proxy the address the
  proxy saw) must be one of TRADINGVIEW_IPS, TradingView's four documented senders.
- The client certificate (TRADINGVIEW_CLIENT_CERT): over HTTPS TradingView presents a certificate with Subject
  O=TradingView, Inc., CN=TradingView Webhooks (SAN email webhook-server@tradingview.com). The TLS terminator
  verifies the chain (nginx: `ssl_verify_client optional;` with TradingView's CA) and forwards its verdict and the
  certificate (`$ssl_client_verify`, `$ssl_client_escaped_cert`) in the headers named by
  TRADINGVIEW_CLIENT_VERIFY_HEADER / TRADINGVIEW_CLIENT_CERT_HEADER; we accept only SUCCESS and TradingView's subject.
  The proxy must always overwrite both headers, so a client can never supply them.
"""

from __future__ import annotations

from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.http import HttpRequest

ORGANIZATION = "TradingView, Inc."
COMMON_NAME = "TradingView Webhooks"
EMAIL = "webhook-server@tradingview.com"


def refusal(request: HttpRequest) -> str | None:
    """Why this request is not accepted as TradingView's (a sentence for the 403), or None when it is (or when
    no check is switched on)."""
    if settings.TRADINGVIEW_IP_ALLOWLIST and request.META.get("REMOTE_ADDR") not in settings.TRADINGVIEW_IPS:
        return "this address is not one of TradingView's webhook senders"
    if settings.TRADINGVIEW_CLIENT_CERT:
        verdict = request.headers.get(settings.TRADINGVIEW_CLIENT_VERIFY_HEADER, "")
        if verdict != "SUCCESS":
            return "no verified client certificate"
        if not is_tradingview_certificate(request.headers.get(settings.TRADINGVIEW_CLIENT_CERT_HEADER, "")):
            return "the client certificate is not TradingView's"
    return None


def is_tradingview_certificate(forwarded: str) -> bool:
    """The forwarded PEM (URL-escaped, as nginx's $ssl_client_escaped_cert, or plain) names TradingView."""
    if not forwarded:
        return False
    try:
        cert = x509.load_pem_x509_certificate(unquote(forwarded).encode())
    except ValueError:
        return False
    subject = cert.subject
    organizations = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    names = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if organizations != [ORGANIZATION] or names != [COMMON_NAME]:
        return False
    try:
        alternative = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    emails = alternative.get_values_for_type(x509.RFC822Name)
    return not emails or EMAIL in emails
