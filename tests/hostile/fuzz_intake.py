"""Coverage-guided fuzzing (atheris, libFuzzer) of the webhook's pure parts: the payload parser must only ever
return a ParsedAlert or raise PayloadError, and the redaction rule must never fail nor leave a near copy of the
secret behind. Run directly for as long as you like:

    .venv/bin/python tests/hostile/fuzz_intake.py -max_total_time=600

`make test` runs it briefly (tests/hostile/test_fuzz.py).
"""

from __future__ import annotations

import contextlib
import os
import sys

import atheris

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderrail.settings")
os.environ.setdefault("ORDERRAIL_TESTING", "1")

import django

django.setup()

with atheris.instrument_imports(include=["routing.payload", "routing.redaction"]):
    from routing.payload import ParsedAlert, PayloadError, parse_alert
    from routing.redaction import SecretGuard

from tests.routing.secret_checks import near_copies  # noqa: E402


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(PayloadError):
        assert isinstance(parse_alert(data), ParsedAlert)
    provider = atheris.FuzzedDataProvider(data)
    secret = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(8, 48))
    text = provider.ConsumeUnicodeNoSurrogates(400)
    if len(secret.strip()) < 8:
        return
    guard = SecretGuard(secret)
    cleaned = guard.scrub(text)
    # The independent checker knows only plain secrets (it lower-cases and strips whitespace, no Unicode folding).
    if secret.isascii() and secret.isprintable() and " " not in secret and "\\" not in secret and "%" not in secret:
        assert not near_copies(secret, cleaned), (secret, text, cleaned)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
