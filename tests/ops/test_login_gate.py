"""ops.login_gate: while LOGIN_CONCURRENCY password-hashing POSTs run in a process, the next is answered 429 at
once (not queued onto another thread); other requests are never gated. Threads of one process, real middleware."""

from __future__ import annotations

import threading

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from ops.login_gate import LoginConcurrencyMiddleware

pytestmark = pytest.mark.django_db


def test_a_third_concurrent_login_is_429_and_a_webhook_is_not_gated(settings):
    settings.LOGIN_CONCURRENCY = 2
    release = threading.Event()
    inside = threading.Semaphore(0)

    def slow_view(request):  # stands for the password hash
        inside.release()
        release.wait(10)
        return HttpResponse("ok")

    gate = LoginConcurrencyMiddleware(slow_view)
    rf = RequestFactory()
    answers: list[int] = []
    holders = [
        threading.Thread(target=lambda: answers.append(gate(rf.post("/accounts/login/")).status_code)) for _ in range(2)
    ]
    for t in holders:
        t.start()
    assert inside.acquire(timeout=5) and inside.acquire(timeout=5)  # both are hashing now
    third = gate(rf.post("/admin/login/"))
    assert third.status_code == 429 and third["Retry-After"] == "2"
    fast = LoginConcurrencyMiddleware(lambda request: HttpResponse(status=202))
    fast.slots = gate.slots  # same process, same slots
    assert fast(rf.post("/hooks/abc")).status_code == 202
    assert fast(rf.get("/accounts/login/")).status_code == 202
    release.set()
    for t in holders:
        t.join(5)
    assert answers == [200, 200]
    assert gate(rf.post("/accounts/login/")).status_code == 200  # the slots are free again


def test_the_gate_is_in_the_middleware_stack(client, settings):
    assert "ops.login_gate.LoginConcurrencyMiddleware" in settings.MIDDLEWARE
    assert client.post("/accounts/login/", {"login": "x@example.com", "password": "wrong"}).status_code in (200, 400)
