"""A real third-party client, python-kraken-sdk 3.5.1, pointed at the fake by base URL alone, unchanged.

If the SDK (which Kraken's own docs link to, and whose tests ran against the Kraken demo until it was retired)
works against the fake without accommodation, the fake speaks Kraken's wire format, signing included. What the
SDK does on the wire (read from its source, ``kraken/base_api/__init__.py`` and ``kraken/futures/*.py``):

* signs ``query string + urlencoded body`` with the ``/derivatives`` prefix stripped, Nonce =
  ``int(time.time() * 100_000_000)``, headers ``APIKey``/``Authent``/``Nonce``;
* POST parameters go in a form body; PUT parameters in the query string (``set_leverage_preference``);
* ``reduceOnly=True`` comes over capitalised (Python's urlencode of True), lists as repeated keys (doseq);
* history calls go to ``/api/history/v2/...`` (not v3);
* ``triggerSignal`` is validated client-side as ``mark|spot|last`` (Kraken's spec says ``index``);
* any non-200 answer is raised as a bare ``Exception("<code> - <body>")``; a 200 body with ``error`` is mapped to
  ``kraken.exceptions`` by name, and so is a ``sendStatus.status`` it knows (e.g. insufficientAvailableFunds).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from kraken.exceptions import KrakenAuthenticationError, KrakenInsufficientAvailableFundsError
from kraken.futures import Market, Trade, User

from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET
from exchanges.fake.server import FakeKraken


def test_python_kraken_sdk_trades_against_the_fake_unchanged(fake_kraken: FakeKraken) -> None:
    url = fake_kraken.url
    market = Market(key=FAKE_KEY, secret=FAKE_SECRET, url=url)
    user = User(key=FAKE_KEY, secret=FAKE_SECRET, url=url)
    trade = Trade(key=FAKE_KEY, secret=FAKE_SECRET, url=url)

    instruments = {i["symbol"]: i for i in market.get_instruments()["instruments"]}
    assert instruments["PF_XBTUSD"]["contractValueTradePrecision"] == 4
    tickers = {t["symbol"]: t for t in market.get_tickers()["tickers"]}
    assert Decimal(tickers["PF_XBTUSD"]["markPrice"]) == 60000
    assert market.get_orderbook(symbol="PF_XBTUSD")["orderBook"]["asks"]
    assert market.get_instruments_status(instrument="PF_XBTUSD")["tradeable"] == "PF_XBTUSD"

    wallets = user.get_wallets()
    assert wallets["accounts"]["flex"]["availableMargin"] == 10000
    assert user.get_open_positions()["openPositions"] == []

    bought = trade.create_order(orderType="mkt", size="0.01", side="buy", symbol="PF_XBTUSD")
    assert bought["sendStatus"]["status"] == "placed"
    assert bought["sendStatus"]["orderEvents"][0]["type"] == "EXECUTION"
    (held,) = user.get_open_positions()["openPositions"]
    assert (held["side"], held["size"]) == ("long", 0.01)

    stop = trade.create_order(
        orderType="stp",
        size="0.01",
        side="sell",
        symbol="PF_XBTUSD",
        stopPrice=58000,
        reduceOnly=True,  # sent as "True"
        triggerSignal="mark",
        cliOrdId="sdk-stop-1",
    )
    assert stop["sendStatus"]["status"] == "placed" and stop["sendStatus"]["cliOrdId"] == "sdk-stop-1"
    (status,) = trade.get_orders_status(cliOrdIds=["sdk-stop-1"])["orders"]
    assert status["status"] == "TRIGGER_PLACED" and status["order"]["reduceOnly"] is True
    assert [o["cliOrdId"] for o in user.get_open_orders()["openOrders"]] == ["sdk-stop-1"]

    cancelled = trade.cancel_order(cliOrdId="sdk-stop-1")
    assert cancelled["cancelStatus"]["status"] == "cancelled"
    assert user.get_open_orders()["openOrders"] == []

    (fill,) = trade.get_fills()["fills"]
    assert fill["order_id"] == bought["sendStatus"]["order_id"] and fill["fillType"] == "taker"
    log = user.get_account_log(count=10)  # /api/history/v2/account-log
    assert any(row["execution"] == fill["fill_id"] and row["asset"] == "usd" for row in log["logs"])
    assert user.get_execution_events()["len"] == 1  # /api/history/v2/executions
    assert fake_kraken.auth_failures == [] and fake_kraken.errors == []


def test_python_kraken_sdk_maps_the_fakes_errors_as_it_maps_krakens(fake_kraken: FakeKraken) -> None:
    trade = Trade(key=FAKE_KEY, secret=FAKE_SECRET, url=fake_kraken.url)
    with pytest.raises(KrakenInsufficientAvailableFundsError):
        trade.create_order(orderType="mkt", size="100", side="buy", symbol="PF_XBTUSD")
    fake_kraken.set_mark("PF_XBTUSD", Decimal(60000))
    refused = trade.create_order(orderType="mkt", size="0.01", side="buy", symbol="PF_XBTUSD", reduceOnly=True)
    assert refused["sendStatus"]["status"] == "wouldNotReducePosition"  # a word the SDK passes through
    wrong = Trade(key=FAKE_KEY, secret=FAKE_SECRET.replace("y", "z", 1), url=fake_kraken.url)
    with pytest.raises(KrakenAuthenticationError):
        wrong.get_fills()


def test_python_kraken_sdk_batch_leverage_and_dead_mans_switch(fake_kraken: FakeKraken) -> None:
    url = fake_kraken.url
    trade = Trade(key=FAKE_KEY, secret=FAKE_SECRET, url=url)
    market = Market(key=FAKE_KEY, secret=FAKE_SECRET, url=url)
    batch = trade.create_batch_order(
        batchorder_list=[
            {
                "order": "send",
                "order_tag": "1",
                "orderType": "lmt",
                "symbol": "PF_XBTUSD",
                "side": "buy",
                "size": 0.01,
                "limitPrice": 50000,
                "cliOrdId": "sdk-b1",
            },
            {"order": "cancel", "cliOrdId": "sdk-b1"},
        ]
    )
    assert [s["status"] for s in batch["batchStatus"]] == ["placed", "cancelled"]
    assert market.set_leverage_preference(symbol="PF_XBTUSD", maxLeverage=5)["result"] == "success"  # PUT, query
    assert market.get_leverage_preference()["leveragePreferences"] == [{"symbol": "PF_XBTUSD", "maxLeverage": 5}]
    assert trade.dead_mans_switch(timeout=60)["status"]["triggerTime"] != "0"
    assert trade.dead_mans_switch(timeout=0)["status"]["triggerTime"] == "0"
