"""Property-based attack on the webhook through Django's full request stack (middleware, DRF view, intake, the
database): whatever arrives - bytes, near-valid payloads, payloads carrying the route secret in disguise, odd
content types, impossible tokens - the answer is a 2xx/4xx with a JSON body, never a 5xx, and no near copy of the
route secret is in the answer or in any stored row."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import Alert, Decision
from routing.models import Route
from routing.payload import FIELDS
from tests.hostile.conftest import examples
from tests.routing.secret_checks import near_copies

pytestmark = pytest.mark.django_db

SECRET = "Zk4mQ9xW2pL7nR3vB8cT1yH6"
ALLOWED = {200, 202, 400, 401, 404, 411, 413, 429}
SETTINGS = settings(
    max_examples=examples(150, 5000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def disguised(secret: str) -> st.SearchStrategy[str]:
    """The secret, or a fragment of it (>= 8 characters), in disguise."""
    fragment = st.integers(0, len(secret) - 8).flatmap(
        lambda i: st.integers(i + 8, len(secret)).map(lambda j: secret[i:j])
    )
    return st.one_of(st.just(secret), fragment).flatmap(
        lambda s: st.sampled_from(
            [
                s,
                s.upper(),
                " ".join(s),
                "".join(f"\\u{ord(c):04x}" for c in s),
                "".join(f"%{ord(c):02x}" for c in s),
                "\u200b".join(s),
                f"xx{s}yy",
            ]
        )
    )


scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40), disguised(SECRET)
)
json_value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
near_valid = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["buy", "sell", "close", "Buy", "hold"]),
        "time": st.sampled_from(["2026-12-01T00:00:00Z", "yesterday", "{{timenow}}"]),
    },
    optional={
        "secret": st.one_of(st.just(SECRET), disguised(SECRET), st.text(max_size=20)),
        **{
            name: st.one_of(json_value, disguised(SECRET))
            for name in FIELDS
            if name not in ("secret", "action", "time")
        },
    },
).flatmap(
    lambda d: st.dictionaries(
        st.one_of(st.sampled_from(FIELDS), disguised(SECRET), st.text(max_size=10)), json_value, max_size=2
    ).map(lambda extra: {**d, **extra})
)


def _encode(value: object) -> bytes:
    return json.dumps(value, default=str).encode()


bodies = st.one_of(
    st.binary(max_size=600),
    near_valid.map(_encode),
    near_valid.map(lambda d: _encode(d)[: len(_encode(d)) // 2]),  # cut short
    near_valid.map(lambda d: _encode(d).decode().replace('"', "'").encode()),
    near_valid.map(lambda d: _encode(d).decode().encode("utf-16")),
    st.text(max_size=300).map(str.encode),
)
content_types = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "text/plain; charset=utf-16",
        "application/json\x00",
    ]
)


def _reset() -> None:
    Decision.objects.all().delete()
    Alert.objects.all().delete()


def test_the_webhook_never_fails_and_never_leaks(client, make_route):
    route = make_route()
    route.set_secret(SECRET)
    route.save()

    @SETTINGS
    @given(body=bodies, content_type=content_types)
    def attack(body: bytes, content_type: str) -> None:
        _reset()
        response = client.generic("POST", route.webhook_path, data=body, content_type=content_type)
        assert response.status_code in ALLOWED, (response.status_code, response.content)
        answer = response.json()
        assert ("error" in answer) != (response.status_code in (200, 202))
        stored = json.dumps(
            list(Alert.objects.values("body", "raw_excerpt", "reject_detail", "intent", "content_type")), default=str
        )
        stored += json.dumps(list(Decision.objects.values("message")))
        assert not near_copies(SECRET, response.content.decode()), response.content
        assert not near_copies(SECRET, stored), stored

    attack()


def test_any_token_is_404_or_a_route(client, make_route):
    route = make_route()

    @SETTINGS
    @given(token=st.text(min_size=1, max_size=80).filter(lambda t: "/" not in t and "?" not in t and "#" not in t))
    def attack(token: str) -> None:
        response = client.post("/hooks/" + token, data=b"{}", content_type="application/json")
        expected = {400} if token == route.token else {404}
        assert response.status_code in expected, (token, response.status_code)

    attack()
    assert Route.objects.count() == 1
