"""The adapter against canned Kraken shapes (reference §12.2) and failure modes, via ``responses``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
import responses
from kraken_testkit import API_SECRET, BASE, HISTORY, V3, assert_no_secret, assert_signed, signed_data

from exchanges.base import (
    Exchange,
    Liquidity,
    OrderRequest,
    OrderState,
    OrderType,
    Permission,
    Side,
    TriggerSignal,
)
from exchanges.errors import (
    AmbiguousOutcome,
    AuthenticationFailed,
    OrderRejected,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.errors import ClientOrderIdAlreadyExists
from exchanges.kraken.ratelimit import KeyBudget, Pool

# --- canned responses, verbatim from the reference §12.2 ----------------------------------------------------

LIMIT_PLACED = json.loads(
    '{"result":"success","sendStatus":{"order_id":"179f9af8-e45e-469d-b3e9-2fd4675cb7d0","status":"placed","receivedTime":"2019-09-05T16:33:50.734Z","orderEvents":[{"type":"PLACE","order":{"orderId":"179f9af8-e45e-469d-b3e9-2fd4675cb7d0","type":"lmt","symbol":"PI_XBTUSD","side":"buy","quantity":10000,"filled":0,"limitPrice":9400,"reduceOnly":false,"timestamp":"2019-09-05T16:33:50.734Z","lastUpdateTimestamp":"2019-09-05T16:33:50.734Z"}}]},"serverTime":"2019-09-05T16:33:50.734Z"}'
)
PLACED_WITH_CLI_ORD_ID = json.loads(
    '{"result":"success","sendStatus":{"order_id":"f2af600b-5fe8-49be-8983-de874071563b","cliOrdId":"TgAF6QMAAQAAbl1bG4QQ","status":"placed","receivedTime":"2021-07-30T04:19:40.804Z","orderEvents":[{"order":{"orderId":"f2af600b-5fe8-49be-8983-de874071563b","cliOrdId":"TgAF6QMAAQAAbl1bG4QQ","type":"lmt","symbol":"pi_xbtusd","side":"buy","quantity":1,"filled":0,"limitPrice":40166,"reduceOnly":false,"timestamp":"2021-07-30T04:19:40.804Z","lastUpdateTimestamp":"2021-07-30T04:19:40.804Z"},"reducedQuantity":null,"type":"PLACE"}]},"serverTime":"2021-07-30T04:19:40.804Z"}'
)
IOC_REJECTED = json.loads(
    '{"result":"success","sendStatus":{"order_id":"614a5298-0071-450f-83c6-0617ce8c6bc4","status":"iocWouldNotExecute","receivedTime":"2019-09-05T16:32:54.076Z","orderEvents":[{"type":"REJECT","uid":"614a5298-0071-450f-83c6-0617ce8c6bc4","reason":"IOC_WOULD_NOT_EXECUTE","order":{"orderId":"614a5298-0071-450f-83c6-0617ce8c6bc4","type":"lmt","symbol":"PI_XBTUSD","side":"buy","quantity":10000,"filled":0,"limitPrice":9400,"reduceOnly":true,"timestamp":"2019-09-05T16:32:54.076Z","lastUpdateTimestamp":"2019-09-05T16:32:54.076Z"}}]},"serverTime":"2019-09-05T16:32:54.077Z"}'
)
STOP_PLACED = json.loads(
    '{"result":"success","sendStatus":{"order_id":"e58ed100-1fb8-4e6c-a5ea-1cf85b0f0654","status":"placed","receivedTime":"2023-04-07T15:12:08.131Z","orderEvents":[{"orderTrigger":{"uid":"e58ed100-1fb8-4e6c-a5ea-1cf85b0f0654","clientId":null,"type":"lmt","symbol":"pi_ethusd","side":"buy","quantity":10,"limitPrice":1860.0,"triggerPrice":1880.4,"triggerSide":"trigger_below","triggerSignal":"last_price","reduceOnly":false,"timestamp":"2023-04-07T15:12:08.131Z","lastUpdateTimestamp":"2023-04-07T15:12:08.131Z","startTime":null},"type":"PLACE"}]},"serverTime":"2023-04-07T15:12:08.131Z"}'
)
CANCELLED = json.loads(
    '{"result":"success","cancelStatus":{"status":"cancelled","order_id":"cb4e34f6-4eb3-4d4b-9724-4c3035b99d47","receivedTime":"2020-07-22T13:26:20.806Z","orderEvents":[{"type":"CANCEL","uid":"cb4e34f6-4eb3-4d4b-9724-4c3035b99d47","order":{"orderId":"cb4e34f6-4eb3-4d4b-9724-4c3035b99d47","cliOrdId":"1234568","type":"lmt","symbol":"PI_XBTUSD","side":"buy","quantity":5500,"filled":0,"limitPrice":8000,"reduceOnly":false,"timestamp":"2020-07-22T13:25:56.366Z","lastUpdateTimestamp":"2020-07-22T13:25:56.366Z"}}]},"serverTime":"2020-07-22T13:26:20.806Z"}'
)
CANCEL_NOT_FOUND = json.loads(
    '{"result":"success","cancelStatus":{"status":"notFound","receivedTime":"2023-04-04T17:18:11.628Z"},"serverTime":"2023-04-04T17:18:11.628Z"}'
)
BATCH = json.loads(
    '{"result":"success","batchStatus":[{"status":"placed","order_tag":"1","order_id":"022774bc-2c4a-4f26-9317-436c8d85746d","dateTimeReceived":"2019-09-05T16:41:35.173Z","orderEvents":[{"type":"PLACE","order":{"orderId":"022774bc-2c4a-4f26-9317-436c8d85746d","type":"lmt","symbol":"PI_XBTUSD","side":"buy","quantity":1000,"filled":0,"limitPrice":9400.0,"reduceOnly":false,"timestamp":"2019-09-05T16:41:35.173Z","lastUpdateTimestamp":"2019-09-05T16:41:35.173Z"}}]}],"serverTime":"2019-09-05T16:41:40.996Z"}'
)
INSTRUMENT_PF_XBTUSD = json.loads(
    '{"symbol":"PF_XBTUSD","pair":"XBT:USD","base":"XBT","quote":"USD","type":"flexible_futures","tickSize":1,"contractSize":1,"tradeable":true,"impactMidSize":1,"maxPositionSize":1000000,"openingDate":"2022-01-01T00:00:00.000Z","marginLevels":[{"numNonContractUnits":0,"initialMargin":0.02,"maintenanceMargin":0.01}],"fundingRateCoefficient":8,"maxRelativeFundingRate":0.001,"contractValueTradePrecision":4,"postOnly":false,"category":"Layer 1","tags":[],"tradfi":false,"mtf":false}'  # noqa: E501 (verbatim from the reference)
)
ERR_API_LIMIT = {"result": "error", "serverTime": "2016-02-25T09:45:53.818Z", "error": "apiLimitExceeded"}
ERR_AUTH = {"result": "error", "error": "authenticationError", "serverTime": "2024-11-15T10:06:57.631Z"}
ERR_UNAVAILABLE = {"result": "error", "error": "Unavailable", "serverTime": "2024-11-21T11:32:01.634Z"}
ERR_BAD_REQUEST = {
    "status": "BAD_REQUEST",
    "result": "error",
    "errors": [{"code": 11, "message": "Argument invalid: orderType"}],
    "serverTime": "2021-08-02T08:06:27.896Z",
}
ERR_INSUFFICIENT_MARGIN = {
    "status": "INTERNAL_SERVER_ERROR",
    "result": "error",
    "errors": [{"code": 92, "message": "INSUFFICIENT_MARGIN"}],
    "serverTime": "2023-11-09T11:53:04.370Z",
}
# A market order that filled at once: still "placed", the fill is in the EXECUTION event (pitfall 6).
MARKET_FILLED = {
    "result": "success",
    "sendStatus": {
        "order_id": "61ca5732-3478-42fe-8362-abbfd9465294",
        "cliOrdId": "or-42",
        "status": "placed",
        "receivedTime": "2024-05-01T10:00:00.123Z",
        "orderEvents": [
            {
                "type": "EXECUTION",
                "executionId": "e1f9ad46-1111-4b8f-bf2f-0a1a3f6e3e01",
                "price": 66596.0,
                "amount": "0.0005",
                "orderPriorEdit": None,
                "orderPriorExecution": {
                    "orderId": "61ca5732-3478-42fe-8362-abbfd9465294",
                    "cliOrdId": "or-42",
                    "type": "ioc",
                    "symbol": "pf_xbtusd",
                    "side": "buy",
                    "quantity": "0.001",
                    "filled": "0",
                    "limitPrice": "67261.000",
                    "reduceOnly": False,
                    "timestamp": "2024-05-01T10:00:00.123Z",
                    "lastUpdateTimestamp": "2024-05-01T10:00:00.123Z",
                },
                "takerReducedQuantity": None,
            },
            {
                "type": "EXECUTION",
                "executionId": "e1f9ad46-2222-4b8f-bf2f-0a1a3f6e3e02",
                "price": "66597.5",
                "amount": 0.0005,
                "orderPriorEdit": None,
                "orderPriorExecution": {
                    "orderId": "61ca5732-3478-42fe-8362-abbfd9465294",
                    "cliOrdId": "or-42",
                    "type": "ioc",
                    "symbol": "pf_xbtusd",
                    "side": "buy",
                    "quantity": "0.001",
                    "filled": "0.0005",
                    "limitPrice": "67261.000",
                    "reduceOnly": False,
                    "timestamp": "2024-05-01T10:00:00.123Z",
                    "lastUpdateTimestamp": "2024-05-01T10:00:00.123Z",
                },
                "takerReducedQuantity": None,
            },
        ],
    },
    "serverTime": "2024-05-01T10:00:00.124Z",
}

HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


def limit_request(cid: str = "or-1", **overrides: object) -> OrderRequest:
    fields: dict[str, object] = {
        "symbol": "PI_XBTUSD",
        "side": Side.BUY,
        "size": Decimal("10000"),
        "order_type": OrderType.LIMIT,
        "client_order_id": cid,
        "limit_price": Decimal("9400"),
    }
    fields.update(overrides)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def market_request(cid: str = "or-42", size: str = "0.001") -> OrderRequest:
    return OrderRequest("PF_XBTUSD", Side.BUY, Decimal(size), OrderType.MARKET, cid)


def form(call: responses.Call) -> list[tuple[str, str]]:
    return parse_qsl(signed_data(call.request), keep_blank_values=True)


# --- protocol ------------------------------------------------------------------------------------------------


def test_adapter_implements_the_protocol(kraken: KrakenFutures) -> None:
    assert isinstance(kraken, Exchange)
    assert TriggerSignal.MARK in kraken.capabilities.trigger_signals
    assert kraken.capabilities.order_lookup_by_client_id


def test_reprs_hold_no_secret(kraken: KrakenFutures) -> None:
    for text in (repr(kraken), repr(kraken.client), repr(vars(kraken.client))):
        assert API_SECRET not in text
        assert API_SECRET.rstrip("=") not in text


def test_bad_secret_is_authentication_failed_without_echo() -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        KrakenFutures(BASE, "k", "%%%not-base64%%%", connect_timeout=1, read_timeout=1)
    assert "%%%not-base64%%%" not in str(caught.value)


# --- placing -------------------------------------------------------------------------------------------------


def test_limit_placed(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=LIMIT_PLACED)
    ack = kraken.place_order(limit_request())
    assert ack.exchange_order_id == "179f9af8-e45e-469d-b3e9-2fd4675cb7d0"
    assert ack.status == "placed"
    assert ack.client_order_id == "or-1"
    assert ack.fills == ()
    assert ack.received_time == datetime(2019, 9, 5, 16, 33, 50, 734000, tzinfo=UTC)
    call = rsps.calls[0]
    assert form(call) == [
        ("orderType", "lmt"),
        ("symbol", "PI_XBTUSD"),
        ("side", "buy"),
        ("size", "10000"),
        ("limitPrice", "9400"),
        ("reduceOnly", "false"),
        ("cliOrdId", "or-1"),
    ]
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert urlsplit(call.request.url).query == ""  # the data is the body, signed as such
    assert_signed(call.request)


def test_placed_with_cli_ord_id_and_lower_case_symbol(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=PLACED_WITH_CLI_ORD_ID)
    ack = kraken.place_order(limit_request("TgAF6QMAAQAAbl1bG4QQ", size=Decimal(1), limit_price=Decimal(40166)))
    assert ack.client_order_id == "TgAF6QMAAQAAbl1bG4QQ"
    assert ack.exchange_order_id == "f2af600b-5fe8-49be-8983-de874071563b"
    assert ack.reduced_size is None


def test_echo_of_a_different_client_id_is_ambiguous(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=PLACED_WITH_CLI_ORD_ID)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(limit_request("or-other"))


def test_ioc_rejected_is_order_rejected_verbatim(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=IOC_REJECTED)
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(limit_request())
    assert caught.value.status == "iocWouldNotExecute"
    assert "IOC_WOULD_NOT_EXECUTE" in str(caught.value)
    assert_no_secret(caught.value, rsps)


def test_stop_placed_with_trigger_signal_and_limit(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=STOP_PLACED)
    request = OrderRequest(
        "pi_ethusd",
        Side.BUY,
        Decimal(10),
        OrderType.STOP,
        "or-stop-1",
        limit_price=Decimal("1860.0"),
        stop_price=Decimal("1880.4"),
        trigger_signal=TriggerSignal.LAST,
        reduce_only=True,
    )
    ack = kraken.place_order(request)
    assert ack.exchange_order_id == "e58ed100-1fb8-4e6c-a5ea-1cf85b0f0654"
    assert dict(form(rsps.calls[0])) == {
        "orderType": "stp",
        "symbol": "PI_ETHUSD",
        "side": "buy",
        "size": "10",
        "stopPrice": "1880.4",
        "limitPrice": "1860",
        "triggerSignal": "last",
        "reduceOnly": "true",
        "cliOrdId": "or-stop-1",
    }


@pytest.mark.parametrize(
    ("signal", "wire"), [(TriggerSignal.MARK, "mark"), (TriggerSignal.INDEX, "index"), (None, "mark")]
)
def test_stop_trigger_signals_on_the_wire(
    kraken: KrakenFutures, rsps: responses.RequestsMock, signal: TriggerSignal | None, wire: str
) -> None:
    rsps.post(f"{V3}/sendorder", json=STOP_PLACED)
    kraken.place_order(
        OrderRequest(
            "PF_XBTUSD",
            Side.SELL,
            Decimal("0.01"),
            OrderType.STOP,
            "or-s",
            stop_price=Decimal(38000),
            trigger_signal=signal,
        )
    )
    sent = dict(form(rsps.calls[0]))
    assert sent["triggerSignal"] == wire
    assert "limitPrice" not in sent  # no limit: the trigger fires a market order


def test_market_order_fills_come_from_execution_events(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=MARKET_FILLED)
    ack = kraken.place_order(market_request())
    assert ack.status == "placed"
    assert ack.filled_size == Decimal("0.001")
    assert [f.price for f in ack.fills] == [Decimal("66596.0"), Decimal("66597.5")]
    first = ack.fills[0]
    assert first.fill_id == "e1f9ad46-1111-4b8f-bf2f-0a1a3f6e3e01"
    assert first.symbol == "PF_XBTUSD"
    assert first.side is Side.BUY
    assert first.liquidity is Liquidity.TAKER
    assert first.exchange_order_id == "61ca5732-3478-42fe-8362-abbfd9465294"
    assert first.client_order_id == "or-42"
    sent = dict(form(rsps.calls[0]))
    assert sent["orderType"] == "mkt"
    assert "limitPrice" not in sent and "stopPrice" not in sent


def test_reduce_only_shrink_is_reported(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    body = json.loads(json.dumps(PLACED_WITH_CLI_ORD_ID))
    body["sendStatus"]["orderEvents"][0]["reducedQuantity"] = "0.5"
    rsps.post(f"{V3}/sendorder", json=body)
    ack = kraken.place_order(limit_request("TgAF6QMAAQAAbl1bG4QQ"))
    assert ack.reduced_size == Decimal("0.5")


@pytest.mark.parametrize(
    ("size", "price", "wire_size", "wire_price"),
    [
        (Decimal("1E+3"), Decimal("9.4E+3"), "1000", "9400"),
        (Decimal("0.00010"), Decimal("65000.50"), "0.0001", "65000.5"),
        (Decimal("1E-8"), Decimal("1"), "0.00000001", "1"),
    ],
)
def test_decimals_never_reach_the_wire_in_exponent_form(
    kraken: KrakenFutures,
    rsps: responses.RequestsMock,
    size: Decimal,
    price: Decimal,
    wire_size: str,
    wire_price: str,
) -> None:
    rsps.post(f"{V3}/sendorder", json=LIMIT_PLACED)
    kraken.place_order(limit_request(size=size, limit_price=price))
    sent = dict(form(rsps.calls[0]))
    assert (sent["size"], sent["limitPrice"]) == (wire_size, wire_price)
    assert "E" not in signed_data(rsps.calls[0].request)


@pytest.mark.parametrize(
    "request_",
    [
        limit_request(size=Decimal("NaN")),
        limit_request(size=Decimal("0")),
        limit_request(size=Decimal("-1")),
        limit_request(limit_price=None),
        limit_request(stop_price=Decimal(1)),
        limit_request(cid=""),
        limit_request(cid="x" * 101),
        limit_request(cid="has space"),
        limit_request(cid="a+b"),
        OrderRequest("PF_XBTUSD", Side.BUY, Decimal(1), OrderType.MARKET, "or-m", limit_price=Decimal(1)),
        OrderRequest("PF_XBTUSD", Side.BUY, Decimal(1), OrderType.MARKET, "or-m", trigger_signal=TriggerSignal.MARK),
        OrderRequest("PF_XBTUSD", Side.BUY, Decimal(1), OrderType.STOP, "or-s"),
        OrderRequest("PF_XBTUSD", Side.BUY, Decimal(1), OrderType.STOP, "or-s", stop_price=Decimal("Infinity")),
    ],
)
def test_bad_requests_are_refused_before_sending(
    kraken: KrakenFutures, rsps: responses.RequestsMock, request_: OrderRequest
) -> None:
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(request_)
    assert caught.value.status == "localValidation"
    assert len(rsps.calls) == 0


def test_client_order_id_already_exists_is_not_a_rejection(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(
        f"{V3}/sendorder",
        json={"result": "success", "sendStatus": {"status": "clientOrderIdAlreadyExist", "receivedTime": "x"}},
    )
    with pytest.raises(AmbiguousOutcome) as caught:
        kraken.place_order(limit_request("or-9"))
    assert isinstance(caught.value, ClientOrderIdAlreadyExists)
    assert not isinstance(caught.value, OrderRejected)
    assert caught.value.landed and caught.value.client_order_id == "or-9"


def test_unknown_status_with_a_place_event_is_ambiguous(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    body = json.loads(json.dumps(LIMIT_PLACED))
    body["sendStatus"]["status"] = "placedButDifferently"
    rsps.post(f"{V3}/sendorder", json=body)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(limit_request())


def test_unknown_status_without_evidence_is_rejected_verbatim(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{V3}/sendorder", json={"result": "success", "sendStatus": {"status": "brandNewNo"}})
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(limit_request())
    assert caught.value.status == "brandNewNo"


@pytest.mark.parametrize(
    "body",
    [
        {"result": "success"},  # no sendStatus
        {"result": "success", "sendStatus": {"order_id": "x"}},  # no status
        {"result": "success", "sendStatus": {"status": "placed"}},  # accepted but no order id
        {"result": "success", "sendStatus": {"status": "placed", "order_id": "x", "orderEvents": "nope"}},
        [1, 2, 3],
    ],
)
def test_order_answers_we_cannot_read_are_ambiguous(
    kraken: KrakenFutures, rsps: responses.RequestsMock, body: object
) -> None:
    rsps.post(f"{V3}/sendorder", json=body)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(limit_request())


def test_batch_status_uses_the_send_status_words() -> None:
    from exchanges.kraken.errors import Kind, Source, classify

    assert [classify(Source.SEND_STATUS, e["status"]) for e in BATCH["batchStatus"]] == [Kind.ACCEPTED]


# --- transport failures: order calls are ambiguous, reads unavailable ---------------------------------------


TRANSPORT_FAILURES = [
    pytest.param(
        requests.exceptions.ReadTimeout("HTTPSConnectionPool: Read timed out. (read timeout=1.0)"), id="read-timeout"
    ),
    pytest.param(requests.exceptions.ConnectTimeout("connect timed out"), id="connect-timeout"),
    pytest.param(requests.exceptions.ConnectionError("('Connection aborted.', ConnectionResetError(104))"), id="reset"),
    pytest.param(requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"), id="incomplete-read"),
]


@pytest.mark.parametrize("failure", TRANSPORT_FAILURES)
def test_transport_failure_on_sendorder_is_ambiguous(
    kraken: KrakenFutures, rsps: responses.RequestsMock, failure: Exception
) -> None:
    rsps.post(f"{V3}/sendorder", body=failure)
    with pytest.raises(AmbiguousOutcome) as caught:
        kraken.place_order(limit_request())
    assert not isinstance(caught.value, OrderRejected)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert_no_secret(caught.value, rsps)
    assert len(rsps.calls) == 1  # never retried


@pytest.mark.parametrize("failure", TRANSPORT_FAILURES)
def test_transport_failure_on_cancel_is_ambiguous(
    kraken: KrakenFutures, rsps: responses.RequestsMock, failure: Exception
) -> None:
    rsps.post(f"{V3}/cancelorder", body=failure)
    with pytest.raises(AmbiguousOutcome):
        kraken.cancel_order(exchange_order_id="abc")


@pytest.mark.parametrize("failure", TRANSPORT_FAILURES)
def test_transport_failure_on_a_read_is_unavailable(
    kraken: KrakenFutures, rsps: responses.RequestsMock, failure: Exception
) -> None:
    rsps.get(f"{V3}/openpositions", body=failure)
    with pytest.raises(Unavailable) as caught:
        kraken.positions()
    assert_no_secret(caught.value, rsps)


def test_public_read_is_retried_once_on_a_reset(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{V3}/instruments", body=requests.exceptions.ConnectionError("reset"))
    rsps.get(f"{V3}/instruments", json={"result": "success", "instruments": [INSTRUMENT_PF_XBTUSD]})
    rsps.get(f"{V3}/tickers", json={"result": "success", "tickers": []})
    assert [i.symbol for i in kraken.instruments()] == ["PF_XBTUSD"]
    assert len(rsps.calls) == 3


def test_public_read_is_not_retried_on_a_timeout(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{V3}/tickers", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(Unavailable):
        kraken.ticker("PF_XBTUSD")
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520])
@pytest.mark.parametrize(
    "body",
    [HTML_502, json.dumps(ERR_INSUFFICIENT_MARGIN), json.dumps(ERR_BAD_REQUEST), ""],
    ids=["html", "json500", "json400", "empty"],
)
def test_5xx_is_ambiguous_for_orders_and_unavailable_for_reads(
    kraken: KrakenFutures, rsps: responses.RequestsMock, status: int, body: str
) -> None:
    rsps.post(f"{V3}/sendorder", body=body, status=status)
    rsps.get(f"{V3}/accounts", body=body, status=status)
    with pytest.raises(AmbiguousOutcome) as caught:
        kraken.place_order(limit_request())
    assert not isinstance(caught.value, OrderRejected)
    with pytest.raises(Unavailable):
        kraken.account()


@pytest.mark.parametrize(
    "body",
    ['{"result":"success","sendStatus":{"order_id":"179f9af8', "<html>oops</html>", "", "null", '"placed"'],
    ids=["truncated", "html", "empty", "null", "string"],
)
def test_unparsable_200_is_ambiguous_on_orders(kraken: KrakenFutures, rsps: responses.RequestsMock, body: str) -> None:
    rsps.post(f"{V3}/sendorder", body=body, status=200)
    rsps.get(f"{V3}/openorders", body=body, status=200)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(limit_request())
    with pytest.raises(Unavailable):
        kraken.open_orders()


@pytest.mark.parametrize("status", [400, 403, 404, 405])
def test_html_4xx_page_on_an_order_call_is_ambiguous_not_a_rejection(
    kraken: KrakenFutures, rsps: responses.RequestsMock, status: int
) -> None:
    rsps.post(f"{V3}/sendorder", body="<html><body>nginx</body></html>", status=status, content_type="text/html")
    with pytest.raises(AmbiguousOutcome) as caught:
        kraken.place_order(limit_request())
    assert not isinstance(caught.value, OrderRejected)


def test_redirect_is_not_followed_and_is_ambiguous(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    # The retired demo host 301-redirects to a marketing page (reference §0).
    rsps.post(f"{V3}/sendorder", status=301, headers={"Location": "https://www.kraken.com/"})
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(limit_request())
    assert len(rsps.calls) == 1


# --- venue error envelopes ----------------------------------------------------------------------------------


def test_structured_bad_request_is_a_definitive_rejection(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=ERR_BAD_REQUEST, status=400)
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(limit_request())
    assert caught.value.status == "Argument invalid: orderType"


@pytest.mark.parametrize("word", ["invalidArgument", "requiredArgumentMissing"])
def test_classic_argument_errors_on_orders_are_rejections(
    kraken: KrakenFutures, rsps: responses.RequestsMock, word: str
) -> None:
    rsps.post(f"{V3}/sendorder", json={"result": "error", "error": word, "serverTime": "x"}, status=400)
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(limit_request())
    assert caught.value.status == word


def test_spring_404_on_an_order_call_is_a_rejection(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    body = {"timestamp": "2021-01-01T00:00:00.000+00:00", "path": "/x", "status": 404, "error": "Not Found"}
    rsps.post(f"{V3}/sendorder", json=body, status=404)
    with pytest.raises(OrderRejected) as caught:
        kraken.place_order(limit_request())
    assert caught.value.status == "404"


def test_api_limit_exceeded_on_sendorder_is_rate_limited(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=ERR_API_LIMIT)
    with pytest.raises(RateLimited):
        kraken.place_order(limit_request())


@pytest.mark.parametrize("header", ["rate-limit-reset", "Retry-After"])
def test_429_uses_the_reset_header(kraken: KrakenFutures, rsps: responses.RequestsMock, header: str) -> None:
    rsps.get(
        f"{HISTORY}/account-log", body="Too many requests", status=429, headers={header: "7"}, content_type="text/plain"
    )
    with pytest.raises(RateLimited) as caught:
        kraken.ledger_since(datetime(2024, 1, 1, tzinfo=UTC))
    assert caught.value.retry_after == 7.0


def test_429_on_sendorder_is_rate_limited_not_ambiguous(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", body="slow down", status=429)
    with pytest.raises(RateLimited) as caught:
        kraken.place_order(limit_request())
    assert caught.value.retry_after >= 1.0


def test_authentication_error_body_is_authentication_failed(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{V3}/openpositions", json=ERR_AUTH)
    with pytest.raises(AuthenticationFailed) as caught:
        kraken.positions()
    assert caught.value.venue_code == "authenticationError"
    assert_no_secret(caught.value, rsps)


def test_history_401_is_authentication_failed(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{HISTORY}/account-log",
        json={"reason": "You are not authorized to access this endpoint.", "status": "unauthorized"},
        status=401,
    )
    with pytest.raises(AuthenticationFailed):
        kraken.ledger_since(datetime(2024, 1, 1, tzinfo=UTC))


def test_insufficient_privileges_is_permission_denied(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json={"result": "error", "error": "insufficientPrivileges"})
    with pytest.raises(PermissionDenied):
        kraken.place_order(limit_request())


def test_unavailable_envelope(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json=ERR_UNAVAILABLE)
    rsps.get(f"{V3}/openpositions", json=ERR_UNAVAILABLE)
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(limit_request())
    with pytest.raises(Unavailable) as caught:
        kraken.positions()
    assert caught.value.venue_code == "Unavailable"


# --- reads ---------------------------------------------------------------------------------------------------


def test_openpositions_without_the_key_is_unavailable_not_flat(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{V3}/openpositions", json={"result": "success", "serverTime": "2024-01-01T00:00:00.000Z"})
    with pytest.raises(Unavailable):
        kraken.positions()


def test_positions_are_signed_from_side_with_strings_and_lower_case(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{V3}/openpositions",
        json={
            "result": "success",
            "openPositions": [
                {"side": "long", "symbol": "pf_xbtusd", "price": "65000.5", "fillTime": "x", "size": "0.0123"},
                {"side": "short", "symbol": "PF_ETHUSD", "price": 3000, "fillTime": "x", "size": 1.5},
            ],
        },
    )
    positions = kraken.positions()
    assert [(p.symbol, p.size, p.average_price) for p in positions] == [
        ("PF_XBTUSD", Decimal("0.0123"), Decimal("65000.5")),
        ("PF_ETHUSD", Decimal("-1.5"), Decimal("3000")),
    ]
    assert_signed(rsps.calls[0].request)


def test_position_with_unknown_side_is_unavailable(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{V3}/openpositions",
        json={"result": "success", "openPositions": [{"side": "flat?", "symbol": "PF_X", "price": 1, "size": 1}]},
    )
    with pytest.raises(Unavailable):
        kraken.positions()


def test_account_from_flex(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    flex = {
        "type": "multiCollateralMarginAccount",
        "portfolioValue": "10123.5",
        "marginEquity": "10050.25",
        "availableMargin": 9000,
        "initialMargin": "1000.1",
        "maintenanceMargin": 500.05,
        "collateralValue": 10000,
    }
    rsps.get(f"{V3}/accounts", json={"result": "success", "accounts": {"cash": {}, "flex": flex}})
    summary = kraken.account()
    assert summary.currency == "USD"
    assert summary.equity == Decimal("10050.25")  # marginEquity, not portfolioValue
    assert summary.available_margin == Decimal("9000")
    assert summary.initial_margin == Decimal("1000.1")
    assert summary.maintenance_margin == Decimal("500.05")


@pytest.mark.parametrize(
    "accounts",
    [{"cash": {}}, {"flex": {"marginEquity": 1}}, {"flex": {"marginEquity": "NaN", "availableMargin": 1}}],
)
def test_account_missing_fields_is_unavailable(
    kraken: KrakenFutures, rsps: responses.RequestsMock, accounts: dict[str, object]
) -> None:
    rsps.get(f"{V3}/accounts", json={"result": "success", "accounts": accounts})
    with pytest.raises(Unavailable):
        kraken.account()


def test_instruments(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    pepe = {
        "symbol": "pf_pepeusd",
        "type": "flexible_futures",
        "tickSize": "0.0000000001",
        "contractSize": "1",
        "tradeable": True,
        "contractValueTradePrecision": -3,
        "postOnly": False,
        "base": "pepe",
        "quote": "usd",
        "marginLevels": [
            {"numNonContractUnits": "50000000", "initialMargin": "0.1", "maintenanceMargin": "0.05"},
            {"numNonContractUnits": 0, "initialMargin": 0.05, "maintenanceMargin": 0.025},
        ],
    }
    inverse = {
        "symbol": "PI_XBTUSD",
        "type": "futures_inverse",
        "tickSize": 0.5,
        "contractSize": 1,
        "tradeable": True,
        "contractValueTradePrecision": 0,
        "marginLevels": [{"contracts": 0, "initialMargin": 0.02, "maintenanceMargin": 0.01}],
    }
    index_row = {"symbol": "in_xbtusd", "type": "spot index", "tradeable": False}
    broken = {"symbol": "PF_BROKEN", "type": "flexible_futures", "tradeable": True}  # no tick size
    rsps.get(
        f"{V3}/instruments",
        json={"result": "success", "instruments": [INSTRUMENT_PF_XBTUSD, pepe, inverse, index_row, broken]},
    )
    rsps.get(
        f"{V3}/tickers",
        json={
            "result": "success",
            "tickers": [
                {"symbol": "PF_XBTUSD", "markPrice": "65000", "suspended": False},
                {"symbol": "PF_PEPEUSD", "markPrice": "0.00001", "suspended": True, "postOnly": True},
            ],
        },
    )
    specs = {s.symbol: s for s in kraken.instruments()}
    assert set(specs) == {"PF_XBTUSD", "PF_PEPEUSD", "PI_XBTUSD"}
    xbt = specs["PF_XBTUSD"]
    assert (xbt.tick_size, xbt.size_step, xbt.contract_size) == (Decimal(1), Decimal("0.0001"), Decimal(1))
    assert xbt.kind == "flexible_futures" and xbt.tradeable and not xbt.suspended and not xbt.post_only
    assert xbt.max_position_size == Decimal(1000000)
    assert xbt.margin_levels[0].initial_margin == Decimal("0.02")
    assert (xbt.base, xbt.quote) == ("XBT", "USD")
    pepe_spec = specs["PF_PEPEUSD"]
    assert pepe_spec.size_step == Decimal(1000)
    assert format(pepe_spec.size_step, "f") == "1000"
    assert pepe_spec.suspended and pepe_spec.post_only and not pepe_spec.can_trade
    assert [lvl.from_size for lvl in pepe_spec.margin_levels] == [Decimal(0), Decimal(50000000)]
    assert pepe_spec.initial_margin_rate(Decimal(60000000)) == Decimal("0.1")
    assert specs["PI_XBTUSD"].size_step == Decimal(1)
    assert specs["PI_XBTUSD"].tick_size == Decimal("0.5")
    assert "APIKey" not in rsps.calls[0].request.headers  # public: unsigned


def test_instruments_without_the_key_is_unavailable(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{V3}/instruments", json={"result": "success"})
    with pytest.raises(Unavailable):
        kraken.instruments()


def test_ticker(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{V3}/tickers",
        json={
            "result": "success",
            "serverTime": "2024-05-01T10:00:00.000Z",
            "tickers": [
                {"symbol": "pf_ethusd", "markPrice": "3000"},
                {
                    "symbol": "pf_xbtusd",
                    "markPrice": "0.09624183255",
                    "indexPrice": 65001,
                    "last": "65002.5",
                    "bid": 65000,
                    "ask": "65003",
                    "suspended": False,
                },
            ],
        },
    )
    ticker = kraken.ticker("PF_XBTUSD")
    assert ticker.symbol == "PF_XBTUSD"
    assert ticker.mark_price == Decimal("0.09624183255")
    assert (ticker.index_price, ticker.last_price, ticker.bid, ticker.ask) == (
        Decimal(65001),
        Decimal("65002.5"),
        Decimal(65000),
        Decimal(65003),
    )
    assert ticker.time == datetime(2024, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "tickers",
    [[], [{"symbol": "PF_XBTUSD"}], [{"symbol": "PF_XBTUSD", "markPrice": None}]],
    ids=["absent", "no-mark", "null"],
)
def test_ticker_without_mark_price_is_unavailable(
    kraken: KrakenFutures, rsps: responses.RequestsMock, tickers: list[object]
) -> None:
    rsps.get(f"{V3}/tickers", json={"result": "success", "tickers": tickers})
    with pytest.raises(Unavailable):
        kraken.ticker("PF_XBTUSD")


# --- open orders, cancel ------------------------------------------------------------------------------------

OPEN_ORDERS = {
    "result": "success",
    "openOrders": [
        {
            "order_id": "59302619-41d2-4f0b-941f-7e7914760ad3",
            "symbol": "pf_xbtusd",
            "side": "sell",
            "orderType": "stop",
            "stopPrice": "60000",
            "unfilledSize": "0.01",
            "receivedTime": "2024-05-01T10:00:00.000Z",
            "status": "untouched",
            "filledSize": 0,
            "reduceOnly": True,
            "triggerSignal": "mark",
            "lastUpdateTime": "2024-05-01T10:00:00.000Z",
            "cliOrdId": "or-stop-7",
        },
        {
            "order_id": "6a9e1c8c-0b3a-4b2f-9e1e-1b2c3d4e5f60",
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "orderType": "lmt",
            "limitPrice": 50000,
            "unfilledSize": 0.004,
            "filledSize": "0.001",
            "receivedTime": "2024-05-01T10:00:00.000Z",
            "status": "partiallyFilled",
            "reduceOnly": False,
            "lastUpdateTime": "2024-05-01T10:00:01.000Z",
        },
    ],
}


def test_open_orders(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{V3}/openorders", json=OPEN_ORDERS)
    stop, limit = kraken.open_orders()
    assert stop.order_type is OrderType.STOP and stop.state is OrderState.OPEN
    assert (stop.symbol, stop.side, stop.size, stop.stop_price) == (
        "PF_XBTUSD",
        Side.SELL,
        Decimal("0.01"),
        Decimal(60000),
    )
    assert stop.trigger_signal is TriggerSignal.MARK and stop.reduce_only and stop.client_order_id == "or-stop-7"
    assert limit.state is OrderState.PARTIALLY_FILLED
    assert (limit.size, limit.filled_size, limit.limit_price) == (Decimal("0.005"), Decimal("0.001"), Decimal(50000))
    assert limit.client_order_id is None


def test_open_orders_without_the_key_is_unavailable(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{V3}/openorders", json={"result": "success"})
    with pytest.raises(Unavailable):
        kraken.open_orders()


def test_cancel_by_exchange_id(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/cancelorder", json=CANCELLED)
    result = kraken.cancel_order(exchange_order_id="cb4e34f6-4eb3-4d4b-9724-4c3035b99d47")
    assert result.cancelled and result.status == "cancelled"
    assert form(rsps.calls[0]) == [("order_id", "cb4e34f6-4eb3-4d4b-9724-4c3035b99d47")]
    assert_signed(rsps.calls[0].request)


def test_cancel_by_client_id_not_found(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/cancelorder", json=CANCEL_NOT_FOUND)
    result = kraken.cancel_order(client_order_id="or-5")
    assert not result.cancelled and result.status == "notFound"
    assert form(rsps.calls[0]) == [("cliOrdId", "or-5")]


def test_cancel_already_filled(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/cancelorder", json={"result": "success", "cancelStatus": {"status": "filled"}})
    assert kraken.cancel_order(client_order_id="or-5").status == "filled"


def test_cancel_unknown_status_is_ambiguous(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/cancelorder", json={"result": "success", "cancelStatus": {"status": "maybe"}})
    with pytest.raises(AmbiguousOutcome):
        kraken.cancel_order(client_order_id="or-5")


def test_cancel_without_an_id_is_refused_locally(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    with pytest.raises(OrderRejected):
        kraken.cancel_order()
    assert len(rsps.calls) == 0


# --- find_order ---------------------------------------------------------------------------------------------


def status_entry(cid: str, status: str, *, filled: str = "0", trigger: bool = False) -> dict[str, object]:
    return {
        "order": {
            "type": "TRIGGER_ORDER" if trigger else "ORDER",
            "orderId": f"id-{cid}",
            "cliOrdId": cid,
            "symbol": "pf_xbtusd",
            "side": "sell",
            "quantity": "0.01",
            "filled": filled,
            "limitPrice": "0",
            "reduceOnly": True,
            "timestamp": "2024-05-01T10:00:00.000Z",
            "lastUpdateTimestamp": "2024-05-01T10:00:02.000Z",
            "priceTriggerOptions": {
                "triggerPrice": "60000",
                "triggerSide": "TRIGGER_BELOW",
                "triggerSignal": "MARK_PRICE",
            }
            if trigger
            else None,
        },
        "status": status,
        "updateReason": None,
        "error": None,
    }


@pytest.mark.parametrize(
    ("status", "filled", "state"),
    [
        ("ENTERED_BOOK", "0", OrderState.OPEN),
        ("ENTERED_BOOK", "0.004", OrderState.PARTIALLY_FILLED),
        ("FULLY_EXECUTED", "0.01", OrderState.FILLED),
        ("CANCELLED", "0", OrderState.CANCELLED),
        ("REJECTED", "0", OrderState.REJECTED),
        ("TRIGGER_PLACED", "0", OrderState.OPEN),
        ("TRIGGER_ACTIVATION_FAILURE", "0", OrderState.REJECTED),
    ],
)
def test_find_order_step_one_orders_status(
    kraken: KrakenFutures, rsps: responses.RequestsMock, status: str, filled: str, state: OrderState
) -> None:
    rsps.post(
        f"{V3}/orders/status",
        json={
            "result": "success",
            "orders": [status_entry("or-1", status, filled=filled, trigger="TRIGGER" in status)],
        },
    )
    found = kraken.find_order("or-1")
    assert found is not None
    assert found.state is state and found.venue_status == status
    assert found.symbol == "PF_XBTUSD" and found.filled_size == Decimal(filled)
    if "TRIGGER" in status:
        assert found.order_type is OrderType.STOP
        assert found.stop_price == Decimal(60000) and found.trigger_signal is TriggerSignal.MARK
    call = rsps.calls[0]
    assert parse_qs(signed_data(call.request)) == {"cliOrdIds": ["or-1"]}
    assert_signed(call.request)


def test_find_order_unknown_status_word_is_unavailable(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/orders/status", json={"result": "success", "orders": [status_entry("or-1", "HMM")]})
    with pytest.raises(Unavailable):
        kraken.find_order("or-1")


def _empty_lookups(rsps: responses.RequestsMock, *, fills: list[object] | None = None) -> None:
    rsps.post(f"{V3}/orders/status", json={"result": "success", "orders": []})
    rsps.get(f"{V3}/openorders", json={"result": "success", "openOrders": []})
    rsps.get(f"{V3}/fills", json={"result": "success", "fills": fills or []})


def test_find_order_step_two_open_orders(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/orders/status", json={"result": "success", "orders": []})
    rsps.get(f"{V3}/openorders", json=OPEN_ORDERS)
    found = kraken.find_order("or-stop-7")
    assert found is not None and found.exchange_order_id == "59302619-41d2-4f0b-941f-7e7914760ad3"


def fill_row(
    cid: str | None, fill_id: str, when: str, size: str = "0.004", fill_type: str = "taker"
) -> dict[str, object]:
    row: dict[str, object] = {
        "fill_id": fill_id,
        "symbol": "pf_xbtusd",
        "side": "buy",
        "order_id": "order-of-" + str(cid),
        "size": size,
        "price": "65000",
        "fillTime": when,
        "fillType": fill_type,
    }
    if cid is not None:
        row["cliOrdId"] = cid
    return row


def history_orders(*elements: dict[str, object], token: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"accountUid": "acc", "len": len(elements), "elements": list(elements)}
    if token:
        body["continuationToken"] = token
    return body


def history_order_event(
    cid: str, name: str, *, filled: str, quantity: str = "0.01", ts: int = 1714557600000
) -> dict[str, object]:
    order = {
        "uid": f"uid-{cid}",
        "accountUid": "acc",
        "tradeable": "PF_XBTUSD",
        "direction": "Buy",
        "quantity": quantity,
        "filled": filled,
        "timestamp": ts,
        "limitPrice": "66000",
        "orderType": "IoC",
        "clientId": cid,
        "reduceOnly": False,
        "lastUpdateTimestamp": ts,
        "spotData": None,
    }
    key = {"OrderUpdated": "newOrder"}.get(name, "order")
    payload: dict[str, object] = {key: order, "reason": "x"}
    if name == "OrderUpdated":
        payload["oldOrder"] = order
    return {"uid": f"ev-{ts}", "timestamp": ts, "event": {name: payload}}


def test_find_order_fills_then_history_refines(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    _empty_lookups(
        rsps,
        fills=[fill_row("or-3", "f1", "2024-05-01T10:00:00.000Z"), fill_row("x", "f2", "2024-05-01T10:00:00.000Z")],
    )
    rsps.get(
        f"{HISTORY}/orders",
        json=history_orders(
            history_order_event("or-3", "OrderCancelled", filled="0.004", ts=1714557601000),
            history_order_event("or-3", "OrderPlaced", filled="0", ts=1714557600000),
        ),
    )
    found = kraken.find_order("or-3")
    assert found is not None
    assert found.state is OrderState.CANCELLED  # partly filled, then the rest cancelled
    assert found.filled_size == Decimal("0.004")
    assert found.venue_status == "OrderCancelled"
    query = parse_qs(urlsplit(rsps.calls[3].request.url).query)
    assert query["sort"] == ["desc"]
    assert_signed(rsps.calls[3].request)


def test_find_order_fills_when_history_is_down(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    _empty_lookups(rsps, fills=[fill_row("or-3", "f1", "2024-05-01T10:00:00.000Z")])
    rsps.get(f"{HISTORY}/orders", body="<html>502</html>", status=502)
    found = kraken.find_order("or-3")
    assert found is not None and found.state is OrderState.FILLED
    assert found.filled_size == Decimal("0.004") and found.venue_status == "filled (from fills)"
    assert found.order_type is OrderType.MARKET


def test_find_order_history_only_rejected(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    _empty_lookups(rsps)
    rsps.get(f"{HISTORY}/orders", json=history_orders(history_order_event("or-4", "OrderRejected", filled="0")))
    found = kraken.find_order("or-4")
    assert found is not None and found.state is OrderState.REJECTED


def test_find_order_history_filled_via_update(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    _empty_lookups(rsps)
    rsps.get(f"{HISTORY}/orders", json=history_orders(history_order_event("or-4", "OrderUpdated", filled="0.01")))
    found = kraken.find_order("or-4")
    assert found is not None and found.state is OrderState.FILLED and found.order_type is OrderType.MARKET


def test_find_order_stop_in_trigger_history(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    _empty_lookups(rsps)
    rsps.get(f"{HISTORY}/orders", json=history_orders())
    trigger = {
        "uid": "trig-1",
        "accountId": 1,
        "accountUid": "acc",
        "tradeable": "PF_XBTUSD",
        "direction": "Sell",
        "quantity": "0.01",
        "timestamp": 1714557600000,
        "limitPrice": "0",
        "orderType": "Limit",
        "clientId": "or-stop-9",
        "reduceOnly": True,
        "lastUpdateTimestamp": 1714557600000,
        "triggerOptions": {"triggerPrice": "60000", "triggerSignal": "MarkPrice", "triggerSide": "Below"},
    }
    rsps.get(
        f"{HISTORY}/triggers",
        json=history_orders(
            {
                "uid": "e",
                "timestamp": 1714557600000,
                "event": {"OrderTriggerCancelled": {"order": trigger, "reason": "x"}},
            }
        ),
    )
    found = kraken.find_order("or-stop-9")
    assert found is not None
    assert (found.state, found.order_type, found.side) == (OrderState.CANCELLED, OrderType.STOP, Side.SELL)
    assert found.stop_price == Decimal(60000) and found.trigger_signal is TriggerSignal.MARK


def test_find_order_follows_history_pages(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    _empty_lookups(rsps)
    rsps.get(
        f"{HISTORY}/orders", json=history_orders(history_order_event("other", "OrderPlaced", filled="0"), token="tok2")
    )
    rsps.get(f"{HISTORY}/orders", json=history_orders(history_order_event("or-5", "OrderPlaced", filled="0")))
    found = kraken.find_order("or-5")
    assert found is not None and found.state is OrderState.OPEN
    assert parse_qs(urlsplit(rsps.calls[4].request.url).query)["continuation_token"] == ["tok2"]


def test_find_order_no_trace_is_none(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    _empty_lookups(rsps, fills=[fill_row("someone-else", "f9", "2024-05-01T10:00:00.000Z")])
    rsps.get(f"{HISTORY}/orders", json=history_orders())
    rsps.get(f"{HISTORY}/triggers", json=history_orders())
    assert kraken.find_order("or-6") is None


def test_find_order_raises_rather_than_none_when_a_step_fails(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    # None licenses a re-send; it must never come from a lookup that did not complete.
    _empty_lookups(rsps)
    rsps.get(f"{HISTORY}/orders", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(Unavailable):
        kraken.find_order("or-6")


def test_find_order_history_budget_spent_raises(
    kraken: KrakenFutures, budget: KeyBudget, rsps: responses.RequestsMock
) -> None:
    _empty_lookups(rsps)
    budget.exhaust(Pool.HISTORY)
    with pytest.raises(RateLimited):
        kraken.find_order("or-6")


# --- fills, ledger, key check -------------------------------------------------------------------------------


def test_fills_since_pages_back_with_last_fill_time(
    kraken: KrakenFutures, budget: KeyBudget, rsps: responses.RequestsMock
) -> None:
    start = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    newest = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    page1 = [
        fill_row("or-a", f"p1-{i}", (newest - timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for i in range(100)
    ]
    boundary = page1[-1]["fillTime"]
    page2 = (
        [fill_row("or-b", "p1-99", str(boundary))]
        + [fill_row("or-b", f"p2-{i}", f"2024-05-01T08:{59 - i:02d}:00.000Z", fill_type="maker") for i in range(3)]
        + [fill_row("or-b", "p2-edge", "2024-05-01T09:00:00.000Z")]
    )
    rsps.get(f"{V3}/fills", json={"result": "success", "fills": page1})
    rsps.get(f"{V3}/fills", json={"result": "success", "fills": page2})
    fills = kraken.fills_since(start)
    assert len(fills) == 101  # 100 from page one, the 09:00:00 edge fill from page two; older ones dropped
    assert fills == sorted(fills, key=lambda f: f.time)
    assert fills[0].fill_id == "p2-edge"
    assert len({f.fill_id for f in fills}) == 101
    first_query = urlsplit(rsps.calls[0].request.url).query
    second_query = parse_qs(urlsplit(rsps.calls[1].request.url).query)
    assert first_query == ""
    assert second_query["lastFillTime"] == ["2024-05-01T11:58:21.001Z"]  # oldest of page one + 1 ms
    assert budget.available(Pool.DERIVATIVES) == pytest.approx(500 - 2 - 25)
    assert_signed(rsps.calls[1].request)


def test_fills_since_single_page(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{V3}/fills",
        json={
            "result": "success",
            "fills": [
                fill_row("or-a", "f2", "2024-05-01T10:00:01.000Z", fill_type="maker"),
                fill_row(None, "f1", "2024-05-01T10:00:00.000Z", fill_type="liquidation"),
            ],
        },
    )
    fills = kraken.fills_since(datetime(2024, 1, 1, tzinfo=UTC))
    assert [f.fill_id for f in fills] == ["f1", "f2"]
    assert [f.liquidity for f in fills] == [Liquidity.OTHER, Liquidity.MAKER]
    assert fills[0].client_order_id is None and fills[1].size == Decimal("0.004")


def test_fills_without_the_key_is_unavailable(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{V3}/fills", json={"result": "success"})
    with pytest.raises(Unavailable):
        kraken.fills_since(datetime(2024, 1, 1, tzinfo=UTC))


LEDGER = {
    "accountUid": "acc",
    "logs": [
        {
            "id": 1201,
            "date": "2024-05-01T10:00:00.123Z",
            "asset": "usd",
            "info": "futures trade",
            "booking_uid": "b1",
            "margin_account": "flex",
            "old_balance": "1000",
            "new_balance": "999.9965",
            "old_average_entry_price": None,
            "new_average_entry_price": None,
            "trade_price": "65000",
            "mark_price": "65001",
            "realized_pnl": None,
            "fee": "0.0035",
            "execution": "e1f9ad46-1111-4b8f-bf2f-0a1a3f6e3e01",
            "collateral": "USD",
            "funding_rate": None,
            "realized_funding": None,
            "contract": "pf_xbtusd",
        },
        {
            "id": 1202,
            "date": "2024-05-01T10:00:00.123Z",
            "asset": "pf_xbtusd",
            "info": "futures trade",
            "old_balance": 0,
            "new_balance": 0.001,
            "trade_price": 65000,
            "realized_pnl": 0,
            "fee": None,
            "execution": "e1f9ad46-1111-4b8f-bf2f-0a1a3f6e3e01",
            "contract": "pf_xbtusd",
        },
        {
            "id": 1203,
            "date": "2024-05-01T12:00:00.000Z",
            "asset": "usd",
            "info": "funding rate change",
            "old_balance": 999.9965,
            "new_balance": 999.9,
            "realized_funding": "-0.0965",
            "fee": 0,
            "contract": "pf_xbtusd",
        },
    ],
}


def test_ledger_since(kraken: KrakenFutures, budget: KeyBudget, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{HISTORY}/account-log", json=LEDGER)
    since = datetime(2024, 5, 1, tzinfo=UTC)
    cash, position, funding = kraken.ledger_since(since)
    assert (cash.entry_id, cash.kind, cash.symbol, cash.asset) == ("1201", "futures trade", "PF_XBTUSD", "USD")
    assert cash.fee == Decimal("0.0035") and cash.trade_price == Decimal(65000)
    assert cash.execution_id == "e1f9ad46-1111-4b8f-bf2f-0a1a3f6e3e01"
    assert cash.balance_change == Decimal("-0.0035")
    assert position.fee == Decimal(0) and position.asset == "PF_XBTUSD"
    assert funding.realized_funding == Decimal("-0.0965")
    query = parse_qs(urlsplit(rsps.calls[0].request.url).query)
    assert query == {"since": [str(int(since.timestamp() * 1000))], "sort": ["asc"], "count": ["1000"]}
    assert budget.available(Pool.HISTORY) == pytest.approx(97)
    assert_signed(rsps.calls[0].request)  # /api/history/... signed in full


def test_ledger_pages_by_id(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    page = [
        {"id": i, "date": "2024-05-01T10:00:00.000Z", "asset": "usd", "info": "futures trade", "fee": 0}
        for i in range(1, 1001)
    ]
    rsps.get(f"{HISTORY}/account-log", json={"accountUid": "a", "logs": page})
    rsps.get(f"{HISTORY}/account-log", json={"accountUid": "a", "logs": [dict(page[0], id=1001)]})
    entries = kraken.ledger_since(datetime(2024, 5, 1, tzinfo=UTC))
    assert len(entries) == 1001
    assert parse_qs(urlsplit(rsps.calls[1].request.url).query)["from"] == ["1001"]


def test_ledger_without_logs_is_unavailable(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{HISTORY}/account-log", json={"accountUid": "a"})
    with pytest.raises(Unavailable):
        kraken.ledger_since(datetime(2024, 5, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("general", "transfer", "permission", "withdrawal"),
    [
        ("FULL_ACCESS", "NO_ACCESS", Permission.FULL, False),
        ("READ_ONLY", "NO_ACCESS", Permission.READ_ONLY, False),
        ("NO_ACCESS", "FULL_ACCESS", Permission.NONE, True),
        ("FULL_ACCESS", "SOMETHING_NEW", Permission.FULL, True),  # unknown errs towards "can withdraw"
    ],
)
def test_key_permissions(
    kraken: KrakenFutures,
    rsps: responses.RequestsMock,
    general: str,
    transfer: str,
    permission: Permission,
    withdrawal: bool,
) -> None:
    rsps.get(
        f"{BASE}/api/auth/v1/api-keys/v3/check",
        json={
            "apiKey": "test-public-key-0001",
            "accountUid": "acc-1",
            "iiban": "x",
            "createdAt": "2024-01-01T00:00:00Z",
            "permissions": {"general": general, "transfer": transfer},
        },
    )
    perms = kraken.key_permissions()
    assert (perms.general, perms.withdrawal, perms.account_uid) == (permission, withdrawal, "acc-1")
    assert_signed(rsps.calls[0].request)


def test_key_check_unknown_permission_is_unavailable(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/api/auth/v1/api-keys/v3/check", json={"permissions": {"general": "GOD_MODE"}})
    with pytest.raises(Unavailable):
        kraken.key_permissions()


def test_key_check_401_is_authentication_failed(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/api/auth/v1/api-keys/v3/check", json={"status": "unauthorized"}, status=401)
    with pytest.raises(AuthenticationFailed) as caught:
        kraken.key_permissions()
    assert_no_secret(caught.value, rsps)


def test_history_events_in_the_same_millisecond_newest_first_wins(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    # A market order placed and filled in one millisecond: the list order (sort=desc) is the only tie-break.
    rsps.get(
        f"{HISTORY}/orders",
        json=history_orders(
            history_order_event("or-7", "OrderUpdated", filled="0.01", ts=1714557600000),
            history_order_event("or-7", "OrderPlaced", filled="0", ts=1714557600000),
        ),
    )
    found = kraken.history_order_by_client_id("or-7")
    assert found is not None and found.state is OrderState.FILLED


def test_logs_never_carry_the_secret_or_the_signature(
    kraken: KrakenFutures, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    rsps.post(f"{V3}/sendorder", json=LIMIT_PLACED)
    rsps.post(f"{V3}/sendorder", body=requests.exceptions.ReadTimeout("slow"))
    rsps.get(f"{V3}/openpositions", json=ERR_AUTH)
    kraken.place_order(limit_request())
    with pytest.raises(AmbiguousOutcome):
        kraken.place_order(limit_request("or-2"))
    with pytest.raises(AuthenticationFailed):
        kraken.positions()
    assert "sendorder" in caplog.text  # something was logged
    signatures = [c.request.headers["Authent"] for c in rsps.calls]
    for secret in [API_SECRET, API_SECRET.rstrip("="), *signatures]:
        assert secret not in caplog.text
