"""/healthz for a load balancer and a monitor.

Answered by a middleware at the top of the stack: before the HTTPS redirect and the Host check, so a load balancer
can probe over plain HTTP with an IP for a host name; it says nothing secret.

    200 {"status": "ok" | "degraded", "checks": {...}}   the web process can serve (its database answers)
    503 {"status": "down", ...}                          the database does not answer: take this host out

`?strict=1` answers 503 for "degraded" too, for monitors that only look at the status code. Checks: the database
(round trip), the worker's heartbeat (a task started recently), the last completed reconciliation, and the backlog
of queued alerts (how many, and how long the oldest has waited).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

PATH = "/healthz"


def report(now: datetime) -> tuple[int, dict[str, object]]:
    from audit.models import Alert
    from ops import heartbeat

    checks: dict[str, dict[str, object]] = {}
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        beats = heartbeat.last((heartbeat.WORKER, heartbeat.RECONCILED))
        queued = Alert.objects.filter(status=Alert.Status.QUEUED)
        backlog = queued.count()
        oldest = queued.order_by("received_at").values_list("received_at", flat=True).first()
    except DatabaseError as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        return 503, {"status": "down", "checks": checks}
    checks["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    checks["worker"] = _age_check(beats.get(heartbeat.WORKER), now, settings.HEALTH_WORKER_MAX_AGE_SECONDS)
    checks["reconciliation"] = _age_check(
        beats.get(heartbeat.RECONCILED), now, settings.HEALTH_RECONCILE_MAX_AGE_SECONDS
    )
    oldest_age = round((now - oldest).total_seconds(), 1) if oldest else None
    checks["backlog"] = {
        "ok": oldest_age is None or oldest_age <= settings.HEALTH_BACKLOG_MAX_AGE_SECONDS,
        "queued_alerts": backlog,
        "oldest_queued_age_s": oldest_age,
        "max_age_s": settings.HEALTH_BACKLOG_MAX_AGE_SECONDS,
    }
    status = "ok" if all(check["ok"] for check in checks.values()) else "degraded"
    return 200, {"status": status, "checks": checks}


def _age_check(at: datetime | None, now: datetime, limit: int) -> dict[str, object]:
    age = round((now - at).total_seconds(), 1) if at else None
    return {"ok": age is not None and age <= limit, "age_s": age, "max_age_s": limit}


class HealthzMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.rstrip("/") != PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        status, body = report(timezone.now())
        if request.GET.get("strict") and body["status"] != "ok":
            status = 503
        response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response
