"""The fake's own controls: the Python API, the /_fake/ HTTP control API, and `manage.py fake_kraken`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from fake_testkit import Client

from exchanges.base import InstrumentSpec
from exchanges.fake.credentials import FAKE_KEY, FAKE_READ_ONLY_KEY, FAKE_READ_ONLY_SECRET, FAKE_SECRET
from exchanges.fake.instruments import linear_perpetual
from exchanges.fake.server import FakeKraken

ROOT = Path(__file__).resolve().parents[3]


def control(fake: FakeKraken, method: str, route: str, json: object = None, **params: str) -> dict:  # type: ignore[type-arg]
    response = requests.request(method, f"{fake.url}/_fake/{route}", json=json, params=params, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_starts_fast_on_a_free_port_and_works_as_a_context_manager() -> None:
    with FakeKraken() as fake:
        assert fake.url.startswith("http://127.0.0.1:") and not fake.url.endswith("/")
        assert requests.get(fake.url + "/derivatives/api/v3/instruments", timeout=5).ok
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(fake.url + "/derivatives/api/v3/instruments", timeout=1)
    with pytest.raises(ValueError, match="loopback"):
        FakeKraken(host="0.0.0.0")


def test_custom_instruments_and_accounts_at_construction() -> None:
    eth = linear_perpetual("ETH", tick="0.1", cvtp=3)
    plain: InstrumentSpec = linear_perpetual("LTC", tick="0.01", cvtp=1)
    with FakeKraken(
        instruments=[(eth, Decimal(2500)), plain],
        accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET, "collateral": "500"}],
    ) as fake:
        client = Client(fake.url)
        assert {i["symbol"] for i in client.v3("GET", "instruments")["instruments"]} == {"PF_ETHUSD", "PF_LTCUSD"}
        assert client.v3("GET", "accounts")["accounts"]["flex"]["balanceValue"] == 500
        assert fake.engine.price("PF_ETHUSD").mark == 2500


def test_the_python_controls(fake_kraken: FakeKraken) -> None:
    client = Client(fake_kraken.url)
    fake_kraken.fund(FAKE_KEY, Decimal(2500))
    assert client.v3("GET", "accounts")["accounts"]["flex"]["balanceValue"] == 12500
    fake_kraken.set_liquidity("PF_XBTUSD", Decimal("0.004"))
    status = client.send(orderType="mkt", symbol="PF_XBTUSD", side="buy", size="0.01")
    assert status["orderEvents"][0]["amount"] == Decimal("0.004")  # the rest of the IOC was cancelled
    fake_kraken.set_liquidity("PF_XBTUSD", None)
    fake_kraken.set_instrument("PF_XBTUSD", post_only=True)
    assert client.send(orderType="mkt", symbol="PF_XBTUSD", side="buy", size="0.01")["status"] == "marketIsPostOnly"
    assert fake_kraken.position(FAKE_KEY, "PF_XBTUSD") == Decimal("0.004")
    fake_kraken.reset_calls()
    assert fake_kraken.calls("sendorder") == 0 and fake_kraken.calls("*") == 0


def test_the_random_walk_is_seeded_and_moves_on_the_tick_grid() -> None:
    marks = []
    for _ in range(2):
        with FakeKraken(seed=7) as fake:
            for _ in range(5):
                fake.walk_step()
            marks.append([(fake.engine.price(s.symbol).mark, s.tick_size) for s in fake.engine.instruments()])
    assert marks[0] == marks[1] and marks[0][0][0] != Decimal(60000)
    assert all(mark % tick == 0 and mark > 0 for mark, tick in marks[0])


def test_the_http_control_api(fake_kraken: FakeKraken) -> None:
    assert control(fake_kraken, "GET", "health") == {"ok": True}
    control(
        fake_kraken,
        "POST",
        "accounts",
        {"key": FAKE_READ_ONLY_KEY, "secret": FAKE_READ_ONLY_SECRET, "collateral": "50"},
    )
    accounts = {a["key"]: a for a in control(fake_kraken, "GET", "accounts")["accounts"]}
    assert accounts[FAKE_READ_ONLY_KEY]["collateral"] == "50" and "secret" not in accounts[FAKE_READ_ONLY_KEY]
    assert control(fake_kraken, "POST", "fund", {"key": FAKE_READ_ONLY_KEY, "amount": "25.5"})["collateral"] == "75.5"

    client = Client(fake_kraken.url)
    client.send(orderType="mkt", symbol="PF_XBTUSD", side="buy", size="0.01")
    client.send(orderType="stp", symbol="PF_XBTUSD", side="sell", size="0.01", stopPrice="59000", reduceOnly="true")
    events = control(fake_kraken, "POST", "mark", {"symbol": "PF_XBTUSD", "mark": "58000"})["events"]
    assert [e["kind"] for e in events] == ["triggered", "fill"] and events[1]["fill"]["price"] == "58000"
    assert control(fake_kraken, "GET", "positions", key=FAKE_KEY)["positions"] == []

    control(
        fake_kraken,
        "POST",
        "faults",
        {"endpoint": "sendorder", "kind": "http_5xx", "count": 2, "params": {"status": 503}},
    )
    control(fake_kraken, "POST", "faults", {"endpoint": "openpositions", "kind": "latency", "seconds": 0.05})
    faults = control(fake_kraken, "GET", "faults")["faults"]
    assert [(f["endpoint"], f["kind"], f["remaining"]) for f in faults] == [
        ("sendorder", "http_5xx", 2),
        ("openpositions", "latency", 1),
    ]
    response = client.request(
        "POST",
        "/derivatives/api/v3/sendorder",
        {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.01"},
    )
    assert response.status_code == 503
    control(fake_kraken, "DELETE", "faults")
    assert control(fake_kraken, "GET", "faults")["faults"] == []

    assert control(fake_kraken, "GET", "calls", endpoint="sendorder") == {"endpoint": "sendorder", "calls": 3}
    assert control(fake_kraken, "GET", "calls/orders/status") == {"endpoint": "orders/status", "calls": 0}
    assert control(fake_kraken, "GET", "calls")["calls"]["sendorder"] == 3
    control(fake_kraken, "POST", "calls/reset")
    assert control(fake_kraken, "GET", "calls")["calls"] == {}

    control(fake_kraken, "POST", "instrument", {"symbol": "PF_ETHUSD", "suspended": True})
    assert client.send(orderType="mkt", symbol="PF_ETHUSD", side="buy", size="0.01")["status"] == "marketSuspended"
    control(fake_kraken, "POST", "ratelimits", {"derivatives_budget": 1})
    assert client.v3("GET", "accounts")["error"] == "apiLimitExceeded"
    control(fake_kraken, "POST", "walk", {"step": True})
    assert fake_kraken.engine.price("PF_XBTUSD").mark != Decimal(58000)

    state = control(fake_kraken, "GET", "state")
    assert state["engine"]["accounts"] and state["url"] == fake_kraken.url
    assert FAKE_SECRET not in str(state) and FAKE_READ_ONLY_SECRET not in str(state)


def test_the_control_api_explains_bad_requests(fake_kraken: FakeKraken) -> None:
    bad = requests.post(f"{fake_kraken.url}/_fake/mark", json={"symbol": "PF_XBTUSD"}, timeout=5)
    assert bad.status_code == 400 and "mark is required" in bad.json()["error"]
    unknown = requests.post(
        f"{fake_kraken.url}/_fake/faults", json={"endpoint": "sendorder", "kind": "nope"}, timeout=5
    )
    assert unknown.status_code == 400 and "unknown fault kind" in unknown.json()["error"]
    assert requests.get(f"{fake_kraken.url}/_fake/nothing", timeout=5).status_code == 404


@pytest.mark.slow
def test_the_management_command_prints_its_url_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(f'[{{"key": "{FAKE_READ_ONLY_KEY}", "secret": "{FAKE_READ_ONLY_SECRET}", "collateral": "77"}}]')
    env = {**os.environ, "ORDERRAIL_TESTING": "1", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "manage.py",
        "fake_kraken",
        "--port",
        "0",
        "--key",
        FAKE_KEY,
        "--secret",
        FAKE_SECRET,
        "--accounts",
        str(accounts),
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fake kraken listening on http://127.0.0.1:"), line + (
            proc.stderr.read() if proc.stderr else ""
        )
        url = line.strip().removeprefix("fake kraken listening on ")
        assert Client(url).v3("GET", "accounts")["accounts"]["flex"]["balanceValue"] == 10000
        other = Client(url, key=FAKE_READ_ONLY_KEY, secret=FAKE_READ_ONLY_SECRET)
        assert other.v3("GET", "accounts")["accounts"]["flex"]["balanceValue"] == 77
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_management_command_refuses_a_key_without_a_secret() -> None:
    env = {**os.environ, "ORDERRAIL_TESTING": "1"}
    done = subprocess.run(
        [sys.executable, "manage.py", "fake_kraken", "--port", "0", "--key", FAKE_KEY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0 and "--key and --secret go together" in done.stderr


def test_a_stopped_fake_answers_nothing_even_on_a_kept_alive_connection() -> None:
    fake = FakeKraken().start()
    session = requests.Session()
    assert session.get(fake.url + "/derivatives/api/v3/tickers", timeout=5).ok
    fake.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(fake.url + "/derivatives/api/v3/tickers", timeout=2)


def test_concurrent_clients_are_serialised_around_the_engine(fake_kraken: FakeKraken) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def trade(worker: int) -> list[str]:
        client = Client(fake_kraken.url)
        statuses = []
        for i in range(8):  # 6 x 8 sendorders x cost 10 = 480, inside the 500 budget
            status = client.send(
                orderType="mkt", symbol="PF_SOLUSD", side="buy", size="0.01", cliOrdId=f"w{worker}-{i}"
            )
            statuses.append(status["status"])
        return statuses

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = [s for statuses in pool.map(trade, range(6)) for s in statuses]
    assert results == ["placed"] * 48
    assert fake_kraken.position(FAKE_KEY, "PF_SOLUSD") == Decimal("0.48")
    assert fake_kraken.calls("sendorder") == 48 and fake_kraken.auth_failures == []
