from __future__ import annotations

from django.utils import timezone
from rest_framework.decorators import api_view, authentication_classes, parser_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from routing import intake


@api_view(["POST"])
@authentication_classes([])  # no session auth, so no CSRF: the route token and the shared secret authenticate
@permission_classes([])
@parser_classes([])  # the body is read raw and validated by routing.payload, not by a DRF parser
def webhook(request: Request, token: str) -> Response:
    django_request = request._request
    length = _content_length(django_request.META.get("CONTENT_LENGTH"))
    too_large = length is not None and length > intake.MAX_BODY_BYTES
    result = intake.receive(
        token=token,
        # Never read a body that announces itself as too large: the 413 goes out without touching it.
        body=None if too_large else django_request.read(intake.MAX_BODY_BYTES + 1),
        content_length=length,
        content_type=django_request.META.get("CONTENT_TYPE", ""),
        remote_ip=django_request.META.get("REMOTE_ADDR"),
        now=timezone.now(),
    )
    return Response(result.body, status=result.http_status)


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
