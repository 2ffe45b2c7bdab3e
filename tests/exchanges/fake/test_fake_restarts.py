"""A restarted fake Kraken: ids never repeat, and with ``--state-file`` it is the same exchange as before.

Restarts are real: ``manage.py fake_kraken`` as its own process, stopped with SIGTERM (or SIGKILL) and started
again; the adapter talks to it over HTTP, as OrderRail does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from exchanges.base import OrderRequest, OrderState, OrderType, Side, TriggerSignal
from exchanges.fake import persistence
from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET
from exchanges.fake.server import FakeKraken
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.ratelimit import KeyBudget

ROOT = Path(__file__).resolve().parents[3]
SYMBOL = "PF_XBTUSD"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@contextmanager
def fake_process(*extra: str, seed: int = 0) -> Iterator[tuple[subprocess.Popen[str], KrakenFutures]]:
    command = [sys.executable, "manage.py", "fake_kraken", "--port", "0", "--key", FAKE_KEY, "--secret", FAKE_SECRET]
    env = {**os.environ, "ORDERRAIL_TESTING": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*command, "--seed", str(seed), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line + (proc.stderr.read() if proc.stderr else "")
        url = line.strip().removeprefix("fake kraken listening on ")
        with KrakenFutures(url, FAKE_KEY, FAKE_SECRET, connect_timeout=2, read_timeout=5, budget=KeyBudget()) as venue:
            yield proc, venue
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def trade(venue: KrakenFutures, side: Side = Side.BUY, size: str = "0.01") -> str:
    client_id = f"t-restart-{uuid.uuid4().hex[:10]}"
    venue.place_order(OrderRequest(SYMBOL, side, Decimal(size), OrderType.MARKET, client_id))
    return client_id


def ids(venue: KrakenFutures) -> tuple[set[str], set[str], list[int]]:
    """Order ids, fill ids and account-log ids the exchange shows for this account."""
    fills = venue.fills_since(LONG_AGO)
    ledger = venue.ledger_since(LONG_AGO)
    return {f.exchange_order_id for f in fills}, {f.fill_id for f in fills}, [int(e.entry_id) for e in ledger]


def saved_positions(state: Path) -> dict[str, str]:
    """symbol -> signed size of every account in the state file (read whole: it is only ever replaced whole)."""
    accounts = json.loads(state.read_text())["engine"]["accounts"].values()
    return {p["symbol"]: p["size"] for account in accounts for p in account["positions"].values()}


def test_ids_never_repeat_across_restarts_without_a_state_file() -> None:
    """The same seed, the same key, a fresh exchange each time: the second run's order, fill and account-log ids
    are all new (OrderRail imports fills and log rows by id: a repeated id would be dropped as already known), and
    its account-log ids are above the first run's, as Kraken's ascending ids are."""
    with fake_process() as (_, venue):
        trade(venue)
        first_orders, first_fills, first_log = ids(venue)
    with fake_process() as (_, venue):
        trade(venue)
        second_orders, second_fills, second_log = ids(venue)
    assert first_orders and first_fills and first_log and second_orders and second_fills and second_log
    assert first_orders.isdisjoint(second_orders)
    assert first_fills.isdisjoint(second_fills)
    assert min(second_log) > max(first_log)


def test_a_state_file_brings_back_the_same_exchange(tmp_path: Path) -> None:
    state = tmp_path / "data" / "fake-kraken.json"  # its directory is created on first save
    with fake_process("--state-file", str(state)) as (_, venue):
        trade(venue, size="0.02")
        stop_id = f"t-stop-{uuid.uuid4().hex[:10]}"
        stop = OrderRequest(
            SYMBOL,
            Side.SELL,
            Decimal("0.02"),
            OrderType.STOP,
            stop_id,
            stop_price=Decimal(57000),
            trigger_signal=TriggerSignal.MARK,
            reduce_only=True,
        )
        venue.place_order(stop)
        before = (venue.positions(), venue.open_orders(), venue.fills_since(LONG_AGO), venue.ledger_since(LONG_AGO))
        mark_before = venue.ticker(SYMBOL).mark_price
    assert state.exists()
    with fake_process("--state-file", str(state)) as (_, venue):
        after = (venue.positions(), venue.open_orders(), venue.fills_since(LONG_AGO), venue.ledger_since(LONG_AGO))
        assert after == before  # position, resting stop, fills and account log, exactly
        assert venue.ticker(SYMBOL).mark_price == mark_before
        found = venue.find_order(stop_id)
        assert found is not None and found.state is OrderState.OPEN
        # The id counters carried on: new ids are new, account-log ids keep ascending.
        old_orders, old_fills, old_log = ids(venue)
        trade(venue, side=Side.SELL, size="0.01")
        new_orders, new_fills, new_log = ids(venue)
        assert len(new_orders - old_orders) == 1 and len(new_fills - old_fills) == 1
        assert min(set(new_log) - set(old_log)) > max(old_log)
    text = state.read_text()
    assert FAKE_SECRET not in text and FAKE_SECRET.rstrip("=") not in text  # keys come from the command line


def test_changes_are_saved_while_running_not_only_at_shutdown(tmp_path: Path) -> None:
    """SIGKILL gives the fake no chance to save at shutdown: the debounced save must already have it."""
    state = tmp_path / "fake.json"
    with fake_process("--state-file", str(state)) as (proc, venue):
        trade(venue, size="0.03")
        deadline = time.monotonic() + 5
        while saved_positions(state) != {SYMBOL: "0.03"}:
            assert time.monotonic() < deadline, "the position never reached the state file"
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    with fake_process("--state-file", str(state)) as (_, venue):
        assert [(p.symbol, p.size) for p in venue.positions()] == [(SYMBOL, Decimal("0.03"))]


def test_the_state_file_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    persistence.write_atomically(path, '{"format": 1}')

    def power_cut(_fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError, match="disk gone"):
        persistence.write_atomically(path, '{"format": 1, "half": "written')
    assert path.read_text() == '{"format": 1}'  # the previous complete file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]  # no temporary file left behind


def test_an_unreadable_state_file_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    """Starting empty over a file it cannot read would silently lose open positions: refuse instead."""
    state = tmp_path / "fake.json"
    state.write_text('{"format": 1, "engine": {"accounts"')
    done = subprocess.run(
        [sys.executable, "manage.py", "fake_kraken", "--port", "0", "--state-file", str(state)],
        cwd=ROOT,
        env={**os.environ, "ORDERRAIL_TESTING": "1"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "cannot read the fake's state file" in done.stderr and "delete it to start empty" in done.stderr
    assert "Traceback" not in done.stderr


def test_in_process_state_file_with_preferences_and_the_reuse_switch(tmp_path: Path) -> None:
    state = tmp_path / "fake.json"
    with FakeKraken(accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET}], state_file=state, save_interval=0.05) as fake:
        fake.set_client_order_id_reuse("while_open")
        with KrakenFutures(fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=2, read_timeout=5) as venue:
            venue.client.request(
                "PUT", "/derivatives/api/v3/leveragepreferences", [("symbol", SYMBOL), ("maxLeverage", 5)]
            )
            trade(venue)
        fake.set_mark(SYMBOL, Decimal(61000))
    with FakeKraken(accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET}], state_file=state) as again:
        assert again.position(FAKE_KEY, SYMBOL) == Decimal("0.01")
        assert again.engine.price(SYMBOL).mark == Decimal(61000)
        assert again.client_order_id_reuse == "while_open"  # kept: no new choice was given
        assert again.venue.leverage[again.account_id(FAKE_KEY)] == {SYMBOL: Decimal(5)}
        assert again.engine.margin(again.account_id(FAKE_KEY)).collateral < Decimal(10000)  # not funded again
    with FakeKraken(state_file=state, client_order_id_reuse="forever") as chosen:
        assert chosen.client_order_id_reuse == "forever"  # an explicit choice wins over the file's


def test_the_control_state_shows_no_secrets_and_the_id_counters_move_on(tmp_path: Path) -> None:
    state = tmp_path / "fake.json"
    with FakeKraken(accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET}], state_file=state) as fake:
        body = requests.get(f"{fake.url}/_fake/state", timeout=5).text
        assert FAKE_SECRET not in body
        saved = json.loads(state.read_text())
        assert saved["format"] == persistence.FORMAT and saved["engine"]["config"]["ledger_id_start"] > 10**15
        assert datetime.fromisoformat(saved["saved_at"].replace("Z", "+00:00")) > datetime.now(UTC) - timedelta(
            minutes=1
        )


def test_a_change_made_straight_on_the_engine_is_saved_too(tmp_path: Path) -> None:
    """The Unified WebSocket fake trades on the same engine without going through the REST server: the saver
    watches the engine's own change count, not only the REST calls."""
    state = tmp_path / "fake.json"
    with FakeKraken(accounts=[{"key": FAKE_KEY, "secret": FAKE_SECRET}], state_file=state, save_interval=0.05) as fake:
        account = fake.account_id(FAKE_KEY)
        with fake.lock:
            fake.engine.fund(account, Decimal(5), now=datetime.now(UTC))
        deadline = time.monotonic() + 5
        while json.loads(state.read_text())["engine"]["accounts"][account]["collateral"] != "10005":
            assert time.monotonic() < deadline, "a change on the engine never reached the state file"
            time.sleep(0.05)
        assert fake.save_state() is False  # nothing new since: no write
