"""Behind a trusted proxy: the client IP only from the configured header; the optional TradingView IP allowlist and
client-certificate check; /healthz's checks; the CSP header; the heartbeats. Through the real middleware stack and
the real webhook view (Django's test client)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from audit.models import Alert
from ops import heartbeat
from ops.client_ip import client_ip
from ops.models import Heartbeat
from tests.routing.conftest import payload, post

pytestmark = pytest.mark.django_db

TV_IP = "52.89.214.238"


# --- client IP -------------------------------------------------------------------------------------------------


def test_client_ip_is_the_peer_when_nothing_is_configured():
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_REAL_IP": "5.6.7.8"}
    assert client_ip(meta, "", 0) == "10.0.0.1"


def test_client_ip_from_the_configured_header_only():
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_REAL_IP": "5.6.7.8"}
    assert client_ip(meta, "X-Real-IP", 0) == "5.6.7.8"
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": "garbage"}, "X-Real-IP", 0) == "10.0.0.1"


def test_client_ip_from_x_forwarded_for_counts_our_proxies_from_the_right():
    # The client wrote "6.6.6.6" itself; our one proxy appended the address it saw.
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}
    assert client_ip(meta, "", 1) == "1.2.3.4"
    assert client_ip(meta, "", 2) == "6.6.6.6"
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "", 2) == "10.0.0.1"


def test_the_alert_records_the_client_ip_the_proxy_saw(client, make_route, settings):
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    route = make_route()
    response = client.post(
        route.webhook_path,
        data=json.dumps(payload(position="0.1")),
        content_type="application/json",
        HTTP_X_REAL_IP="203.0.113.9",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert response.status_code == 202
    assert Alert.objects.get().remote_ip == "203.0.113.9"


def test_allauth_counts_login_attempts_by_the_same_client_ip(settings):
    from allauth.core.internal.httpkit import get_client_ip
    from django.test import RequestFactory

    settings.CLIENT_IP_HEADER = "X-Real-IP"
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"  # what settings.py derives from CLIENT_IP_HEADER
    request = RequestFactory().post("/accounts/login/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR="10.0.0.1")
    assert get_client_ip(request) == client_ip(request.META, "X-Real-IP", 0) == "203.0.113.9"


# --- TradingView's IP allowlist --------------------------------------------------------------------------------


def _post_from(client, route, **headers):
    return client.post(
        route.webhook_path, data=json.dumps(payload(position="0.1")), content_type="application/json", **headers
    )


def test_the_allowlist_refuses_other_senders_and_stores_nothing(client, make_route, settings):
    settings.TRADINGVIEW_IP_ALLOWLIST = True
    route = make_route()
    response = _post_from(client, route)  # from 127.0.0.1
    assert response.status_code == 403 and response.json()["error"] == "forbidden_sender"
    assert Alert.objects.count() == 0


def test_the_allowlist_accepts_tradingview_through_the_proxy_header(client, make_route, settings):
    settings.TRADINGVIEW_IP_ALLOWLIST = True
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    route = make_route()
    assert _post_from(client, route, HTTP_X_REAL_IP=TV_IP).status_code == 202
    assert Alert.objects.get().remote_ip == TV_IP


def test_the_allowlist_is_not_fooled_by_a_forwarded_for_the_client_wrote(client, make_route, settings):
    settings.TRADINGVIEW_IP_ALLOWLIST = True
    settings.TRUSTED_PROXY_COUNT = 1
    route = make_route()
    # The attacker (203.0.113.9) prepends TradingView's address; our proxy appends the real one.
    response = _post_from(client, route, HTTP_X_FORWARDED_FOR=f"{TV_IP}, 203.0.113.9")
    assert response.status_code == 403
    assert _post_from(client, route, HTTP_X_FORWARDED_FOR=f"203.0.113.9, {TV_IP}").status_code == 202


def test_without_the_allowlist_anyone_with_the_route_may_post(client, make_route):
    assert _post_from(client, make_route()).status_code == 202


# --- TradingView's client certificate ---------------------------------------------------------------------------


def _certificate(organization: str = "TradingView, Inc.", common_name: str = "TradingView Webhooks") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("webhook-server@tradingview.com")]), False)
        .sign(key, hashes.SHA256())
    )
    return quote(cert.public_bytes(serialization.Encoding.PEM).decode())  # as nginx's $ssl_client_escaped_cert


@pytest.mark.parametrize(
    ("verify", "cert", "status"),
    [
        ("SUCCESS", _certificate(), 202),
        ("FAILED:unable to verify the first certificate", _certificate(), 403),
        ("NONE", "", 403),
        ("SUCCESS", _certificate(organization="Evil, Inc."), 403),
        ("SUCCESS", _certificate(common_name="TradingView Webhooks Impostor"), 403),
        ("SUCCESS", "not a certificate", 403),
    ],
    ids=["tradingview", "unverified", "none", "other-organization", "other-name", "garbage"],
)
def test_the_client_certificate_check(client, make_route, settings, verify, cert, status):
    settings.TRADINGVIEW_CLIENT_CERT = True
    route = make_route()
    response = _post_from(client, route, HTTP_X_CLIENT_VERIFY=verify, HTTP_X_CLIENT_CERT=cert)
    assert response.status_code == status, response.content
    assert Alert.objects.count() == (1 if status == 202 else 0)


# --- /healthz -------------------------------------------------------------------------------------------------


def test_healthz_is_degraded_without_a_worker_and_strict_says_503(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"] == {"ok": False, "age_s": None, "max_age_s": 180}
    assert client.get("/healthz?strict=1").status_code == 503


def test_healthz_is_ok_with_fresh_heartbeats_and_no_backlog(client):
    heartbeat.beat(heartbeat.WORKER)
    heartbeat.beat(heartbeat.RECONCILED)
    response = client.get("/healthz?strict=1")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
    assert response["Cache-Control"] == "no-store"


def test_healthz_reports_a_stale_reconciliation_and_an_old_backlog(client, make_route):
    now = timezone.now()
    heartbeat.beat(heartbeat.WORKER, now)
    heartbeat.beat(heartbeat.RECONCILED, now - timedelta(minutes=30))
    route = make_route()
    post(client, route, payload(position="0.1"))
    Alert.objects.update(received_at=now - timedelta(minutes=5))
    checks = client.get("/healthz").json()["checks"]
    assert checks["reconciliation"]["ok"] is False and checks["reconciliation"]["age_s"] >= 1800
    assert checks["backlog"]["ok"] is False and checks["backlog"]["queued_alerts"] == 1
    assert checks["worker"]["ok"] is True


def test_a_task_start_beats_the_worker_heartbeat_at_most_every_ten_seconds(monkeypatch):
    heartbeat._last_written.clear()
    heartbeat.on_task_start()
    first = Heartbeat.objects.get(name=heartbeat.WORKER).at
    heartbeat.on_task_start()  # within the throttle: no write
    assert Heartbeat.objects.get(name=heartbeat.WORKER).at == first
    heartbeat._last_written[heartbeat.WORKER] -= heartbeat.THROTTLE_SECONDS
    heartbeat.on_task_start()
    assert Heartbeat.objects.get(name=heartbeat.WORKER).at > first


def test_a_completed_reconciliation_beats(exchange_url):
    from routing import tasks

    tasks.reconcile()
    assert Heartbeat.objects.filter(name=heartbeat.RECONCILED).exists()


# --- CSP -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/hooks/nope"])
def test_every_response_carries_the_content_security_policy(client, path):
    response = client.get(path)
    assert response["Content-Security-Policy"] == (
        "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
    )
