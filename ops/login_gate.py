"""At most LOGIN_CONCURRENCY requests per process that may hash a password run at once; the rest are answered 429
at once.

Password hashing is slow on purpose (~0.3 s of CPU each here). allauth's throttle counts attempts per address and
per account, but a flood from many addresses at many accounts gets through it - and on a single gunicorn pool
every thread busy hashing is a thread the webhook cannot have (bench/serving.py: 32 such clients held an alert
for over 10 s). With this gate a process hashes at most LOGIN_CONCURRENCY passwords at a time and its other
threads stay free; a person who meets the gate during a flood is asked to try again a moment later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class LoginConcurrencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefixes = tuple(settings.PASSWORD_POST_PREFIXES)
        self.slots = threading.BoundedSemaphore(settings.LOGIN_CONCURRENCY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        if not self.slots.acquire(blocking=False):
            return HttpResponse(
                "Too many sign-in attempts are being checked right now; please try again in a moment.",
                status=429,
                content_type="text/plain; charset=utf-8",
                headers={"Retry-After": "2"},
            )
        try:
            return self.get_response(request)
        finally:
            self.slots.release()
