"""django-q2 task entry points (one-line wrappers; the work is in billing.notices)."""

from __future__ import annotations

from django.utils import timezone

from billing import notices


def send_access_notices() -> int:
    return notices.send_access_notices(timezone.now())
