"""Property-based check of the one redaction rule (routing/redaction.py) against the independent checker of the
tests (tests/routing/secret_checks.py): whatever the text and however the secret hides in it, what `scrub` leaves
holds no near copy; text without one comes back unchanged."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.redaction import SecretGuard
from tests.hostile.conftest import examples
from tests.hostile.test_webhook_properties import disguised
from tests.routing.secret_checks import near_copies

ALPHABET = string.ascii_letters + string.digits + "-_"
secrets_ = st.text(alphabet=ALPHABET, min_size=16, max_size=43)
filler = st.text(max_size=60)


@settings(max_examples=examples(400, 20000), deadline=None)
@given(data=st.data(), secret=secrets_)
def test_scrub_leaves_no_near_copy(data, secret):
    pieces = data.draw(st.lists(st.one_of(filler, disguised(secret)), min_size=1, max_size=6))
    text = "".join(pieces)
    cleaned = SecretGuard(secret).scrub(text)
    assert not near_copies(secret, cleaned), (text, cleaned)


@settings(max_examples=examples(300, 20000), deadline=None)
@given(secret=secrets_, text=filler)
def test_text_without_a_near_copy_is_left_alone(secret, text):
    if not near_copies(secret, text):
        assert SecretGuard(secret).scrub(text) == text
