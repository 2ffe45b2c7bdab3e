"""Schema-driven tests of the public endpoint: schemathesis generates requests from the webhook's OpenAPI
description (routing/openapi.json) - valid payloads and every way of breaking them - and sends them to a real
gunicorn (the repository's gunicorn.conf.py) on the test database. Checks: never a 5xx, every status and body as
documented, invalid data refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests import stack
from tests.hostile.conftest import examples

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SPEC = Path(__file__).resolve().parents[2] / "routing" / "openapi.json"
SECRET = "Xq7mN2vB9kL4pR8tW1zC6hJ3"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _schema(token: str, secret: str) -> schemathesis.schemas.BaseSchema:
    spec = json.loads(SPEC.read_text())
    # Most requests name the real route (the body is what is under attack); the secret is the route's, so valid
    # payloads get as far as they can.
    spec["paths"]["/hooks/{token}"]["post"]["parameters"][0]["schema"] = {"type": "string", "enum": [token]}
    spec["components"]["schemas"]["AlertV1"]["properties"]["secret"] = {"type": "string", "enum": [secret]}
    return schemathesis.openapi.from_dict(spec)


def test_the_description_is_a_valid_openapi_document():
    schema = schemathesis.openapi.from_dict(json.loads(SPEC.read_text()))
    operations = [op.ok() for op in schema.get_all_operations()]
    assert [f"{op.method.upper()} {op.path}" for op in operations] == ["POST /hooks/{token}"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_webhook_conforms_to_its_description(make_route, tmp_path, mode):
    route = make_route()
    route.set_secret(SECRET)
    route.save()
    operation = _schema(route.token, SECRET)["/hooks/{token}"]["POST"]
    checks = [*CHECKS, negative_data_rejection] if mode == GenerationMode.NEGATIVE else CHECKS
    with stack.running() as procs:
        env = stack.stack_env(
            stack.database_url(), "http://127.0.0.1:9", GUNICORN_BIND=f"127.0.0.1:{stack.free_port()}"
        )
        procs.start("web", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], env, tmp_path / "web.log")
        base = "http://" + env["GUNICORN_BIND"]
        stack.wait_http(base + "/healthz")

        @settings(
            max_examples=examples(40, 2000),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def attack(case: schemathesis.Case) -> None:
            response = case.call(base_url=base, timeout=10)
            case.validate_response(response, checks=checks)

        attack()
