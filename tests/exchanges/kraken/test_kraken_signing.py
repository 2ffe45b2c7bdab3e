"""Authent and nonces against the reference's §12.1 vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

import pytest

from exchanges.kraken.client import encode_params
from exchanges.kraken.signing import (
    InvalidSecret,
    NonceSource,
    authent,
    decode_secret,
    nonce_source_for,
    signed_path,
)

TV1_SECRET = "rttp4AzwRfYEdQ7R7X8Z/04Y4TZPa97pqCypi3xXxAqftygftnI6H9yGV+OcUOOJeFtZkr8mVwbAndU3Kz4Q+eG"
TV1_POST = "symbol=fi_xbtusd_180615"
TV1_NONCE = "1415957147987"
TV1_AUTHENT = "DqUyz8Wh/72af7dimSXHw91IFxrAriTgVodyg2s67PU2mVStwLDQak+uIoCtfb43XONq0xVAp+vm5dqnhFAB1Q=="
TV1_NEGATIVE = "GBSnehkirWxlij3ktQSwtj1jaxSgrhZHjnyxhiT2fWOJic/coD1/3n8CetypR8kPy1nnIiSSrb1MpgAg3xYW0w=="

TV2_SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="
TV2_POST = "orderType=lmt&symbol=PI_XBTUSD"
TV2_NONCE = "1616492376594"
TV2_AUTHENT = "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA=="
TV2_NEGATIVE = "N5lVhHQgo+qDxBxIwXgpVBph/Cz1XsnGPbzLIRPC8mI79G/Wo8QpeO9IucEHl5Aur+67bSZfzmPePeIDE1jx6Q=="


def naive_sign(secret: str, post_data: str, nonce: str, path: str) -> str:
    """A signer that forgets to strip /derivatives: what the NEGATIVE vectors were computed with."""
    key = base64.b64decode(secret + "=" * (-len(secret) % 4))
    digest = hashlib.sha256((post_data + nonce + path).encode()).digest()
    return base64.b64encode(hmac.new(key, digest, hashlib.sha512).digest()).decode()


def test_tv1_doc_example_with_87_char_secret_is_padded() -> None:
    assert len(TV1_SECRET) == 87
    assert authent(TV1_SECRET, TV1_POST, TV1_NONCE, "/api/v3/orderbook") == TV1_AUTHENT


def test_tv1_negative_prefix_not_stripped_is_a_different_signature() -> None:
    assert naive_sign(TV1_SECRET, TV1_POST, TV1_NONCE, "/derivatives/api/v3/orderbook") == TV1_NEGATIVE
    # We strip the prefix, so the full path signs to the good value, never the negative one.
    signed = authent(TV1_SECRET, TV1_POST, TV1_NONCE, "/derivatives/api/v3/orderbook")
    assert signed == TV1_AUTHENT
    assert signed != TV1_NEGATIVE


def test_tv2_derivatives_path_is_stripped() -> None:
    assert authent(TV2_SECRET, TV2_POST, TV2_NONCE, "/derivatives/api/v3/sendorder") == TV2_AUTHENT
    assert authent(TV2_SECRET, TV2_POST, TV2_NONCE, "/api/v3/sendorder") == TV2_AUTHENT


def test_tv2_negative_prefix_not_stripped() -> None:
    assert naive_sign(TV2_SECRET, TV2_POST, TV2_NONCE, "/derivatives/api/v3/sendorder") == TV2_NEGATIVE
    assert authent(TV2_SECRET, TV2_POST, TV2_NONCE, "/derivatives/api/v3/sendorder") != TV2_NEGATIVE


def test_secret_accepted_with_or_without_padding() -> None:
    unpadded = TV2_SECRET.rstrip("=")
    assert authent(unpadded, TV2_POST, TV2_NONCE, "/api/v3/sendorder") == TV2_AUTHENT
    assert decode_secret(TV1_SECRET + "=") == decode_secret(TV1_SECRET)


def test_invalid_secret_is_refused_without_echoing_it() -> None:
    bad = "not base64 at all!!"
    with pytest.raises(InvalidSecret) as caught:
        decode_secret(bad)
    assert bad not in str(caught.value)


@pytest.mark.parametrize(
    ("path", "signed"),
    [
        ("/derivatives/api/v3/sendorder", "/api/v3/sendorder"),
        ("/api/history/v3/account-log", "/api/history/v3/account-log"),
        ("/api/history/v2/orders", "/api/history/v2/orders"),
        ("/api/auth/v1/api-keys/v3/check", "/api/auth/v1/api-keys/v3/check"),
        ("/derivativesfoo/api", "/derivativesfoo/api"),  # only a whole segment is a prefix
    ],
)
def test_signed_path(path: str, signed: str) -> None:
    assert signed_path(path) == signed


def test_history_path_is_signed_in_full() -> None:
    path = "/api/history/v3/account-log"
    post = "since=1700000000000&sort=asc&count=1000"
    assert authent(TV2_SECRET, post, TV2_NONCE, path) == naive_sign(TV2_SECRET, post, TV2_NONCE, path)
    # ...and a client that "helpfully" shortened it would produce something else (CCXT PR #17424).
    assert authent(TV2_SECRET, post, TV2_NONCE, path) != naive_sign(TV2_SECRET, post, TV2_NONCE, "/v3/account-log")


def test_url_encoded_values_are_signed_in_encoded_form() -> None:
    post = encode_params([("cliOrdId", "123+/="), ("note", "hello world")])
    assert post == "cliOrdId=123%2B%2F%3D&note=hello+world"
    encoded = authent(TV2_SECRET, post, TV2_NONCE, "/api/v3/sendorder")
    raw = authent(TV2_SECRET, "cliOrdId=123+/=&note=hello world", TV2_NONCE, "/api/v3/sendorder")
    assert encoded == naive_sign(TV2_SECRET, post, TV2_NONCE, "/api/v3/sendorder")
    assert encoded != raw


def test_empty_nonce_is_allowed() -> None:
    assert authent(TV2_SECRET, TV2_POST, "", "/api/v3/sendorder") == naive_sign(
        TV2_SECRET, TV2_POST, "", "/api/v3/sendorder"
    )


def test_nonce_strictly_increases_even_with_a_frozen_or_backward_clock() -> None:
    ticks = iter([5_000, 5_000, 5_000, 4_000, 9_000, 1])
    source = NonceSource(clock_ns=lambda: next(ticks))
    values = [int(source.next()) for _ in range(6)]
    assert values == [5_000, 5_001, 5_002, 5_003, 9_000, 9_001]


def test_nonce_defaults_to_nanoseconds() -> None:
    # ns, not ms: 19 digits today, so two processes on one key rarely collide.
    assert len(NonceSource().next()) >= 19


def test_nonce_is_thread_safe() -> None:
    source = NonceSource(clock_ns=lambda: 42)  # worst case: every thread sees the same time
    results: list[list[int]] = [[] for _ in range(8)]

    def draw(bucket: list[int]) -> None:
        for _ in range(500):
            bucket.append(int(source.next()))

    threads = [threading.Thread(target=draw, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [n for bucket in results for n in bucket]
    assert len(set(everything)) == len(everything) == 4000
    assert all(bucket == sorted(bucket) for bucket in results)


def test_one_nonce_source_per_key_in_the_process() -> None:
    assert nonce_source_for("key-a") is nonce_source_for("key-a")
    assert nonce_source_for("key-a") is not nonce_source_for("key-b")
