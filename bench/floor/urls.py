"""The floor's one view: the webhook's durable work and nothing else.

Read the body (at most 16 KiB), parse it as JSON, and in one statement - its own transaction - INSERT the alert
(into a table shaped like the product's alert table, its indexes and unique dedupe constraint included) carrying its
notification (pg_notify in the RETURNING, delivered on commit) - then 202. The product stores its alert the same way
(orderrail.statements.insert(notify=...)); the floor did BEGIN, INSERT, NOTIFY, COMMIT until the product learnt the
one-statement form, and took it too so that it stays the least the webhook can cost. No route lookup, no secret
check, no validation beyond "a JSON object": whatever the product does on top of this is what the intake ratio
measures.
"""

from __future__ import annotations

import hashlib
import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_floor_alert"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (LIKE audit_alert INCLUDING ALL)"
INSERT = (
    f"INSERT INTO {TABLE} (route_id, received_at, status, body, raw_excerpt, content_type, remote_ip, fired_at, "
    "dedupe_key, intent, reject_reason, reject_detail, duplicates) "
    "VALUES (%s, %s, 'queued', %s, '', %s, %s, %s, %s, %s, '', '', 0) RETURNING id, pg_notify('bench_floor', '')"
)


@csrf_exempt
def hook(request: HttpRequest, token: str) -> HttpResponse:
    body = request.read(16 * 1024 + 1)
    try:
        payload = json.loads(body)
    except ValueError:
        return JsonResponse({"error": "invalid_json"}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"error": "invalid_payload"}, status=400)
    payload.pop("secret", None)
    text = json.dumps(payload)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            [
                1,
                now,
                text,
                request.META.get("CONTENT_TYPE", "")[:100],
                request.META.get("REMOTE_ADDR"),
                now,
                hashlib.sha256(body).hexdigest(),
                text,
            ],
        )
        alert_id = cursor.fetchone()[0]
    return JsonResponse({"alert": alert_id, "status": "queued"}, status=202)


urlpatterns = [path("hooks/<str:token>", hook)]
