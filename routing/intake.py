"""Webhook intake: everything that happens inside TradingView's 3-second window, and nothing slow.

Order of checks (cheapest first, and nothing is stored for a request we cannot attribute to a route):
size → route → JSON and payload v1 → shared secret (constant time) → dedupe (a unique constraint) → one
transaction storing the Alert, which is itself the engine's queue entry. Rejections of a known route are stored
with their reason, up to a per-route budget, so a flood cannot fill the database.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError
from django.db.models import F

from audit.models import Alert, Decision
from audit.reasons import Reason, explain
from orderrail.statements import insert, insert_pair, statement_scope
from routing.dispatch import ALERT_CHANNEL
from routing.domain import to_json
from routing.payload import FIELDS, ParsedAlert, PayloadError, dedupe_key, parse_alert
from routing.redaction import SecretGuard, withheld
from routing.selectors import WebhookTarget, rejections_since, webhook_target

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
EXCERPT_BYTES = 300
# Stored rejections per route per minute. Beyond it one `rate_limited` marker is stored, then nothing.
REJECTIONS_PER_MINUTE = 30
# What a route token can look like (routing.models.new_token, and the hand-made tokens of the demo and the bench).
# Anything else cannot name a route: answered 404 before it reaches the database (a NUL in it, `/hooks/%00`, made
# PostgreSQL raise, and the request end in a 500).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
UNKNOWN_ROUTE = {"error": "unknown_route", "detail": "No route has this webhook URL."}


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
    if not _TOKEN.fullmatch(token):
        return IntakeResult(404, UNKNOWN_ROUTE)
    route = webhook_target(token)
    if route is None:
        return IntakeResult(404, UNKNOWN_ROUTE)
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
            field=exc.field,
            from_sender=True,
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
    # The right secret, and a copy of it in another field (a template mistake): refused, so the copy is stored
    # nowhere - not in the alert's body, not in the decision's intent, not on the exchange as a comment.
    guard = SecretGuard(parsed.secret)
    holding = guard.fields_holding_it(parsed.stored_body)
    if holding:
        return _reject(
            route,
            Reason.INVALID_PAYLOAD,
            400,
            f"field '{holding[0]}' holds the route's secret; the secret belongs in 'secret' only",
            now=now,
            remote_ip=remote_ip,
            stored_body=parsed.stored_body,
            guard=guard,
        )
    return _accept(route, parsed, content_type, remote_ip, now)


def _accept(
    route: WebhookTarget, parsed: ParsedAlert, content_type: str, remote_ip: str | None, now: datetime
) -> IntakeResult:
    key = dedupe_key(route.pk, parsed.canonical)
    try:
        # One statement, its own transaction: the stored alert is the queue entry (routing/engine.py), and the
        # notification it carries, delivered on commit, only wakes the engine sooner.
        with statement_scope():
            alert = insert(
                Alert(
                    route_id=route.pk,
                    received_at=now,
                    status=Alert.Status.QUEUED,
                    body=parsed.stored_body,
                    content_type=content_type[:100],
                    remote_ip=remote_ip,
                    fired_at=parsed.intent.fired_at,
                    dedupe_key=key,
                    intent=to_json(parsed.intent),
                ),
                notify=ALERT_CHANNEL,
            )
    except IntegrityError:
        original = Alert.objects.filter(route_id=route.pk, dedupe_key=key).values_list("pk", flat=True).first()
        if original is None:  # the constraint fired for another reason: we could not store it
            raise
        Alert.objects.filter(pk=original).update(duplicates=F("duplicates") + 1)
        return IntakeResult(200, {"alert": original, "status": "duplicate", "reason": Reason.DUPLICATE_ALERT.value})
    return IntakeResult(202, {"alert": alert.pk, "status": "queued"})


def _reject(
    route: WebhookTarget,
    reason: Reason,
    http_status: int,
    detail: str,
    *,
    now: datetime,
    remote_ip: str | None,
    stored_body: dict[str, object] | None = None,
    raw_body: bytes = b"",
    content_type: str = "",
    field: str | None = None,
    from_sender: bool = False,
    guard: SecretGuard | None = None,
) -> IntakeResult:
    """Store the rejection (within the route's budget) and answer it.

    Everything the sender wrote - `detail` when `from_sender`, the body, the excerpt - goes through the route's
    SecretGuard (routing.redaction) before it is stored or answered; without a readable copy of the secret, none
    of it is kept.
    """
    recent = rejections_since(route.pk, now - timedelta(minutes=1))
    if recent > REJECTIONS_PER_MINUTE:
        return IntakeResult(429, {"error": Reason.RATE_LIMITED.value, "detail": "too many rejected requests"})
    if recent == REJECTIONS_PER_MINUTE:
        # The marker names what was refused, not how: the detail may hold the sender's text.
        reason, detail, stored_body, raw_body = (
            Reason.RATE_LIMITED,
            f"{reason.value}; further rejections not stored",
            None,
            b"",
        )
        http_status = 429
        from_sender = False
    if guard is None and (from_sender or stored_body is not None or raw_body):
        secret = route.sealed_secret()
        guard = SecretGuard(secret) if secret else None
    if guard is None:
        detail = withheld(reason, field, FIELDS) if from_sender else detail
        stored_body, raw_body = None, b""
    else:
        detail = guard.scrub(detail) if from_sender else detail
        stored_body = guard.scrub_body(stored_body)
    answer = {"error": reason.value, "detail": detail}
    if reason == Reason.RATE_LIMITED:
        answer = {"error": Reason.RATE_LIMITED.value, "detail": "too many rejected requests"}
    alert = insert_pair(
        Alert(
            route_id=route.pk,
            received_at=now,
            status=Alert.Status.REJECTED,
            body=stored_body,
            # Only worked out once we know the rejection is stored: hashing candidates costs a little.
            raw_excerpt=_excerpt(raw_body, guard) if raw_body and guard else "",
            content_type=content_type[:100],
            remote_ip=remote_ip,
            reject_reason=reason,
            reject_detail=detail[:300],
        ),
        Decision(
            route_id=route.pk,
            created_at=now,
            action=Decision.Action.REJECT,
            reason=reason,
            message=explain(reason, {"detail": detail, "limit": MAX_BODY_BYTES})[:400],
        ),
        "alert",
    )
    answer["alert"] = alert.pk
    return IntakeResult(http_status, answer)


def _excerpt(body: bytes, guard: SecretGuard) -> str:
    """The start of an unparsable body, for support - with nothing in it that could be a secret.

    Cut at the first backslash (an escape such as \\u0073ecret could spell the key in disguise), at the word
    "secret" (whatever follows may be it - this route's secret or, pasted by mistake, another's), and before any
    unterminated string (a secret cut in half); then the guard blanks any near copy of this route's secret left
    (a typo'd key carrying it, a fragment, a case or whitespace variant). NUL, which PostgreSQL cannot store in
    text, is written as an escape.
    """
    text = body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    for marker in ("\\", "secret"):
        cut = text.lower().find(marker)
        if cut >= 0:
            text = text[:cut] + "…[removed]"
    if text.count('"') % 2:
        text = text[: text.rfind('"')] + "…[removed]"
    return guard.scrub(text).replace("\x00", "\\x00")
