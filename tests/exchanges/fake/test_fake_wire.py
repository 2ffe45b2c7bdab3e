"""The fake speaks Kraken's wire format: envelopes, parameters, statuses, events, numbers, and every endpoint."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import requests
from fake_testkit import Client, ManualClock

from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET
from exchanges.fake.server import FakeKraken

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
D = Decimal


@pytest.fixture
def client(fake_kraken: FakeKraken) -> Client:
    return Client(fake_kraken.url)


def market(client: Client, side: str, size: str, **extra: str) -> dict:  # type: ignore[type-arg]
    return client.send(orderType="mkt", symbol="PF_XBTUSD", side=side, size=size, **extra)


# -- envelopes ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("GET", "instruments"),
        ("GET", "instruments/status"),
        ("GET", "instruments/PF_XBTUSD/status"),
        ("GET", "tickers"),
        ("GET", "tickers/PF_XBTUSD"),
        ("GET", "openorders"),
        ("GET", "openpositions"),
        ("GET", "fills"),
        ("GET", "accounts"),
        ("GET", "leveragepreferences"),
        ("GET", "pnlpreferences"),
        ("POST", "orders/status"),
        ("POST", "cancelallorders"),
        ("POST", "cancelallordersafter"),
    ],
)
def test_every_v3_answer_carries_result_and_an_iso_millisecond_server_time(
    client: Client, method: str, endpoint: str
) -> None:
    params = {"symbol": "PF_XBTUSD"} if endpoint == "orderbook" else None
    body = client.v3(method, endpoint, params)
    assert body["result"] == "success", body
    assert ISO_MS.match(body["serverTime"])


def test_an_unknown_path_is_a_spring_404_and_a_wrong_method_a_405(fake_kraken: FakeKraken) -> None:
    response = requests.get(fake_kraken.url + "/derivatives/api/v3/sendorderorderType=lmt", timeout=5)
    assert response.status_code == 404
    assert (
        response.json()["error"] == "Not Found"
        and response.json()["path"] == "/derivatives/api/v3/sendorderorderType=lmt"
    )
    assert requests.get(fake_kraken.url + "/derivatives/api/v3/sendorder", timeout=5).status_code == 405


# -- sendorder --------------------------------------------------------------------------------------------------------


def test_an_immediate_fill_still_says_placed_and_reports_executions(client: Client, fake_kraken: FakeKraken) -> None:
    status = market(client, "buy", "0.01", cliOrdId="fill-1")
    assert status["status"] == "placed" and status["cliOrdId"] == "fill-1"
    assert ISO_MS.match(status["receivedTime"])
    (event,) = status["orderEvents"]
    assert event["type"] == "EXECUTION" and event["price"] == 60000 and event["amount"] == D("0.01")
    prior = event["orderPriorExecution"]
    assert prior["type"] == "ioc" and prior["limitPrice"] == 60600  # mkt = IOC with 1% protection
    assert prior["orderId"] == status["order_id"] and prior["cliOrdId"] == "fill-1" and prior["filled"] == 0
    assert fake_kraken.position(FAKE_KEY, "PF_XBTUSD") == D("0.01")


def test_a_resting_limit_has_a_place_event_and_no_cli_ord_id_when_none_was_sent(client: Client) -> None:
    status = client.send(orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="55000")
    assert "cliOrdId" not in status
    (event,) = status["orderEvents"]
    assert event["type"] == "PLACE" and event["reducedQuantity"] is None
    assert set(event["order"]) == {
        "orderId",
        "cliOrdId",
        "type",
        "symbol",
        "side",
        "quantity",
        "filled",
        "limitPrice",
        "reduceOnly",
        "timestamp",
        "lastUpdateTimestamp",
    }
    assert event["order"]["type"] == "lmt" and event["order"]["cliOrdId"] is None


def test_a_stop_is_placed_as_a_trigger(client: Client) -> None:
    market(client, "buy", "0.01")
    status = client.send(
        orderType="stp",
        symbol="PF_XBTUSD",
        side="sell",
        size="0.01",
        stopPrice="58000",
        triggerSignal="mark",
        reduceOnly="true",
        cliOrdId="wcs-1",
    )
    (event,) = status["orderEvents"]
    trigger = event["orderTrigger"]
    assert event["type"] == "PLACE" and trigger["clientId"] == "wcs-1"
    assert (trigger["type"], trigger["triggerPrice"], trigger["triggerSide"], trigger["triggerSignal"]) == (
        "ioc",  # "ioc" if stop market (CCXT's annotation of Kraken's answer)
        58000,
        "trigger_below",
        "mark_price",
    )
    assert trigger["reduceOnly"] is True and trigger["limitPrice"] is None


def test_a_rejection_is_http_200_success_with_the_status_and_a_reject_event(client: Client) -> None:
    response = client.request(
        "POST",
        "/derivatives/api/v3/sendorder",
        {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.00015"},
    )
    assert response.status_code == 200
    status = response.json()["sendStatus"]
    assert response.json()["result"] == "success" and status["status"] == "invalidSize"
    (event,) = status["orderEvents"]
    assert event["type"] == "REJECT" and event["reason"] == "INVALID_QUANTITY" and event["uid"] == status["order_id"]


def test_reduce_only_shrinks_and_reports_the_reduced_quantity(client: Client) -> None:
    market(client, "buy", "0.01")
    status = client.send(
        orderType="lmt", symbol="PF_XBTUSD", side="sell", size="0.05", limitPrice="65000", reduceOnly="true"
    )
    (event,) = status["orderEvents"]
    assert event["reducedQuantity"] == D("0.04") and event["order"]["quantity"] == D("0.01")
    flat = client.send(orderType="mkt", symbol="PF_XBTUSD", side="buy", size="0.01", reduceOnly="true")
    assert flat["status"] == "wouldNotReducePosition"
    assert flat["orderEvents"][0]["reason"] == "WOULD_NOT_REDUCE_POSITION"


def test_a_negative_trade_precision_market_sizes_in_thousands(client: Client) -> None:
    assert client.send(orderType="mkt", symbol="PF_PEPEUSD", side="buy", size="98123")["status"] == "invalidSize"
    status = client.send(orderType="mkt", symbol="PF_PEPEUSD", side="buy", size="98000")
    assert status["status"] == "placed"
    assert status["orderEvents"][0]["price"] == D("0.00001")


def test_numbers_are_exact_decimals_never_floats_in_exponent_form(fake_kraken: FakeKraken, client: Client) -> None:
    client.send(orderType="mkt", symbol="PF_PEPEUSD", side="buy", size="1000")
    raw = client.request("GET", "/derivatives/api/v3/openpositions").text
    assert '"price":0.00001' in raw and "e-" not in raw.lower()
    instruments = client.request("GET", "/derivatives/api/v3/instruments").text
    assert '"tickSize":0.000000001' in instruments


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"symbol": "PF_XBTUSD", "side": "buy", "size": "1"}, "requiredArgumentMissing"),
        ({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "1"}, "requiredArgumentMissing"),
        ({"orderType": "stp", "symbol": "PF_XBTUSD", "side": "sell", "size": "1"}, "requiredArgumentMissing"),
        ({"orderType": "mkt", "symbol": "PF_NOPEUSD", "side": "buy", "size": "1"}, "invalidArgument"),
    ],
)
def test_missing_arguments_and_unknown_markets_are_classic_errors(client: Client, params: dict, error: str) -> None:  # type: ignore[type-arg]
    response = client.request("POST", "/derivatives/api/v3/sendorder", params)
    assert response.status_code == 200
    assert response.json()["result"] == "error" and response.json()["error"] == error


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orderType", "market"),
        ("orderType", "trailing_stop"),  # Kraken's demo answered "invalid order type" too (pitfall 16)
        ("side", "long"),
        ("size", "a lot"),
        ("size", "NaN"),
        ("reduceOnly", "yes"),
        ("triggerSignal", "midpoint"),
    ],
)
def test_bad_values_are_a_structured_400(client: Client, field: str, value: str) -> None:
    params = {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.001", field: value}
    response = client.request("POST", "/derivatives/api/v3/sendorder", params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "BAD_REQUEST" and body["result"] == "error"
    assert body["errors"] == [{"code": 11, "message": f"Argument invalid: {field}"}]


def test_python_style_booleans_and_the_spot_trigger_signal_are_accepted(client: Client) -> None:
    market(client, "buy", "0.01")
    status = client.send(
        orderType="stp",
        symbol="pf_xbtusd",
        side="sell",
        size="0.01",
        stopPrice="58000",
        reduceOnly="True",
        triggerSignal="spot",
    )
    assert status["status"] == "placed" and status["orderEvents"][0]["orderTrigger"]["triggerSignal"] == "spot_price"


def test_a_late_request_is_refused_by_process_before(client: Client, fake_kraken: FakeKraken) -> None:
    status = market(client, "buy", "0.01", processBefore="2020-01-01T00:00:00Z", cliOrdId="late")
    assert status["status"] == "wouldProcessAfterSpecifiedTime" and status["orderEvents"] == []
    assert market(client, "buy", "0.01", processBefore="3033-11-08T19:56:35.441899Z")["status"] == "placed"
    assert fake_kraken.position(FAKE_KEY, "PF_XBTUSD") == D("0.01")


# -- lookups ----------------------------------------------------------------------------------------------------------


def test_orders_status_takes_repeated_keys_and_covers_finished_orders_for_five_seconds() -> None:
    clock = ManualClock()
    with FakeKraken(accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET}], clock=clock) as fake:
        client = Client(fake.url)
        market(client, "buy", "0.01", cliOrdId="done")
        client.send(orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="50000", cliOrdId="open")
        query = [("cliOrdIds", "done"), ("cliOrdIds", "open"), ("cliOrdIds", "never")]
        orders = client.v3("POST", "orders/status", query)["orders"]
        assert {(o["order"]["cliOrdId"], o["status"]) for o in orders} == {
            ("done", "FULLY_EXECUTED"),
            ("open", "ENTERED_BOOK"),
        }
        done = next(o for o in orders if o["order"]["cliOrdId"] == "done")
        assert done["order"]["type"] == "ORDER" and done["updateReason"] == "FULL_FILL" and done["error"] is None
        clock.advance(6)
        orders = client.v3("POST", "orders/status", query)["orders"]  # pitfall 11: only the last 5 s
        assert [o["order"]["cliOrdId"] for o in orders] == ["open"]
        by_id = client.v3("GET", "orders/status", {"orderIds": orders[0]["order"]["orderId"]})["orders"]
        assert by_id[0]["order"]["cliOrdId"] == "open"  # CCXT's GET works too


def test_open_orders_show_limits_and_stops(client: Client) -> None:
    market(client, "buy", "0.02")
    client.send(orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="50000", cliOrdId="l1")
    client.send(orderType="stp", symbol="PF_XBTUSD", side="sell", size="0.02", stopPrice="55000", reduceOnly="true")
    rows = client.v3("GET", "openorders")["openOrders"]
    stop, limit = rows  # newest first
    assert (limit["orderType"], limit["status"], limit["cliOrdId"], limit["limitPrice"]) == (
        "lmt",
        "untouched",
        "l1",
        50000,
    )
    assert (stop["orderType"], stop["stopPrice"], stop["triggerSignal"], stop["reduceOnly"]) == (
        "stop",
        55000,
        "mark",
        True,
    )
    assert "cliOrdId" not in stop and stop["unfilledSize"] == D("0.02")


def test_a_stop_triggers_after_set_mark_and_the_venue_shows_it_everywhere(
    fake_kraken: FakeKraken, client: Client
) -> None:
    market(client, "buy", "0.05")
    client.send(
        orderType="stp",
        symbol="PF_XBTUSD",
        side="sell",
        size="0.05",
        stopPrice="58000",
        reduceOnly="true",
        cliOrdId="wcs",
    )
    fake_kraken.set_mark("PF_XBTUSD", D("58100"))
    assert client.v3("GET", "openpositions")["openPositions"][0]["size"] == D("0.05")
    events = fake_kraken.set_mark("PF_XBTUSD", D("57990"))
    assert [e.kind for e in events] == ["triggered", "fill"]
    assert client.v3("GET", "openpositions")["openPositions"] == []
    assert client.v3("GET", "openorders")["openOrders"] == []
    newest = client.v3("GET", "fills")["fills"][0]
    assert (newest["cliOrdId"], newest["side"], newest["price"], newest["fillType"]) == ("wcs", "sell", 57990, "taker")
    status = client.v3("POST", "orders/status", {"cliOrdIds": "wcs"})["orders"][0]
    assert (
        status["status"] == "FULLY_EXECUTED" and status["order"]["priceTriggerOptions"]["triggerSignal"] == "MARK_PRICE"
    )
    assert status["order"]["triggerTime"] is not None


def test_open_positions_and_fills_shapes(client: Client) -> None:
    market(client, "sell", "0.01", cliOrdId="short")
    (position,) = client.v3("GET", "openpositions")["openPositions"]
    assert position == {
        "side": "short",
        "symbol": "PF_XBTUSD",
        "price": 60000,
        "fillTime": position["fillTime"],
        "size": D("0.01"),
        "unrealizedFunding": 0,
        "pnlCurrency": "USD",
    }
    (fill,) = client.v3("GET", "fills")["fills"]
    assert set(fill) == {"fill_id", "symbol", "side", "order_id", "cliOrdId", "size", "price", "fillTime", "fillType"}
    assert client.v3("GET", "fills", {"lastFillTime": fill["fillTime"]})["fills"] == []  # strictly before


def test_accounts_has_the_flex_shape(fake_kraken: FakeKraken, client: Client) -> None:
    market(client, "buy", "0.1")
    fake_kraken.set_mark("PF_XBTUSD", D(61000))
    accounts = client.v3("GET", "accounts")["accounts"]
    flex = accounts["flex"]
    assert accounts["cash"] == {"type": "cashAccount", "balances": {}}
    assert flex["type"] == "multiCollateralMarginAccount"
    assert flex["balanceValue"] == D(9997)  # 10,000 less the 3 USD taker fee
    assert flex["pnl"] == 100 and flex["portfolioValue"] == flex["marginEquity"] == D(10097)
    assert flex["initialMargin"] == 122 and flex["maintenanceMargin"] == 61
    assert flex["availableMargin"] == D(10097) - 122
    assert flex["currencies"]["USD"]["quantity"] == D(9997)


# -- cancels and edits ------------------------------------------------------------------------------------------------


def test_cancel_order_answers_cancelled_filled_not_found(client: Client) -> None:
    resting = client.send(
        orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="50000", cliOrdId="c1"
    )
    filled = market(client, "buy", "0.01")
    cancelled = client.v3("POST", "cancelorder", {"cliOrdId": "c1"})["cancelStatus"]
    assert cancelled["status"] == "cancelled" and cancelled["order_id"] == resting["order_id"]
    assert cancelled["orderEvents"][0]["type"] == "CANCEL" and cancelled["orderEvents"][0]["order"]["cliOrdId"] == "c1"
    assert client.v3("POST", "cancelorder", {"order_id": filled["order_id"]})["cancelStatus"]["status"] == "filled"
    gone = client.v3("POST", "cancelorder", {"cliOrdId": "c1"})["cancelStatus"]
    assert set(gone) == {"status", "receivedTime"} and gone["status"] == "notFound"
    assert client.v3("POST", "cancelorder", {})["error"] == "requiredArgumentMissing"


def test_cancel_all_orders_optionally_for_one_symbol(client: Client) -> None:
    assert client.v3("POST", "cancelallorders")["cancelStatus"]["status"] == "noOrdersToCancel"
    client.send(orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="50000", cliOrdId="x1")
    client.send(orderType="lmt", symbol="PF_ETHUSD", side="buy", size="0.01", limitPrice="2000")
    status = client.v3("POST", "cancelallorders", {"symbol": "PF_XBTUSD"})["cancelStatus"]
    assert status["cancelOnly"] == "PF_XBTUSD" and status["status"] == "cancelled"
    assert [o["cliOrdId"] for o in status["cancelledOrders"]] == ["x1"]
    assert status["orderEvents"][0]["order"]["quantity"] == "0.01"  # strings here, as in Kraken's 2024 sample
    assert client.v3("POST", "cancelallorders")["cancelStatus"]["cancelOnly"] == "all"


def test_the_dead_mans_switch_cancels_everything_when_it_expires() -> None:
    clock = ManualClock()
    with FakeKraken(accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET}], clock=clock) as fake:
        client = Client(fake.url)
        client.send(orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="50000")
        status = client.v3("POST", "cancelallordersafter", {"timeout": "60"})["status"]
        assert status["triggerTime"] > status["currentTime"]
        clock.advance(59)
        assert len(client.v3("GET", "openorders")["openOrders"]) == 1
        clock.advance(2)
        assert client.v3("GET", "openorders")["openOrders"] == []
        assert client.v3("POST", "cancelallordersafter", {"timeout": "0"})["status"]["triggerTime"] == "0"


def test_edit_order(client: Client) -> None:
    placed = client.send(
        orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="50000", cliOrdId="e1"
    )
    body = client.v3("POST", "editorder", {"orderId": placed["order_id"], "size": "0.02", "limitPrice": "51000"})
    edit = body["editStatus"]
    assert edit["status"] == "edited" and edit["orderId"] == placed["order_id"] and edit["cliOrdId"] == "e1"
    (event,) = edit["orderEvents"]
    assert event["type"] == "EDIT" and event["old"]["limitPrice"] == 50000 and event["new"]["quantity"] == D("0.02")
    missing = client.v3("POST", "editorder", {"orderId": "nope", "size": "1"})["editStatus"]
    assert missing["status"] == "orderForEditNotFound"


def test_batch_order_sends_edits_and_cancels_from_a_json_field(fake_kraken: FakeKraken, client: Client) -> None:
    resting = client.send(orderType="lmt", symbol="PF_XBTUSD", side="buy", size="0.01", limitPrice="50000")
    batch = {
        "batchOrder": [
            {
                "order": "send",
                "order_tag": "1",
                "orderType": "lmt",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": 0.01,
                "limitPrice": 49000,
                "cliOrdId": "b1",
            },
            {
                "order": "send",
                "order_tag": "2",
                "orderType": "mkt",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": 0.001,
            },
            {"order": "send", "orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": 0.001},
            {"order": "edit", "order_id": resting["order_id"], "limitPrice": 50500},
            {"order": "cancel", "cliOrdId": "b1"},
            {"order": "cancel", "order_id": "no-such-order"},
        ]
    }
    result = client.v3("POST", "batchorder", {"json": json.dumps(batch)})["batchStatus"]
    assert [r["status"] for r in result] == [
        "placed",
        "placed",
        "requiredArgumentMissing",
        "edited",
        "cancelled",
        "notFound",
    ]
    assert result[0]["order_tag"] == "1" and result[0]["cliOrdId"] == "b1" and "dateTimeReceived" in result[0]
    assert result[1]["orderEvents"][0]["type"] == "EXECUTION"
    assert fake_kraken.position(FAKE_KEY, "PF_XBTUSD") == D("0.001")
    # CCXT's form: the raw JSON as the body, unencoded; signed as sent.
    raw = "json=" + json.dumps({"batchOrder": [{"order": "cancel", "order_id": resting["order_id"]}]})
    cancelled = client.json("POST", "/derivatives/api/v3/batchorder", None, body=raw)["batchStatus"]
    assert cancelled[0]["status"] == "cancelled"
    assert client.v3("POST", "batchorder", {"json": "{not json"})["error"] == "Json Parse Error"
    assert client.v3("POST", "batchorder")["error"] == "requiredArgumentMissing"


# -- preferences and market data --------------------------------------------------------------------------------------


def test_leverage_and_pnl_preferences(client: Client) -> None:
    assert client.v3("PUT", "leveragepreferences", {"symbol": "PF_XBTUSD", "maxLeverage": "5"})["result"] == "success"
    assert client.v3("GET", "leveragepreferences")["leveragePreferences"] == [{"symbol": "PF_XBTUSD", "maxLeverage": 5}]
    market(client, "buy", "0.01")
    assert client.v3("GET", "openpositions")["openPositions"][0]["maxFixedLeverage"] == 5
    client.v3("PUT", "leveragepreferences", {"symbol": "PF_XBTUSD"})  # no maxLeverage: back to cross
    assert client.v3("GET", "leveragepreferences")["leveragePreferences"] == []
    response = client.request(
        "PUT", "/derivatives/api/v3/leveragepreferences", {"symbol": "PF_NOPEUSD", "maxLeverage": "5"}
    )
    assert response.status_code == 500
    assert response.json()["errors"] == [{"code": 87, "message": "CONTRACT_DOES_NOT_EXIST"}]
    assert client.v3("PUT", "pnlpreferences", {"symbol": "PF_XBTUSD", "pnlPreference": "USD"})["result"] == "success"
    assert client.v3("GET", "pnlpreferences")["preferences"] == [{"symbol": "PF_XBTUSD", "pnlCurrency": "USD"}]


def test_instruments_match_kraken_precision_rules(client: Client) -> None:
    rows = {r["symbol"]: r for r in client.v3("GET", "instruments")["instruments"]}
    assert set(rows) == {"PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PF_PEPEUSD"}
    xbt = rows["PF_XBTUSD"]
    assert (xbt["tickSize"], xbt["contractValueTradePrecision"], xbt["type"], xbt["pair"]) == (
        1,
        4,
        "flexible_futures",
        "XBT:USD",
    )
    assert xbt["marginLevels"] == [
        {"numNonContractUnits": 0, "initialMargin": D("0.02"), "maintenanceMargin": D("0.01")}
    ]
    assert rows["PF_PEPEUSD"]["contractValueTradePrecision"] == -3
    assert (rows["PF_ETHUSD"]["tickSize"], rows["PF_SOLUSD"]["contractValueTradePrecision"]) == (D("0.1"), 2)


def test_tickers_send_numbers_as_strings_and_reflect_suspension(fake_kraken: FakeKraken, client: Client) -> None:
    fake_kraken.set_price("PF_XBTUSD", D("60000.5"), index=D(60010))
    ticker = client.v3("GET", "tickers/PF_XBTUSD")["ticker"]
    assert (ticker["markPrice"], ticker["indexPrice"], ticker["bid"], ticker["ask"]) == (
        "60000.5",
        "60010",
        "60000",
        "60001",
    )
    assert ticker["suspended"] is False and ticker["tag"] == "perpetual"
    fake_kraken.suspend("PF_XBTUSD")
    rows = {t["symbol"]: t for t in client.v3("GET", "tickers")["tickers"]}
    assert rows["PF_XBTUSD"]["suspended"] is True
    assert client.send(orderType="mkt", symbol="PF_XBTUSD", side="buy", size="0.001")["status"] == "marketSuspended"
    assert client.request("GET", "/derivatives/api/v3/tickers/PF_NOPEUSD").status_code == 404


def test_the_order_book_is_synthesised_around_the_mark(client: Client) -> None:
    book = client.v3("GET", "orderbook", {"symbol": "PF_ETHUSD"})["orderBook"]
    assert book["bids"][0] == [D("2999.9"), D("0.01")] and book["asks"][0] == [D("3000.1"), D("0.01")]
    assert [b[0] for b in book["bids"]] == sorted((b[0] for b in book["bids"]), reverse=True)
    assert client.v3("GET", "orderbook")["error"] == "requiredArgumentMissing"


def test_instrument_status(client: Client) -> None:
    rows = client.v3("GET", "instruments/status")["instrumentStatus"]
    assert rows[0] == {
        "tradeable": "PF_XBTUSD",
        "experiencingDislocation": False,
        "priceDislocationDirection": None,
        "experiencingExtremeVolatility": False,
        "extremeVolatilityInitialMarginMultiplier": 1,
    }
    assert client.v3("GET", "instruments/PF_ETHUSD/status")["tradeable"] == "PF_ETHUSD"


# -- history ----------------------------------------------------------------------------------------------------------


def test_account_log_rows_appear_after_fills_with_fees_and_pnl(fake_kraken: FakeKraken, client: Client) -> None:
    market(client, "buy", "0.1")
    fake_kraken.set_mark("PF_XBTUSD", D(61000))
    sold = market(client, "sell", "0.1")
    logs = client.history("account-log")["logs"]
    first = logs[-1]["id"]  # ascending integers from wherever this start of the fake began
    assert [row["id"] for row in logs] == [first + 4, first + 3, first + 2, first + 1, first]  # newest first
    cash = next(r for r in logs if r["asset"] == "usd" and r["realized_pnl"])
    assert (cash["info"], cash["realized_pnl"], cash["fee"], cash["trade_price"]) == (
        "futures trade",
        100,
        D("3.05"),
        61000,
    )
    assert cash["execution"] == sold["orderEvents"][0]["executionId"] and cash["contract"] == "pf_xbtusd"
    assert cash["new_balance"] == cash["old_balance"] + 100 - D("3.05")
    leg = next(r for r in logs if r["asset"] == "pf_xbtusd" and r["execution"] == cash["execution"])
    assert (leg["old_balance"], leg["new_balance"], leg["fee"]) == (D("0.1"), 0, None)
    asc = client.history("account-log", {"sort": "asc", "count": 2})["logs"]
    assert [r["id"] for r in asc] == [first, first + 1] and asc[0]["info"] == "cross-exchange transfer"
    after = client.history("account-log", {"from": first + 3, "sort": "asc"})["logs"]
    assert [r["id"] for r in after] == [first + 3, first + 4]
    v2 = client.json("GET", "/api/history/v2/account-log")  # PKS's path
    assert len(v2["logs"]) == 5 and set(v2) == {"accountUid", "logs"}


def test_history_executions_orders_triggers_and_positions(fake_kraken: FakeKraken, client: Client) -> None:
    market(client, "buy", "0.1", cliOrdId="h-open")
    client.send(
        orderType="stp",
        symbol="PF_XBTUSD",
        side="sell",
        size="0.1",
        stopPrice="59000",
        reduceOnly="true",
        cliOrdId="h-stop",
    )
    fake_kraken.set_mark("PF_XBTUSD", D(58900))

    executions = client.history("executions", {"sort": "asc"})
    assert executions["len"] == 2 and executions["accountUid"] == fake_kraken.account_id(FAKE_KEY)
    first = executions["elements"][0]["event"]["Execution"]["execution"]
    assert first["takerOrder"]["clientId"] == "h-open" and first["takerOrder"]["direction"] == "Buy"
    assert first["takerOrderData"]["fee"] == "3" and first["makerOrderData"] is None
    assert first["quantity"] == "0.1" and first["usdValue"] == "6000"

    orders = client.history("orders", {"sort": "asc"})["elements"]
    names = [next(iter(e["event"])) for e in orders]
    assert names == ["OrderPlaced", "OrderUpdated", "OrderPlaced", "OrderUpdated"]
    assert orders[2]["event"]["OrderPlaced"]["order"]["clientId"] == "h-stop"  # the stop, once it fired

    triggers = client.history("triggers", {"sort": "asc"})["elements"]
    assert [next(iter(e["event"])) for e in triggers] == ["OrderTriggerPlaced", "OrderTriggerActivated"]
    options = triggers[0]["event"]["OrderTriggerPlaced"]["order"]["triggerOptions"]
    assert (
        options["triggerSignal"] == "MarkPrice"
        and options["triggerSide"] == "Below"
        and options["triggerPrice"] == "59000"
    )

    positions = client.history("positions", {"sort": "asc"})["elements"]
    assert [p["positionChange"] for p in positions] == ["open", "close"]
    assert positions[1]["realizedPnL"] == "-110" and positions[1]["feeCurrency"] == "USD"


def test_history_pages_with_a_continuation_token(fake_kraken: FakeKraken, client: Client) -> None:
    for _ in range(3):
        market(client, "buy", "0.001")
    first = client.history("executions", {"count": 2})
    assert first["len"] == 2 and first["continuationToken"]
    rest = client.history("executions", {"count": 2, "continuation_token": first["continuationToken"]})
    assert rest["len"] == 1 and "continuationToken" not in rest
    assert client.request("GET", "/api/history/v3/executions", {"sort": "sideways"}).status_code == 400


def test_account_log_csv(client: Client) -> None:
    market(client, "buy", "0.001")
    response = client.request("GET", "/api/history/v2/accountlogcsv")
    assert response.headers["Content-Type"].startswith("text/csv")
    lines = response.text.strip().splitlines()
    assert lines[0].startswith("asset,booking_uid") and len(lines) == 4
