"""The webhook's answers, and that a refused request changes nothing but its own audit row."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from audit.models import Alert, Decision
from audit.reasons import Reason
from routing import intake
from tests.routing.conftest import CANARY_ROUTE_SECRET, payload, post

pytestmark = pytest.mark.django_db


def test_a_valid_alert_is_stored_without_its_secret_and_queued(client, make_route):
    route = make_route()
    response = post(client, route, payload(position="0.1"))
    assert response.status_code == 202
    alert = Alert.objects.get()
    assert response.json() == {"alert": alert.pk, "status": "queued"}
    assert alert.status == Alert.Status.QUEUED
    assert "secret" not in alert.body
    assert CANARY_ROUTE_SECRET not in json.dumps(alert.body)
    assert alert.body["position"] == "0.1"
    assert queued() == 1


def test_text_plain_is_accepted_like_json(client, make_route):
    route = make_route()
    response = post(client, route, json.dumps(payload(position="0.1")).encode(), content_type="text/plain")
    assert response.status_code == 202
    assert Alert.objects.get().content_type == "text/plain"


def test_an_unknown_token_is_404_and_stores_nothing(client, make_route):
    make_route()
    response = client.post("/hooks/no-such-token", data=b"{}", content_type="application/json")
    assert response.status_code == 404
    assert Alert.objects.count() == 0
    assert queued() == 0


def test_get_is_not_allowed(client, make_route):
    route = make_route()
    assert client.get(route.webhook_path).status_code == 405
    assert Alert.objects.count() == 0


def test_every_answer_is_logged_once_and_never_with_the_route_token(client, make_route, caplog):
    """Django logged each 4xx a second time as "Bad Request: /hooks/<token>": a hostile flood paid for two lines per
    request, and the route's token - the webhook URL's credential - went into the log."""
    route = make_route()
    caplog.set_level(logging.DEBUG)
    answers = [
        post(client, route, b'{"action": ').status_code,
        post(client, route, payload(secret="wrong")).status_code,
        post(client, route, payload(position="0.1")).status_code,
        client.post("/hooks/no-such-token", data=b"{}", content_type="application/json").status_code,
    ]
    assert answers == [400, 401, 202, 404]
    lines = [r for r in caplog.records if r.name == "routing.views"]
    assert [r.getMessage() for r in lines] == [
        "webhook 400 invalid_json",
        "webhook 401 invalid_secret",
        "webhook 202 queued",
        "webhook 404 unknown_route",
    ]
    assert route.token not in caplog.text
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_an_oversized_body_is_413_and_only_its_rejection_is_recorded(client, make_route):
    route = make_route()
    big = json.dumps(payload(comment="x" * (1024 * 1024))).encode()
    response = post(client, route, big)
    assert response.status_code == 413
    assert response.json()["error"] == Reason.PAYLOAD_TOO_LARGE
    alert = Alert.objects.get()
    assert alert.status == Alert.Status.REJECTED
    assert alert.body is None and alert.raw_excerpt == ""
    assert alert.decision.reason == Reason.PAYLOAD_TOO_LARGE
    assert queued() == 0


def test_a_body_of_exactly_the_limit_is_read(client, make_route):
    route = make_route()
    body = json.dumps(payload(position="0.1", comment="")).encode()
    padded = body[:-1] + b" " * (intake.MAX_BODY_BYTES - len(body)) + b"}"
    assert len(padded) == intake.MAX_BODY_BYTES
    assert post(client, route, padded).status_code == 202


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b"{not json", Reason.INVALID_JSON, None),
        (b"[1, 2]", Reason.INVALID_JSON, None),
        (
            b'{"secret": "s", "action": "buy", "time": "2026-12-01T00:00:00Z", "position": NaN}',
            Reason.INVALID_JSON,
            None,
        ),
        (None, Reason.INVALID_PAYLOAD, "colour"),
        (None, Reason.INVALID_PAYLOAD, "price"),
        (None, Reason.INVALID_PAYLOAD, "position"),
        (None, Reason.INVALID_PAYLOAD, "market_position"),
    ],
    ids=["broken", "not-an-object", "nan", "unknown-field", "placeholder", "wrong-type", "market-position"],
)
def test_malformed_payloads_are_400_naming_the_field_and_queue_nothing(client, make_route, body, reason, field):
    route = make_route()
    if body is None:
        extra = {
            "colour": {"colour": "red"},
            "price": {"price": "{{close}}"},
            "position": {"position": [1]},
            "market_position": {"position": "1", "market_position": "short"},
        }[field]
        body = json.dumps(payload(**extra)).encode()
    response = post(client, route, body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == reason
    if field:
        assert field in answer["detail"]
    alert = Alert.objects.get()
    assert alert.status == Alert.Status.REJECTED and alert.reject_reason == reason
    assert Decision.objects.get().reason == reason
    assert queued() == 0


def test_a_wrong_secret_is_401_and_neither_secret_is_stored(client, make_route):
    route = make_route()
    response = post(client, route, payload("wrong-secret-123", position="0.1"))
    assert response.status_code == 401
    assert response.json()["error"] == Reason.INVALID_SECRET
    alert = Alert.objects.get()
    assert alert.decision.reason == Reason.INVALID_SECRET
    stored = json.dumps(alert.body) + alert.raw_excerpt
    assert "wrong-secret-123" not in stored and CANARY_ROUTE_SECRET not in stored
    assert queued() == 0


def test_an_unparsable_body_keeps_an_excerpt_without_the_secret(client, make_route):
    route = make_route()
    post(client, route, f'{{"action": "buy", "secret": "{CANARY_ROUTE_SECRET}", oops'.encode())
    alert = Alert.objects.get()
    assert alert.raw_excerpt.startswith('{"action": "buy", ')
    assert CANARY_ROUTE_SECRET not in alert.raw_excerpt


def test_tradingview_resends_collapse_into_one_alert(client, make_route):
    route = make_route()
    body = payload(position="0.1", fired=datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    answers = [post(client, route, body) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 200, 200, 200]
    first = answers[0].json()["alert"]
    assert all(a.json()["alert"] == first for a in answers)
    assert answers[1].json()["status"] == "duplicate"
    assert Alert.objects.count() == 1
    assert Alert.objects.get().duplicates == 3
    assert queued() == 1


def test_equal_numbers_written_differently_are_the_same_alert(client, make_route):
    route = make_route()
    fired = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert post(client, route, payload(position=1, fired=fired)).status_code == 202
    assert post(client, route, payload(position="1.00", fired=fired)).status_code == 200


def test_a_flood_of_rejections_is_capped_per_route(client, make_route):
    route = make_route()
    codes = [post(client, route, b"garbage").status_code for _ in range(intake.REJECTIONS_PER_MINUTE + 5)]
    assert codes[: intake.REJECTIONS_PER_MINUTE] == [400] * intake.REJECTIONS_PER_MINUTE
    assert set(codes[intake.REJECTIONS_PER_MINUTE :]) == {429}
    # The budget's worth of rejections, one marker saying the rest were dropped, and nothing more.
    assert Alert.objects.count() == intake.REJECTIONS_PER_MINUTE + 1
    marker = Alert.objects.order_by("-pk").first()
    assert marker.reject_reason == Reason.RATE_LIMITED
    assert marker.decision.reason == Reason.RATE_LIMITED
    # A valid alert still gets through: the cap is on stored rejections, not on the route.
    assert post(client, route, payload(position="0.1")).status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        '{"\\u0073ecret": "%s", "action": "buy"',  # the key spelled with an escape
        '{"scret": "%s", "action": "buy", oops',  # a typo'd key carrying the real secret
        '{"SECRET": "%s" ,,',
        '{"action": "buy", "x": "%s',  # cut mid-string
        '{"comment": "' + "y" * 280 + '", "s": "%s"}}',  # the secret straddles the excerpt's end
    ],
    ids=["escaped-key", "typo-key", "upper-case", "unterminated", "straddling"],
)
def test_the_excerpt_of_an_unparsable_body_never_holds_the_secret(client, make_route, body):
    route = make_route()
    response = post(client, route, (body % CANARY_ROUTE_SECRET).encode())
    assert response.status_code == 400
    alert = Alert.objects.get()
    for piece in (CANARY_ROUTE_SECRET, CANARY_ROUTE_SECRET[:8], CANARY_ROUTE_SECRET[-8:]):
        assert piece not in alert.raw_excerpt
        assert piece not in alert.reject_detail


def queued() -> int:
    """Alerts waiting for the engine: the alert table is the queue (routing/engine.py)."""
    return Alert.objects.filter(status=Alert.Status.QUEUED).count()
