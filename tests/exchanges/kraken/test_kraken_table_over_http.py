"""Every word in the table, sent by a (mocked) Kraken over HTTP, through the adapter's real request path."""

from __future__ import annotations

from decimal import Decimal

import pytest
import responses
from kraken_testkit import V3, assert_no_secret

from exchanges.base import OrderRequest, OrderType, Side
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected, RateLimited, Unavailable
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.errors import TABLE, ClientOrderIdAlreadyExists, Kind, Source, to_exception

REQUEST = OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.001"), OrderType.MARKET, "or-table")


def words(source: Source) -> list[str]:
    return sorted(w for (s, w) in TABLE if s is source)


def expected(kind: Kind, word: str, *, order_call: bool) -> type[ExchangeError]:
    return type(to_exception(kind, word, order_call=order_call))


@pytest.mark.parametrize("word", words(Source.SEND_STATUS))
def test_send_status_word(kraken: KrakenFutures, rsps: responses.RequestsMock, word: str) -> None:
    status = {"status": word, "receivedTime": "2024-05-01T10:00:00.000Z", "orderEvents": []}
    if TABLE[(Source.SEND_STATUS, word)] is Kind.ACCEPTED:
        status["order_id"] = "oid-1"
    rsps.post(f"{V3}/sendorder", json={"result": "success", "sendStatus": status})
    kind = TABLE[(Source.SEND_STATUS, word)]
    if kind is Kind.ACCEPTED:
        ack = kraken.place_order(REQUEST)
        assert ack.status == word and ack.exchange_order_id == "oid-1"
        return
    with pytest.raises(ExchangeError) as caught:
        kraken.place_order(REQUEST)
    if kind is Kind.ALREADY_EXISTS:
        assert isinstance(caught.value, ClientOrderIdAlreadyExists)
        assert not isinstance(caught.value, OrderRejected)
    else:
        assert type(caught.value) is OrderRejected
        assert caught.value.status == word


@pytest.mark.parametrize("word", words(Source.CANCEL_STATUS))
def test_cancel_status_word(kraken: KrakenFutures, rsps: responses.RequestsMock, word: str) -> None:
    rsps.post(f"{V3}/cancelorder", json={"result": "success", "cancelStatus": {"status": word}})
    if TABLE[(Source.CANCEL_STATUS, word)] is Kind.REJECTED:
        with pytest.raises(OrderRejected) as caught:
            kraken.cancel_order(client_order_id="or-table")
        assert caught.value.status == word
        return
    result = kraken.cancel_order(client_order_id="or-table")
    assert result.status == word
    assert result.cancelled is (TABLE[(Source.CANCEL_STATUS, word)] is Kind.ACCEPTED)


@pytest.mark.parametrize("word", words(Source.ERROR))
@pytest.mark.parametrize("order_call", [True, False], ids=["order", "read"])
def test_classic_error_word(kraken: KrakenFutures, rsps: responses.RequestsMock, word: str, order_call: bool) -> None:
    body = {"result": "error", "error": word, "serverTime": "2024-05-01T10:00:00.000Z"}
    kind = TABLE[(Source.ERROR, word)]
    if order_call:
        rsps.post(f"{V3}/sendorder", json=body)
    else:
        rsps.get(f"{V3}/openpositions", json=body)
    with pytest.raises(ExchangeError) as caught:
        kraken.place_order(REQUEST) if order_call else kraken.positions()
    assert type(caught.value) is expected(kind, word, order_call=order_call)
    assert caught.value.venue_code == word
    assert_no_secret(caught.value, rsps)


@pytest.mark.parametrize("word", words(Source.STRUCTURED))
@pytest.mark.parametrize("order_call", [True, False], ids=["order", "read"])
def test_structured_word(kraken: KrakenFutures, rsps: responses.RequestsMock, word: str, order_call: bool) -> None:
    body = {"status": word, "result": "error", "errors": [{"code": 1, "message": f"detail of {word}"}]}
    http = {"BAD_REQUEST": 400, "TOO_MANY_REQUESTS": 200, "UNAUTHORIZED": 200, "INTERNAL_SERVER_ERROR": 200}[word]
    if order_call:
        rsps.post(f"{V3}/sendorder", json=body, status=http)
    else:
        rsps.get(f"{V3}/openpositions", json=body, status=http)
    with pytest.raises(ExchangeError) as caught:
        kraken.place_order(REQUEST) if order_call else kraken.positions()
    assert type(caught.value) is expected(TABLE[(Source.STRUCTURED, word)], word, order_call=order_call)
    if isinstance(caught.value, OrderRejected):
        assert caught.value.status == f"detail of {word}"


@pytest.mark.parametrize("code", words(Source.HTTP))
@pytest.mark.parametrize("order_call", [True, False], ids=["order", "read"])
def test_http_code_with_a_json_body(
    kraken: KrakenFutures, rsps: responses.RequestsMock, code: str, order_call: bool
) -> None:
    body = {"timestamp": "2024-05-01T10:00:00.000+00:00", "path": "/x", "status": int(code), "error": "whatever"}
    if order_call:
        rsps.post(f"{V3}/sendorder", json=body, status=int(code))
    else:
        rsps.get(f"{V3}/openpositions", json=body, status=int(code))
    with pytest.raises(ExchangeError) as caught:
        kraken.place_order(REQUEST) if order_call else kraken.positions()
    assert type(caught.value) is expected(TABLE[(Source.HTTP, code)], code, order_call=order_call)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after >= 1.0
    if order_call and int(code) >= 500:
        assert isinstance(caught.value, AmbiguousOutcome)
    if not order_call:
        assert not isinstance(caught.value, OrderRejected)


def test_unknown_classic_error_is_ambiguous_on_orders_and_unavailable_on_reads(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{V3}/sendorder", json={"result": "error", "error": "neverSeenBefore"})
    rsps.get(f"{V3}/openpositions", json={"result": "error", "error": "neverSeenBefore"})
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(REQUEST)
    with pytest.raises(Unavailable):
        kraken.positions()
