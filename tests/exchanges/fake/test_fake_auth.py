"""Kraken's authentication, as the fake enforces it: the documented vectors, then signed requests over HTTP."""

from __future__ import annotations

import time

import pytest
import requests
from fake_testkit import Client, authent

from exchanges.fake import auth
from exchanges.fake.credentials import FAKE_KEY, FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, FAKE_SECRET
from exchanges.fake.server import FakeKraken

# Reference §12.1.
TV1 = {
    "secret": "rttp4AzwRfYEdQ7R7X8Z/04Y4TZPa97pqCypi3xXxAqftygftnI6H9yGV+OcUOOJeFtZkr8mVwbAndU3Kz4Q+eG",
    "post_data": "symbol=fi_xbtusd_180615",
    "nonce": "1415957147987",
    "path": "/api/v3/orderbook",
    "authent": "DqUyz8Wh/72af7dimSXHw91IFxrAriTgVodyg2s67PU2mVStwLDQak+uIoCtfb43XONq0xVAp+vm5dqnhFAB1Q==",
    "unstripped": "GBSnehkirWxlij3ktQSwtj1jaxSgrhZHjnyxhiT2fWOJic/coD1/3n8CetypR8kPy1nnIiSSrb1MpgAg3xYW0w==",
}
TV2 = {
    "secret": "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ==",
    "post_data": "orderType=lmt&symbol=PI_XBTUSD",
    "nonce": "1616492376594",
    "path": "/derivatives/api/v3/sendorder",
    "authent": "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA==",
    "unstripped": "N5lVhHQgo+qDxBxIwXgpVBph/Cz1XsnGPbzLIRPC8mI79G/Wo8QpeO9IucEHl5Aur+67bSZfzmPePeIDE1jx6Q==",
}


@pytest.mark.parametrize("vector", [TV1, TV2], ids=["TV1-doc-example-87-char-secret", "TV2-pks-golden"])
def test_the_reference_vectors(vector: dict[str, str]) -> None:
    args = (vector["secret"], vector["post_data"], vector["nonce"])
    assert auth.authent(*args, vector["path"]) == vector["authent"]
    assert authent(*args, vector["path"]) == vector["authent"]  # the test client's independent signer agrees
    assert auth.signature_matches(*args, vector["path"], vector["authent"])
    # The reference's negatives: the same request signed over the path *with* /derivatives (pitfall 1).
    wrong = _raw_sign(*args, "/derivatives" + vector["path"].removeprefix("/derivatives"))
    assert wrong == vector["unstripped"]
    assert not auth.signature_matches(*args, vector["path"], wrong)


def _raw_sign(secret: str, post_data: str, nonce: str, path: str) -> str:
    """HMAC over the path exactly as given (no prefix stripping), to reproduce the reference's negatives."""
    import base64
    import hashlib
    import hmac

    key = base64.b64decode(secret + "=" * (-len(secret) % 4))
    digest = hashlib.sha256((post_data + nonce + path).encode()).digest()
    return base64.b64encode(hmac.new(key, digest, hashlib.sha512).digest()).decode()


def test_a_secret_that_is_not_base64_is_refused_when_the_account_is_added(fake_kraken: FakeKraken) -> None:
    with pytest.raises(ValueError, match="base64"):
        fake_kraken.add_account("another", "not base64 at all!")


@pytest.mark.parametrize("where", ["query", "body", "both"])
def test_a_signed_order_is_accepted_with_parameters_in_the_query_the_body_or_both(
    fake_kraken: FakeKraken, where: str
) -> None:
    client = Client(fake_kraken.url)
    params = {"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.001", "limitPrice": "50000"}
    if where == "both":
        # Query and body concatenated (CF and PKS sign query + body): half here, half there.
        response = client.request(
            "POST",
            "/derivatives/api/v3/sendorder",
            {"orderType": "lmt", "symbol": "PF_XBTUSD"},
            where="both",
            body="side=buy&size=0.001&limitPrice=50000",
        )
    else:
        response = client.request("POST", "/derivatives/api/v3/sendorder", params, where=where)
    body = response.json()
    assert response.status_code == 200 and body["result"] == "success", body
    assert body["sendStatus"]["status"] == "placed"
    assert fake_kraken.auth_failures == []


def test_a_get_is_signed_over_its_query_string(fake_kraken: FakeKraken) -> None:
    client = Client(fake_kraken.url)
    body = client.v3("GET", "fills", {"lastFillTime": "2030-01-01T00:00:00.000Z"})
    assert body["result"] == "success" and body["fills"] == []


@pytest.mark.parametrize(
    "mutate",
    [
        {"secret": "zRseLCAQ/0ZJIOvHinAMUiJnoyn+1P2amePsORuyEKXeVQbS/pk/a5b1ZxXqRCa8iaIuKLMUySTyr9QaIUgDPA=="},
        {"sign_path": "/derivatives/api/v3/accounts/x"},
        {"key": "no-such-key"},
    ],
    ids=["wrong-secret", "wrong-path", "unknown-key"],
)
def test_a_bad_signature_or_key_on_derivatives_is_an_http_200_authentication_error(
    fake_kraken: FakeKraken, mutate: dict[str, str]
) -> None:
    client = Client(fake_kraken.url, key=mutate.get("key", FAKE_KEY), secret=mutate.get("secret", FAKE_SECRET))
    response = client.request("GET", "/derivatives/api/v3/accounts", sign_path=mutate.get("sign_path"))
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == "error" and body["error"] == "authenticationError"
    assert body["serverTime"].endswith("Z")
    assert fake_kraken.auth_failures  # the fake says why, for whoever debugs a client


def test_signing_with_the_derivatives_prefix_fails_as_kraken_does(fake_kraken: FakeKraken) -> None:
    client = Client(fake_kraken.url)
    n = str(time.time_ns())
    headers = {
        "APIKey": FAKE_KEY,
        "Nonce": n,
        "Authent": _raw_sign(FAKE_SECRET, "", n, "/derivatives/api/v3/accounts"),  # pitfall 1
    }
    response = client.session.get(fake_kraken.url + "/derivatives/api/v3/accounts", headers=headers, timeout=5)
    assert response.json()["error"] == "authenticationError"


def test_headers_are_case_insensitive_and_the_nonce_is_optional(fake_kraken: FakeKraken) -> None:
    signature = authent(FAKE_SECRET, "", "", "/derivatives/api/v3/openpositions")
    headers = {"apikey": FAKE_KEY, "authent": signature}  # the auth spec's spelling, and no Nonce (CCXT)
    response = requests.get(fake_kraken.url + "/derivatives/api/v3/openpositions", headers=headers, timeout=5)
    assert response.json()["result"] == "success"


def test_history_and_auth_paths_are_signed_whole_and_refuse_with_401(fake_kraken: FakeKraken) -> None:
    client = Client(fake_kraken.url)
    assert client.history("account-log")["logs"]
    # Signing "/api/history/..." without "/api" style mistakes (CCXT PR #17424) -> 401 and Kraken's body.
    response = client.request("GET", "/api/history/v3/account-log", sign_path="/history/v3/account-log")
    assert response.status_code == 401
    assert response.json() == {"reason": "You are not authorized to access this endpoint.", "status": "unauthorized"}
    check = client.request("GET", "/api/auth/v1/api-keys/v3/check", sign_path="/api/v3/check")
    assert check.status_code == 401


def test_a_duplicate_nonce_is_refused(fake_kraken: FakeKraken) -> None:
    client = Client(fake_kraken.url)
    assert client.v3("GET", "accounts", nonce="1000")["result"] == "success"
    body = client.v3("GET", "accounts", nonce="1000")
    assert body == {"result": "error", "serverTime": body["serverTime"], "error": "nonceDuplicate"}


def test_a_nonce_below_the_settled_threshold_is_refused_but_brief_disorder_is_tolerated() -> None:
    with FakeKraken(accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET}], nonce_tolerance=0.2) as fake:
        client = Client(fake.url)
        assert client.v3("GET", "accounts", nonce="5000")["result"] == "success"
        assert client.v3("GET", "accounts", nonce="4999")["result"] == "success"  # out of order, within the window
        time.sleep(0.25)
        assert client.v3("GET", "accounts", nonce="4998")["error"] == "nonceBelowThreshold"
        assert client.v3("GET", "accounts", nonce="5001")["result"] == "success"
        # A smaller nonce style after a bigger one (ms after ns) fails the same way once the window has passed.
        assert client.v3("GET", "accounts", nonce="17000000")["result"] == "success"
        time.sleep(0.25)
        assert client.v3("GET", "accounts", nonce="16999999")["error"] == "nonceBelowThreshold"


def test_a_read_only_key_reads_but_cannot_trade(fake_kraken: FakeKraken) -> None:
    fake_kraken.add_account(FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, permissions="read_only")
    client = Client(fake_kraken.url, key=FAKE_READ_ONLY_KEY, secret=FAKE_READ_ONLY_SECRET)
    assert client.v3("GET", "accounts")["result"] == "success"
    assert client.history("account-log")["logs"]
    body = client.v3("POST", "sendorder", {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.001"})
    assert body["result"] == "error" and body["error"] == "insufficientPrivileges"
    assert fake_kraken.calls("sendorder") == 1 and fake_kraken.position(FAKE_READ_ONLY_KEY, "PF_XBTUSD") == 0
    check = client.json("GET", "/api/auth/v1/api-keys/v3/check")
    assert check["permissions"] == {"general": "READ_ONLY", "transfer": "NO_ACCESS"}


def test_a_key_without_access_is_refused_even_reads(fake_kraken: FakeKraken) -> None:
    fake_kraken.add_account(FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, permissions="none")
    client = Client(fake_kraken.url, key=FAKE_READ_ONLY_KEY, secret=FAKE_READ_ONLY_SECRET)
    assert client.v3("GET", "openpositions")["error"] == "insufficientPrivileges"
    assert client.request("GET", "/api/history/v3/executions").status_code == 401


def test_the_api_key_check(fake_kraken: FakeKraken) -> None:
    fake_kraken.add_account(FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, withdrawal=True)
    body = Client(fake_kraken.url, key=FAKE_READ_ONLY_KEY, secret=FAKE_READ_ONLY_SECRET).json(
        "GET", "/api/auth/v1/api-keys/v3/check"
    )
    assert body["apiKey"] == FAKE_READ_ONLY_KEY
    assert body["accountUid"] == fake_kraken.account_id(FAKE_READ_ONLY_KEY)
    assert body["permissions"] == {"general": "FULL_ACCESS", "transfer": "FULL_ACCESS"}
    assert set(body) == {"apiKey", "accountUid", "iiban", "createdAt", "permissions"}


def test_public_endpoints_need_no_key_private_ones_do(fake_kraken: FakeKraken) -> None:
    assert requests.get(fake_kraken.url + "/derivatives/api/v3/instruments", timeout=5).json()["result"] == "success"
    body = requests.get(fake_kraken.url + "/derivatives/api/v3/openpositions", timeout=5).json()
    assert body["result"] == "error" and body["error"] == "authenticationError"
    assert requests.get(fake_kraken.url + "/api/history/v3/account-log", timeout=5).status_code == 401


def test_the_signature_covers_the_encoded_form_of_special_characters(fake_kraken: FakeKraken) -> None:
    client = Client(fake_kraken.url)
    status = client.send(
        orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.001", limitPrice="1000", cliOrdId="a+b/c="
    )
    assert status["status"] == "placed" and status["cliOrdId"] == "a+b/c="
