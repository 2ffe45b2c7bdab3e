"""Webhook intake: everything that happens inside TradingView's 3-second window, and nothing slow.

Order of checks (cheapest first, and nothing is stored for a request we cannot attribute to a route):
size → route → JSON and payload v1 → shared secret (constant time) → dedupe (a unique constraint) → one
transaction storing the Alert and enqueueing its task. Rejections of a known route are stored with their reason,
up to a per-route budget, so a flood cannot fill the database.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F

from audit.models import Alert, Decision
from audit.reasons import Reason, explain
from routing.dispatch import enqueue
from routing.domain import to_json
from routing.models import Route
from routing.payload import ParsedAlert, PayloadError, dedupe_key, parse_alert

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
EXCERPT_BYTES = 300
# Stored rejections per route per minute. Beyond it one `rate_limited` marker is stored, then nothing.
REJECTIONS_PER_MINUTE = 30


@dataclass(frozen=True)
class IntakeResult:
    http_status: int
    body: dict[str, object]


def receive(
    *,
    token: str,
    body: bytes | None,
    content_length: int | None,
    content_type: str,
    remote_ip: str | None,
    now: datetime,
) -> IntakeResult:
    """`body` is None when the view refused to read it (declared too large)."""
    if content_length is not None and content_length > MAX_BODY_BYTES:
        body = None
    route = Route.objects.filter(token=token).only("id", "secret_hash", "owner_id").first()
    if route is None:
        return IntakeResult(404, {"error": "unknown_route", "detail": "No route has this webhook URL."})
    if body is None or len(body) > MAX_BODY_BYTES:
        return _reject(
            route, Reason.PAYLOAD_TOO_LARGE, 413, f"limit {MAX_BODY_BYTES} bytes", now=now, remote_ip=remote_ip
        )

    try:
        parsed = parse_alert(body)
    except PayloadError as exc:
        return _reject(
            route,
            exc.reason,
            400,
            exc.message,
            now=now,
            remote_ip=remote_ip,
            raw_body=body,
            content_type=content_type,
        )
    if not route.check_secret(parsed.secret):
        return _reject(
            route,
            Reason.INVALID_SECRET,
            401,
            "secret does not match",
            now=now,
            remote_ip=remote_ip,
            stored_body=parsed.stored_body,
        )
    return _accept(route, parsed, content_type, remote_ip, now)


def _accept(route: Route, parsed: ParsedAlert, content_type: str, remote_ip: str | None, now: datetime) -> IntakeResult:
    key = dedupe_key(route.pk, parsed.canonical)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                route_id=route.pk,
                received_at=now,
                status=Alert.Status.QUEUED,
                body=parsed.stored_body,
                content_type=content_type[:100],
                remote_ip=remote_ip,
                fired_at=parsed.intent.fired_at,
                dedupe_key=key,
                intent=to_json(parsed.intent),
            )
            # Same transaction as the alert (ORM broker on the same database): both exist or neither does.
            enqueue(alert.pk)
    except IntegrityError:
        original = Alert.objects.filter(route_id=route.pk, dedupe_key=key).values_list("pk", flat=True).first()
        if original is None:  # the constraint fired for another reason: we could not store it
            raise
        Alert.objects.filter(pk=original).update(duplicates=F("duplicates") + 1)
        return IntakeResult(200, {"alert": original, "status": "duplicate", "reason": Reason.DUPLICATE_ALERT.value})
    return IntakeResult(202, {"alert": alert.pk, "status": "queued"})


def _reject(
    route: Route,
    reason: Reason,
    http_status: int,
    detail: str,
    *,
    now: datetime,
    remote_ip: str | None,
    stored_body: dict[str, object] | None = None,
    raw_body: bytes = b"",
    content_type: str = "",
) -> IntakeResult:
    recent = Alert.objects.filter(
        route_id=route.pk, status=Alert.Status.REJECTED, received_at__gte=now - timedelta(minutes=1)
    ).count()
    answer = {"error": reason.value, "detail": detail}
    if recent > REJECTIONS_PER_MINUTE:
        return IntakeResult(429, {"error": Reason.RATE_LIMITED.value, "detail": "too many rejected requests"})
    if recent == REJECTIONS_PER_MINUTE:
        reason, detail, stored_body, raw_body = (
            Reason.RATE_LIMITED,
            f"{detail}; further rejections not stored",
            None,
            b"",
        )
        answer = {"error": Reason.RATE_LIMITED.value, "detail": "too many rejected requests"}
        http_status = 429
    with transaction.atomic():
        alert = Alert.objects.create(
            route_id=route.pk,
            received_at=now,
            status=Alert.Status.REJECTED,
            body=stored_body,
            # Only worked out once we know the rejection is stored: hashing candidates costs a little.
            raw_excerpt=_excerpt(raw_body, route) if raw_body else "",
            content_type=content_type[:100],
            remote_ip=remote_ip,
            reject_reason=reason,
            reject_detail=detail[:300],
        )
        Decision.objects.create(
            alert=alert,
            route_id=route.pk,
            created_at=now,
            action=Decision.Action.REJECT,
            reason=reason,
            message=explain(reason, {"detail": detail, "limit": MAX_BODY_BYTES})[:400],
        )
    answer["alert"] = alert.pk
    return IntakeResult(http_status, answer)


_QUOTED = re.compile(r'"([^"\\]*)"')


def _excerpt(body: bytes, route: Route) -> str:
    """The start of an unparsable body, for support - with nothing in it that could be the route's secret.

    Cut at the first backslash (an escape such as \\u0073ecret could spell the key in disguise), at the word
    "secret" (whatever follows may be it), and before any unterminated string (a secret cut in half); then any
    quoted string that *is* the route's secret - a typo'd key carrying it - is blanked.
    """
    text = body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    for marker in ("\\", "secret"):
        cut = text.lower().find(marker)
        if cut >= 0:
            text = text[:cut] + "…[removed]"
    if text.count('"') % 2:
        text = text[: text.rfind('"')] + "…[removed]"
    return _QUOTED.sub(lambda m: '"[removed]"' if route.check_secret(m.group(1)) else m.group(0), text)
