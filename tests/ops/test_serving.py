"""The production serving shape, through real processes: gunicorn started with the repository's gunicorn.conf.py,
on the test database (SQLite file, or PostgreSQL in CI).

Issue 10: hole 3 (slow clients do not starve the webhook), hole 4 over a real socket (chunked bodies, `/hooks/%00`,
UTF-16), hole 5 (a locked database answers 503 within TradingView's 3 s; PostgreSQL only), /healthz when the
database is gone, and production mode (whitenoise, the HTTPS redirect, the headers, /healthz by IP over HTTP).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection

from audit.models import Alert
from tests import stack
from tests.ops.production import manage, production_env
from tests.routing.conftest import payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def start_gunicorn(procs: stack.Processes, env: dict[str, str], log: Path | None = None, name: str = "web") -> str:
    port = stack.free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    procs.start(name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], env, log)
    url = f"http://127.0.0.1:{port}"
    stack.wait_http(url + "/healthz")
    return url


@pytest.fixture
def web(tmp_path) -> Iterator[str]:
    with stack.running() as procs:
        env = stack.stack_env(stack.database_url(), "http://127.0.0.1:9", LOG_FORMAT="json")
        yield start_gunicorn(procs, env, tmp_path / "web.log")


def _raw(url: str, request: bytes, timeout: float = 5) -> tuple[int, bytes]:
    u = urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_chunked_alert_is_accepted(web, make_route):
    route = make_route()
    body = json.dumps(payload(position="0.1")).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    request = (
        f"POST {route.webhook_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode() + chunks
    status, answer = _raw(web, request)
    assert status == 202, answer
    assert Alert.objects.get().status == Alert.Status.QUEUED


def test_a_chunked_body_over_the_limit_is_413(web, make_route):
    route = make_route()
    chunk = b"x" * 9000
    request = (
        (
            f"POST {route.webhook_path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
        + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2
        + b"0\r\n\r\n"
    )
    assert _raw(web, request)[0] == 413


def test_an_oversized_body_is_413_and_the_keep_alive_connection_goes_on(web, make_route):
    """A 1 MB body on a keep-alive connection (no proxy in front): the 413 goes out and the connection still serves
    the next request. Unread, the body made gunicorn drop the connection it had just said it would keep, so the
    client's next request died with a broken pipe (half the hostile bench's requests)."""
    import http.client

    route = make_route()
    u = urlsplit(web)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    huge = b'{"comment": "' + b"x" * 1_000_000 + b'"}'
    statuses = []
    for body in (huge, huge, json.dumps(payload(position="0.1")).encode()):
        conn.request("POST", route.webhook_path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    conn.close()
    assert statuses == [413, 413, 202]


def test_the_webhook_pool_serves_the_webhook_and_health_and_nothing_else(tmp_path, make_route):
    """GUNICORN_POOL=webhook: the pool the proxy sends /hooks/ to runs the webhook's middleware only (no sessions,
    no logins) and answers every other URL 404 - a page or a login form never runs there."""
    route = make_route()
    with stack.running() as procs:
        env = stack.stack_env(stack.database_url(), "http://127.0.0.1:9", GUNICORN_POOL="webhook")
        web = start_gunicorn(procs, env, tmp_path / "web.log")
        alert = requests.post(web + route.webhook_path, json=payload(position="0.1"), timeout=5)
        assert alert.status_code == 202, alert.text
        assert "default-src 'self'" in alert.headers["Content-Security-Policy"]
        assert "Set-Cookie" not in alert.headers
        assert requests.get(web + "/healthz", timeout=5).status_code == 200
        for path in ("/", "/accounts/login/", "/admin/", "/dashboard/"):
            assert requests.get(web + path, timeout=5, allow_redirects=False).status_code == 404, path
    assert Alert.objects.get().status == Alert.Status.QUEUED


@pytest.mark.parametrize("path", ["/hooks/%00", "/hooks/a%00b", "/hooks/%FF%FE"])
def test_an_impossible_token_is_404_over_the_wire(web, make_route, path):
    make_route()
    request = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}".encode()
    status, body = _raw(web, request)
    assert status == 404 and json.loads(body)["error"] == "unknown_route"


def test_a_utf16_alert_is_400_over_the_wire(web, make_route):
    route = make_route()
    body = json.dumps(payload(position="0.1")).encode("utf-16")
    response = requests.post(web + route.webhook_path, data=body, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"


def test_five_slow_clients_do_not_hold_up_a_valid_alert(web, make_route):
    """Five connections announce a body and send it a byte every half second; a valid alert meanwhile is
    acknowledged well within TradingView's 3 s (gunicorn sync x4 took 14 s)."""
    route = make_route()
    warm = requests.post(web + route.webhook_path, json=payload(position="0.1", id="warm-up"), timeout=10)
    assert warm.status_code == 202  # the workers have loaded the app and opened their database connection
    u = urlsplit(web)
    stop = threading.Event()
    slow: list[socket.socket] = []

    def trickle(sock: socket.socket) -> None:
        while not stop.wait(0.5):
            try:
                sock.sendall(b" ")
            except OSError:
                return

    for _ in range(5):
        sock = socket.create_connection((u.hostname, u.port), timeout=5)
        sock.sendall(
            f"POST {route.webhook_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 400\r\n\r\n{".encode()
        )
        slow.append(sock)
        threading.Thread(target=trickle, args=(sock,), daemon=True).start()
    try:
        time.sleep(1.0)  # every slow client is now inside a worker, reading
        latencies = []
        for n in range(5):
            started = time.perf_counter()
            response = requests.post(web + route.webhook_path, json=payload(position="0.1", id=f"a{n}"), timeout=10)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 202
        assert max(latencies) < 3.0, latencies  # TradingView's limit; typically tens of ms (a loaded CI box: ~1 s)
    finally:
        stop.set()
        for sock in slow:
            sock.close()


def test_healthz_says_down_when_the_database_is_gone(tmp_path):
    dead = f"postgres://postgres:postgres@127.0.0.1:{stack.free_port()}/nothing"
    with stack.running() as procs:
        env = stack.stack_env(dead, "http://127.0.0.1:9")
        port = stack.free_port()
        procs.start(
            "web",
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            tmp_path / "web.log",
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = requests.get(url + "/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, stack.log_tail(tmp_path / "web.log")
                time.sleep(0.2)
        assert response.status_code == 503
        assert response.json()["status"] == "down"
        assert response.json()["checks"]["database"]["ok"] is False


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="statement timeouts are PostgreSQL's")
def test_a_locked_database_answers_503_within_three_seconds_then_recovers(web, make_route):
    """Another connection holds an exclusive lock on the routes table (a stuck migration, a runaway query): every
    webhook query waits on it. The web's statement timeout (1.5 s, gunicorn.conf.py) answers 503 - which TradingView
    re-sends - instead of holding the request past its 3 s (12 s before the timeouts)."""
    import psycopg

    route = make_route()
    warm = requests.post(web + route.webhook_path, json=payload(position="0.1", id="warm-up"), timeout=10)
    assert warm.status_code == 202  # the app loaded and its database connection open, as in production
    s = connection.settings_dict
    locker = psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"], dbname=s["NAME"]
    )
    try:
        locker.execute("LOCK TABLE routing_route IN ACCESS EXCLUSIVE MODE")  # held until rollback
        started = time.perf_counter()
        response = requests.post(web + route.webhook_path, json=payload(position="0.1"), timeout=10)
        elapsed = time.perf_counter() - started
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "unavailable"
        assert elapsed < 3.0, elapsed
    finally:
        locker.rollback()
        locker.close()
    response = requests.post(web + route.webhook_path, json=payload(position="0.1", id="after"), timeout=10)
    assert response.status_code == 202


def test_production_mode_serves_static_files_redirects_to_https_and_answers_healthz_by_ip(tmp_path, make_route):
    static_root = tmp_path / "static"
    env = production_env(DATABASE_URL=stack.database_url(), STATIC_ROOT=str(static_root))
    collected = manage(["collectstatic", "--noinput"], env)
    assert collected.returncode == 0, collected.stderr
    with stack.running() as procs:
        url = start_gunicorn(procs, env, tmp_path / "web.log")
        # A load balancer probes over plain HTTP with an IP for a host name: no redirect, no DisallowedHost.
        health = requests.get(url + "/healthz", headers={"Host": "10.1.2.3"}, timeout=5, allow_redirects=False)
        assert health.status_code == 200 and health.json()["checks"]["database"]["ok"] is True
        # Pages go to https.
        page = requests.get(
            url + "/admin/login/", headers={"Host": "orderrail.example.com"}, timeout=5, allow_redirects=False
        )
        assert page.status_code == 301 and page.headers["Location"].startswith("https://orderrail.example.com/")
        # Behind the proxy (X-Forwarded-Proto: https): the page, with the headers a browser is told to enforce.
        secure = {"Host": "orderrail.example.com", "X-Forwarded-Proto": "https"}
        page = requests.get(url + "/admin/login/", headers=secure, timeout=5)
        assert page.status_code == 200
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        # Static files by whitenoise: every one the page links to, under a hashed name, cached for ever.
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert assets, "the page links no static file"
        for path in assets:
            assert re.search(r"\.[0-9a-f]{12}\.\w+$", path), path
            asset = requests.get(url + path, headers=secure, timeout=5)
            assert asset.status_code == 200 and "immutable" in asset.headers["Cache-Control"], path
        css = next(p for p in (static_root / "admin" / "css").glob("base.*.css"))
        asset = requests.get(f"{url}/static/admin/css/{css.name}", headers=secure, timeout=5)
        assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/css")
        # The webhook is not redirected: TradingView posts to the https URL the proxy terminates.
        route = make_route()
        alert = requests.post(url + route.webhook_path, json=payload(position="0.1"), headers=secure, timeout=5)
        assert alert.status_code == 202


def test_json_logs_carry_the_alert_id_through_web_and_worker(tmp_path, make_route):
    from tests.routing.conftest import TRADER_KEY, TRADER_SECRET

    route = make_route()
    with stack.running() as procs:
        kraken = stack.start_fake(procs, TRADER_KEY, TRADER_SECRET)
        env = stack.stack_env(stack.database_url(), kraken, LOG_FORMAT="json", BILLING_ENABLED="0")
        url = start_gunicorn(procs, env, tmp_path / "web.log")
        stack.start_worker(procs, env, tmp_path / "worker.log")
        response = requests.post(url + route.webhook_path, json=payload(position="0.1"), timeout=5)
        assert response.status_code == 202
        alert_id = response.json()["alert"]
        deadline = time.monotonic() + 30
        while Alert.objects.get(pk=alert_id).status != Alert.Status.DECIDED:
            assert time.monotonic() < deadline, stack.log_tail(tmp_path / "worker.log")
            time.sleep(0.2)
        time.sleep(0.5)  # the task's last line is written after the decision commits
    for name in ("web.log", "worker.log"):
        lines = [json.loads(line) for line in (tmp_path / name).read_text().splitlines() if line.startswith("{")]
        assert lines, f"{name}: no JSON lines"
        assert all({"time", "level", "logger", "message", "alert_id"} <= set(line) for line in lines)
        mine = [line for line in lines if line["alert_id"] == alert_id]
        assert mine, f"{name}: no line carries alert {alert_id}: {lines[-5:]}"
