"""Fault switches, each kind over real HTTP: what the client sees, and whether the order was applied."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import requests
from fake_testkit import Client

from exchanges.fake.credentials import FAKE_KEY
from exchanges.fake.server import FakeKraken

ORDER = {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.01"}


@pytest.fixture
def client(fake_kraken: FakeKraken) -> Client:
    return Client(fake_kraken.url, timeout=3.0)


def position(fake: FakeKraken) -> Decimal:
    return fake.position(FAKE_KEY, "PF_XBTUSD")


def send(client: Client, cid: str, **kwargs: object) -> requests.Response:
    return client.request("POST", "/derivatives/api/v3/sendorder", {**ORDER, "cliOrdId": cid}, **kwargs)  # type: ignore[arg-type]


def test_latency_delays_then_answers_normally(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("accounts", "latency", seconds=0.3)
    started = time.monotonic()
    assert client.v3("GET", "accounts")["result"] == "success"
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.v3("GET", "accounts")
    assert time.monotonic() - started < 0.3  # count=1: only the next call


@pytest.mark.parametrize(("status", "body"), [(502, "html"), (503, "html"), (500, "json"), (504, "empty")])
def test_http_5xx_applies_nothing(fake_kraken: FakeKraken, client: Client, status: int, body: str) -> None:
    fake_kraken.add_fault("sendorder", "http_5xx", status=status, body=body)
    response = send(client, "5xx")
    assert response.status_code == status
    if body == "html":
        assert response.headers["Content-Type"].startswith("text/html") and b"nginx" in response.content
    elif body == "json":
        assert response.json() == {
            "result": "error",
            "serverTime": response.json()["serverTime"],
            "error": "Server Error",
        }
    assert position(fake_kraken) == 0
    assert json.loads(send(client, "5xx").content)["sendStatus"]["status"] == "placed"  # the retry lands


def test_a_fault_counts_down_and_calls_count_faulted_requests(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("sendorder", "http_5xx", count=2)
    assert [send(client, f"n{i}").status_code for i in range(3)] == [502, 502, 200]
    assert fake_kraken.calls("sendorder") == 3
    assert fake_kraken.calls("/derivatives/api/v3/sendorder") == 3  # by path too
    assert position(fake_kraken) == Decimal("0.01")


def test_timeout_before_holds_the_connection_then_closes_it_with_nothing_applied(
    fake_kraken: FakeKraken, client: Client
) -> None:
    fake_kraken.add_fault("sendorder", "timeout_before", count=2, seconds=0.4)
    with pytest.raises(requests.exceptions.ReadTimeout):
        send(client, "tb", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):  # closed without an answer
        send(client, "tb", timeout=2.0)
    assert time.monotonic() - started >= 0.4
    assert position(fake_kraken) == 0
    assert client.v3("POST", "orders/status", {"cliOrdIds": "tb"})["orders"] == []


def test_accept_then_drop_applies_the_order_and_loses_the_reply(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("sendorder", "accept_then_drop", seconds=0.4)
    with pytest.raises(requests.exceptions.ReadTimeout):
        send(client, "atd", timeout=0.2)
    assert position(fake_kraken) == Decimal("0.01")
    (found,) = client.v3("POST", "orders/status", {"cliOrdIds": "atd"})["orders"]  # the reconciliation path
    assert found["status"] == "FULLY_EXECUTED"
    again = json.loads(send(client, "atd").content)["sendStatus"]
    assert again["status"] == "clientOrderIdAlreadyExist"  # a blind resend is refused: "it landed"


def test_rate_limit_fault_on_derivatives_and_history(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("sendorder", "rate_limit")
    body = json.loads(send(client, "rl").content)
    assert body["result"] == "error" and body["error"] == "apiLimitExceeded"
    fake_kraken.add_fault("account-log", "rate_limit", reset=7)
    response = client.request("GET", "/api/history/v3/account-log")
    assert response.status_code == 429 and response.headers["rate-limit-reset"] == "7"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert position(fake_kraken) == 0


def test_reject_forces_the_given_status_verbatim_and_applies_nothing(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("sendorder", "reject", status="wouldCauseLiquidation")
    status = json.loads(send(client, "rej").content)["sendStatus"]
    assert status["status"] == "wouldCauseLiquidation" and status["cliOrdId"] == "rej"
    assert position(fake_kraken) == 0
    fake_kraken.add_fault("editorder", "reject", status="invalidPrice")
    edit = client.v3("POST", "editorder", {"orderId": "x", "limitPrice": "1"})["editStatus"]
    assert edit["status"] == "invalidPrice"
    with pytest.raises(ValueError, match="reject"):
        fake_kraken.add_fault("openpositions", "reject")


@pytest.mark.parametrize("apply", [True, False])
def test_malformed_body_with_or_without_applying_the_order(
    fake_kraken: FakeKraken, client: Client, apply: bool
) -> None:
    fake_kraken.add_fault("sendorder", "malformed", apply=apply)
    response = send(client, "mal")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert position(fake_kraken) == (Decimal("0.01") if apply else 0)


@pytest.mark.parametrize("style", ["html", "garbage", "empty"])
def test_malformed_body_styles(fake_kraken: FakeKraken, client: Client, style: str) -> None:
    fake_kraken.add_fault("openpositions", "malformed", body=style)
    response = client.request("GET", "/derivatives/api/v3/openpositions")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_unavailable(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("sendorder", "unavailable")
    body = json.loads(send(client, "un").content)
    assert body == {"result": "error", "serverTime": body["serverTime"], "error": "Unavailable"}
    assert position(fake_kraken) == 0


def test_drop_openpositions_key(fake_kraken: FakeKraken, client: Client) -> None:
    send(client, "pos")
    fake_kraken.add_fault("openpositions", "drop_openpositions_key")
    body = client.v3("GET", "openpositions")
    assert body["result"] == "success" and "openPositions" not in body  # pitfall 9: not "flat"
    assert len(client.v3("GET", "openpositions")["openPositions"]) == 1


def test_a_star_fault_hits_whatever_comes_next(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("*", "unavailable")
    assert client.v3("GET", "tickers")["error"] == "Unavailable"
    assert client.v3("GET", "tickers")["result"] == "success"


def test_a_post_authentication_fault_waits_for_a_properly_signed_request(fake_kraken: FakeKraken) -> None:
    fake_kraken.add_fault("sendorder", "reject", status="marketSuspended")
    unsigned = requests.post(fake_kraken.url + "/derivatives/api/v3/sendorder", data=ORDER, timeout=5).json()
    assert unsigned["error"] == "authenticationError"
    assert len(fake_kraken.pending_faults()) == 1
    status = json.loads(send(Client(fake_kraken.url), "later").content)["sendStatus"]
    assert status["status"] == "marketSuspended" and fake_kraken.pending_faults() == []


def test_clear_faults_and_validation(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("sendorder", "http_5xx", count=5)
    fake_kraken.clear_faults()
    assert send(client, "ok").status_code == 200
    for bad in (
        lambda: fake_kraken.add_fault("sendorder", "explode"),
        lambda: fake_kraken.add_fault("nosuchendpoint", "latency"),
        lambda: fake_kraken.add_fault("sendorder", "latency", count=0),
        lambda: fake_kraken.add_fault("sendorder", "latency", sconds=1),
    ):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.slow
def test_the_default_holds_are_two_seconds(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.add_fault("sendorder", "accept_then_drop")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        send(client, "slow", timeout=5.0)
    assert 1.9 <= time.monotonic() - started < 4
