from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ops import tradingview
from ops.logs import bind_alert
from routing import intake

logger = logging.getLogger(__name__)


# A plain Django view, not DRF's: nothing of DRF was used (no parser, no authentication, no serializer - the body
# is read raw and validated by routing.payload) and its request/negotiation/rendering layers cost ~8 % of the
# webhook's CPU. No session, so no CSRF: the route token and the shared secret authenticate.
@csrf_exempt
def webhook(request: HttpRequest, token: str) -> JsonResponse:
    if request.method != "POST":
        response = JsonResponse({"error": "method_not_allowed", "detail": "the webhook takes POST only"}, status=405)
        response["Allow"] = "POST"
        return response
    refused = tradingview.refusal(request)
    if refused:
        # Before the route is even looked up: nothing is stored for a sender that is not TradingView.
        return _answer({"error": "forbidden_sender", "detail": refused}, status=403)
    length = _content_length(request.META.get("CONTENT_LENGTH"))
    too_large = length is not None and length > intake.MAX_BODY_BYTES
    chunked = length is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not request.META.get("wsgi.input_terminated"):
        # The server cannot tell us where a chunked body ends (runserver): say so rather than read it as empty.
        return _answer({"error": "length_required", "detail": "send a Content-Length header"}, status=411)
    if too_large and length is not None:
        _discard_body(request, length)
    try:
        result = intake.receive(
            token=token,
            # Never read a body that announces itself as too large: the 413 goes out without touching it.
            body=None if too_large else _read_body(request, chunked),
            content_length=length,
            content_type=request.META.get("CONTENT_TYPE", "").replace("\x00", ""),
            remote_ip=request.META.get("REMOTE_ADDR"),
            now=timezone.now(),
        )
    except DatabaseError:
        # Nothing was stored (the transaction rolled back, or never began): a 5xx, which TradingView re-sends after
        # 5 s - the one case where its retry helps. Never a traceback page; the route token stays out of the log.
        logger.exception("webhook could not reach the database")
        return _answer({"error": "unavailable", "detail": "could not store the alert; retry"}, status=503)
    alert_id = result.body.get("alert")
    bind_alert(alert_id if isinstance(alert_id, int) else None)  # reset at the next request's start (ops.apps)
    return _answer(result.body, status=result.http_status)


def _answer(body: dict[str, object], status: int) -> JsonResponse:
    logger.info("webhook %s %s", status, body.get("status") or body.get("error"), extra={"http_status": status})
    response = JsonResponse(body, status=status, json_dumps_params={"separators": (",", ":")})
    # Every answer is logged here, once: not again as django.request's "Bad Request: /hooks/<token>", which cost a
    # hostile flood a second formatted line per request and carried the route's token into the log.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _read_body(request: HttpRequest, chunked: bool) -> bytes:
    if chunked:
        # Django reads a request without Content-Length as empty; a server that de-chunks (gunicorn sets
        # wsgi.input_terminated) hands us a stream that ends where the body ends.
        return request.META["wsgi.input"].read(intake.MAX_BODY_BYTES + 1)
    return request.read(intake.MAX_BODY_BYTES + 1)


# An oversized body up to this size is read and thrown away before the 413 goes out, so the connection can go on
# (unread, it made gunicorn drop the keep-alive connection it had just promised, and the client's next request
# died with a broken pipe). Larger ones are not worth the reading: the connection may close. In production the
# proxy in front refuses them (client_max_body_size) before they reach us.
DISCARD_MAX_BYTES = 2 * 1024 * 1024
_DISCARD_CHUNK = 64 * 1024


def _discard_body(request: HttpRequest, length: int) -> None:
    if length > DISCARD_MAX_BYTES:
        return
    stream = request.META["wsgi.input"]
    left = length
    while left > 0 and (chunk := stream.read(min(_DISCARD_CHUNK, left))):
        left -= len(chunk)


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
