"""Issue 10 hole 4: no unauthenticated request ends in a 500, and no body is misread.

`POST /hooks/%00` and bodies with NUL bytes (UTF-16 JSON) made PostgreSQL raise; these tests assert the answer and
that nothing PostgreSQL cannot store is handed to it. Chunked bodies through a real server are in
tests/ops/test_serving.py (the test client cannot send one).
"""

from __future__ import annotations

import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Alert
from audit.reasons import Reason
from routing import intake
from routing.views import webhook
from tests.routing.conftest import payload, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("token", ["%00", "abc%00def", "%C0%80", "a" * 65, "tok%20en", "%F0%9F%92%A5"])
def test_a_token_that_cannot_exist_is_404_without_touching_the_database(client, make_route, token):
    make_route()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/hooks/{token}", data=b"{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_route"
    assert len(queries) == 0
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"], ids=["utf16-bom", "utf16le", "utf16be", "utf32"]
)
def test_a_utf16_body_is_400_invalid_json_and_its_excerpt_holds_no_nul(client, make_route, encoding):
    route = make_route()
    body = json.dumps(payload(position="0.1")).encode(encoding)
    response = post(client, route, body)
    assert response.status_code == 400
    assert response.json()["error"] == Reason.INVALID_JSON
    alert = Alert.objects.get()
    assert "\x00" not in alert.raw_excerpt and "\x00" not in alert.reject_detail
    assert alert.reject_reason == Reason.INVALID_JSON


@pytest.mark.parametrize(
    "body",
    [b"\x00", b'{"action": "buy"\x00}', b"\x00" * 100, b'{"a\x00b": 1}', b'{"comment": "\\u0000"}'],
    ids=["nul", "nul-after-value", "nuls", "nul-in-key", "escaped-nul"],
)
def test_nul_bytes_anywhere_are_a_400_not_a_database_error(client, make_route, body):
    route = make_route()
    response = post(client, route, body)
    assert response.status_code == 400
    alert = Alert.objects.get()
    assert "\x00" not in alert.raw_excerpt + alert.reject_detail + json.dumps(alert.body)


def test_a_nul_in_the_content_type_is_not_stored(client, make_route):
    route = make_route()
    response = client.post(route.webhook_path, data=json.dumps(payload(position="0.1")), content_type="text/plain\x00x")
    assert response.status_code == 202
    assert "\x00" not in Alert.objects.get().content_type


def _chunked(rf, route, body: bytes, *, terminated: bool):
    request = rf.generic(
        "POST", route.webhook_path, data=b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    request.META.pop("CONTENT_LENGTH", None)  # a chunked request has none
    request.META["wsgi.input"] = io.BytesIO(body)
    if terminated:
        request.META["wsgi.input_terminated"] = True  # gunicorn de-chunks and says so
    return webhook(request, token=route.token)


def test_a_chunked_body_the_server_cannot_delimit_is_411_not_invalid_json(rf, make_route):
    """runserver (wsgiref) does not de-chunk: Django would read an empty body and answer a misleading 400."""
    route = make_route()
    response = _chunked(rf, route, json.dumps(payload(position="0.1")).encode(), terminated=False)
    assert response.status_code == 411
    assert Alert.objects.count() == 0


def test_a_chunked_body_from_a_server_that_delimits_it_is_read(rf, make_route):
    route = make_route()
    response = _chunked(rf, route, json.dumps(payload(position="0.1")).encode(), terminated=True)
    assert response.status_code == 202
    assert Alert.objects.get().status == Alert.Status.QUEUED


def test_a_chunked_body_over_the_limit_is_413(rf, make_route):
    route = make_route()
    response = _chunked(rf, route, b"x" * (intake.MAX_BODY_BYTES + 10), terminated=True)
    assert response.status_code == 413
