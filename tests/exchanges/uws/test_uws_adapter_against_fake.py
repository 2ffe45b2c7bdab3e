"""The adapter against the fake Unified WebSocket over a real socket (and the fake's Spot REST over real HTTP): every
read from the streams, every order path, and each fault the fake can throw."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from websockets.sync.client import connect as ws_connect

from exchanges.base import OrderRequest, OrderState, OrderType, Side, TriggerSignal
from exchanges.errors import AmbiguousOutcome, AuthenticationFailed, OrderRejected, RateLimited, Unavailable
from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET, FAKE_SPOT_KEY
from exchanges.kraken import KrakenFutures
from exchanges.kraken.errors import ClientOrderIdAlreadyExists
from exchanges.kraken.uws import assumptions as A

XBT = "PF_XBTUSD"
_ids = iter(range(1, 10_000))


def market(size: str = "0.01", side: Side = Side.BUY, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(XBT, side, Decimal(size), OrderType.MARKET, f"or-{next(_ids)}", reduce_only=reduce_only)


def stop(price: str, size: str = "0.01", signal: TriggerSignal = TriggerSignal.INDEX) -> OrderRequest:
    return OrderRequest(
        XBT,
        Side.SELL,
        Decimal(size),
        OrderType.STOP,
        f"or-{next(_ids)}",
        stop_price=Decimal(price),
        trigger_signal=signal,
        reduce_only=True,
    )


def state_of(ex, client_order_id: str):
    found = ex.find_order(client_order_id)
    return found.state if found else None


def eventually(check, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_reads_come_from_the_streams_and_see_orders_placed_over_rest(venue, connect):
    fake, _uws = venue
    ex = connect()
    assert ex.positions() == []
    assert ex.account().equity == Decimal(10000)
    spec = next(s for s in ex.instruments() if s.symbol == XBT)
    assert spec.tick_size == Decimal(1) and spec.size_step == Decimal("0.0001")  # from the instrument channel
    assert ex.ticker(XBT).mark_price == Decimal(60000)
    # The same account traded over REST: one engine, both transports.
    rest = KrakenFutures(fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=1, read_timeout=2)
    rest.place_order(OrderRequest(XBT, Side.BUY, Decimal("0.02"), OrderType.MARKET, "rest-1"))
    assert eventually(ex.positions)[0].size == Decimal("0.02")
    assert eventually(lambda: state_of(ex, "rest-1") is OrderState.FILLED)
    assert eventually(lambda: ex.account().initial_margin > 0)
    fake.set_mark(XBT, Decimal(61000))
    assert eventually(lambda: ex.ticker(XBT).mark_price == Decimal(61000))


def test_a_market_order_is_acknowledged_with_its_fills(venue, connect):
    fake, _ = venue
    ex = connect()
    request = market("0.01")
    ack = ex.place_order(request)
    assert ack.filled_size == Decimal("0.01") and ack.fills[0].price == Decimal(60000)
    assert ack.fills[0].client_order_id == request.client_order_id
    assert fake.position(FAKE_KEY, XBT) == Decimal("0.01")
    assert fake.calls("sendorder") == 1  # the operation's count, whichever transport carried it
    assert ex.ledger_since(datetime.now(UTC) - timedelta(minutes=1))[0].fee == Decimal("0.3")


def test_the_worst_case_stop_rests_on_index_and_a_mark_stop_never_leaves(venue, connect):
    fake, _ = venue
    ex = connect()
    ex.place_order(market("0.01"))
    assert ex.capabilities.stop_trigger_signal is TriggerSignal.INDEX
    with pytest.raises(OrderRejected) as refused:
        ex.place_order(stop("54000", signal=TriggerSignal.MARK))
    assert refused.value.status == "localValidation" and fake.calls("sendorder") == 1
    request = stop("54000")
    ex.place_order(request)
    (resting,) = eventually(ex.open_orders)
    assert resting.trigger_signal is TriggerSignal.INDEX and resting.reduce_only and resting.stop_price == 54000
    engine_order = fake.engine.order_by_client_id(fake.account_id(FAKE_KEY), request.client_order_id)
    assert engine_order.trigger_signal is TriggerSignal.INDEX
    # The index falls through it (mark stays): it triggers; the stream reports the fill; a cancel is not sent.
    fake.set_price(XBT, Decimal(60000), index=Decimal(53000))
    assert eventually(lambda: state_of(ex, request.client_order_id) is OrderState.FILLED)
    calls = fake.calls("cancelorder")
    assert ex.cancel_order(client_order_id=request.client_order_id).status == "filled"
    assert fake.calls("cancelorder") == calls


def test_a_rejection_keeps_the_venue_text_and_is_sent_once(venue, connect):
    fake, _ = venue
    ex = connect()
    fake.add_fault("sendorder", "reject", status="insufficientAvailableFunds")
    with pytest.raises(OrderRejected) as rejected:
        ex.place_order(market())
    assert rejected.value.status == "Insufficient available funds"
    with pytest.raises(OrderRejected) as not_reducing:
        ex.place_order(market(side=Side.SELL, reduce_only=True))  # flat: the engine refuses it
    assert not_reducing.value.status == "Order would not reduce position"
    assert fake.calls("sendorder") == 2


def test_timeout_before_acceptance_is_ambiguous_and_leaves_no_trace(venue, connect):
    fake, _ = venue
    ex = connect()
    fake.add_fault("sendorder", "timeout_before", seconds=1.5)
    request = market()
    with pytest.raises(AmbiguousOutcome):
        ex.place_order(request)
    assert ex.find_order(request.client_order_id) is None  # from a fresh, synced snapshot after the reconnect
    assert fake.position(FAKE_KEY, XBT) == 0


def test_accept_then_drop_is_ambiguous_and_resolved_from_the_fresh_snapshot(venue, connect):
    fake, _uws = venue
    ex = connect()
    ex.positions()
    opened = ex.feed.session.connections
    fake.add_fault("sendorder", "accept_then_drop", seconds=0.3)
    request = market()
    with pytest.raises(AmbiguousOutcome):
        ex.place_order(request)
    found = ex.find_order(request.client_order_id)
    assert found is not None and found.state is OrderState.FILLED and found.filled_size == Decimal("0.01")
    assert ex.feed.session.connections > opened  # a new connection, a fresh token, fresh snapshots
    assert fake.calls("sendorder") == 1


def test_a_resync_makes_the_state_stale_at_once_not_when_the_reader_thread_gets_to_it(venue, connect):
    """The reader thread is held off the state (its lock) while the session re-snapshots: reads must already wait
    for the fresh snapshot. Before, the state stayed 'synced' until the reader thread's drop, and a lookup right
    after an unanswered order read the old state and missed the order that had landed."""
    _fake, _uws = venue
    ex = connect()
    ex.positions()
    state = ex.feed.state
    with state.lock:  # re-entrant for this thread; the reader thread cannot touch the state meanwhile
        assert state.is_synced
        ex.feed.session.resync("test: a gap")
        assert not state.is_synced
    assert eventually(lambda: state.is_synced)  # and the fresh snapshot comes


def test_a_lost_acknowledgement_is_recovered_from_the_executions_stream(venue, connect):
    fake, uws = venue
    ex = connect()
    uws.add_fault("lose_ack", method="add_order")
    ack = ex.place_order(market())
    assert ack.status == "landed (from executions)" and fake.position(FAKE_KEY, XBT) == Decimal("0.01")


def test_a_late_acknowledgement_within_the_timeout_is_a_normal_answer(venue, connect):
    _, uws = venue
    ex = connect(ack_timeout=2.0)
    uws.add_fault("delay_ack", method="add_order", seconds=0.5)
    started = time.monotonic()
    ack = ex.place_order(market())
    assert ack.status == "placed" and time.monotonic() - started >= 0.5


def test_an_internal_error_is_ambiguous_never_rejected(venue, connect):
    fake, _ = venue
    ex = connect()
    fake.add_fault("sendorder", "http_5xx")
    with pytest.raises(AmbiguousOutcome):
        ex.place_order(market())


def test_rate_limited_means_not_executed(venue, connect):
    fake, _ = venue
    ex = connect()
    fake.add_fault("sendorder", "rate_limit")
    with pytest.raises(RateLimited):
        ex.place_order(market())
    assert fake.position(FAKE_KEY, XBT) == 0


def test_an_expired_token_refuses_the_order_and_the_session_comes_back_with_a_fresh_one(venue, connect):
    fake, uws = venue
    ex = connect()
    ex.positions()
    opened = ex.feed.session.connections
    uws.expire_tokens()
    with pytest.raises(AuthenticationFailed):
        ex.place_order(market())
    assert fake.position(FAKE_KEY, XBT) == 0
    assert eventually(lambda: ex.feed.session.connections > opened)
    ex.place_order(market())  # the new connection took a new token
    assert fake.position(FAKE_KEY, XBT) == Decimal("0.01")
    assert fake.all_calls()["GetWebSocketsToken"] >= 2


@pytest.mark.parametrize("kind", ["sequence_gap", "out_of_order"])
def test_a_sequence_gap_makes_the_session_re_snapshot(venue, connect, kind):
    fake, uws = venue
    ex = connect()
    ex.positions()
    opened = ex.feed.session.connections
    uws.add_fault(kind, channel="executions")
    rest = KrakenFutures(fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=1, read_timeout=2)
    rest.place_order(OrderRequest(XBT, Side.BUY, Decimal("0.02"), OrderType.MARKET, "rest-gap-1"))
    time.sleep(0.3)  # two separate executions messages, not one
    rest.place_order(OrderRequest(XBT, Side.BUY, Decimal("0.01"), OrderType.MARKET, "rest-gap-2"))
    assert eventually(lambda: ex.feed.session.connections > opened)
    assert eventually(lambda: ex.find_order("rest-gap-2") is not None)
    assert eventually(lambda: state_of(ex, "rest-gap-1") is OrderState.FILLED)
    assert eventually(lambda: ex.positions() and ex.positions()[0].size == Decimal("0.03"))


def test_a_dropped_connection_re_snapshots_and_sees_what_happened_meanwhile(venue, connect):
    fake, uws = venue
    ex = connect()
    ex.place_order(market("0.01"))
    request = stop("59000")
    ex.place_order(request)
    with fake.lock:  # the stop fires while the client is cut off and cannot hear it
        uws.drop_connections()
        fake.set_price(XBT, Decimal(58000))
    assert eventually(lambda: state_of(ex, request.client_order_id) is OrderState.FILLED)
    assert ex.positions() == []


def test_reads_answer_unavailable_while_the_venue_is_unreachable(venue, connect):
    fake, uws = venue
    ex = connect(ready_timeout=0.3)
    ex.positions()
    uws.spot.unavailable = True  # no token can be had, so no reconnect can succeed
    uws.drop_connections()
    assert eventually(lambda: not ex.feed.state.is_synced)  # the reader noticed the drop
    with pytest.raises(Unavailable):
        ex.positions()
    with pytest.raises(Unavailable):
        ex.place_order(market())  # refused before sending: nothing can be in doubt
    assert fake.calls("sendorder") == 0
    uws.spot.unavailable = False
    assert eventually(lambda: ex.feed.state.is_synced)


def test_a_duplicate_client_id_means_it_landed(venue, connect):
    _, _ = venue
    ex = connect()
    request = market()
    ex.place_order(request)
    with pytest.raises(ClientOrderIdAlreadyExists):
        ex.place_order(request)


def test_venue_maintenance_refuses_orders_before_sending(venue, connect):
    fake, uws = venue
    ex = connect()
    ex.positions()
    uws.set_system_status("maintenance")
    assert eventually(lambda: ex.feed.state.venue_status == "maintenance")
    with pytest.raises(Unavailable):
        ex.place_order(market())
    assert fake.calls("sendorder") == 0


def test_intents_are_never_pipelined(venue, connect):
    """The fake can reorder two requests that arrive back to back (as Kraken warns the WebSocket may). A client that
    pipelines "cancel then place" gets them applied the other way round; the adapter waits for each answer, so the
    held request is acted on alone and in order."""
    fake, uws = venue
    ex = connect(ack_timeout=3.0)
    ex.place_order(market("0.01"))
    old = stop("50000")
    ex.place_order(old)

    # A raw pipelining client on its own connection, with a fresh token.
    token = ex.keys.websocket_token()
    account_orders = lambda: fake.engine.orders(fake.account_id(FAKE_KEY))  # noqa: E731
    uws.add_fault("reorder", method="cancel_order", seconds=1.0)
    with ws_connect(uws.private_url, proxy=None, legacy=True) as raw:
        raw.recv()  # status
        cancel = {"method": "cancel_order", "req_id": 1, "params": {"cl_ord_id": [old.client_order_id], "token": token}}
        place = {
            "method": "add_order",
            "req_id": 2,
            "params": {
                "asset_class": "derivatives",
                "symbol": XBT,
                "side": "sell",
                "order_type": "stop-loss",
                "order_qty": 0.01,
                "triggers": {"reference": "index", "price": 51000},
                "reduce_only": True,
                "cl_ord_id": "raw-new",
                "token": token,
            },
        }
        raw.send(json.dumps(cancel))
        raw.send(json.dumps(place))
        answers = [json.loads(raw.recv()) for _ in range(2)]
    assert [a["req_id"] for a in answers] == [2, 1]  # placed before the cancel it was sent after
    times = {o.client_order_id: o.received_time for o in account_orders()}
    assert "raw-new" in times

    uws.add_fault("reorder", method="cancel_order", seconds=0.5)
    replacement = stop("52000")
    started = time.monotonic()
    done = threading.Event()
    ex.cancel_order(client_order_id="raw-new")
    done.set()
    ex.place_order(replacement)
    assert time.monotonic() - started >= 0.5  # the cancel was held and answered before the place went out
    cancelled = fake.engine.order_by_client_id(fake.account_id(FAKE_KEY), "raw-new")
    placed = fake.engine.order_by_client_id(fake.account_id(FAKE_KEY), replacement.client_order_id)
    assert cancelled.last_update_time <= placed.received_time


def test_key_verification_over_spot_rest(venue, connect):
    _fake, uws = venue
    ex = connect()
    permissions = ex.key_permissions()
    assert permissions.can_trade and not permissions.withdrawal
    uws.add_spot_key(
        "withdrawing-key",
        "c2VjcmV0LW9mLWEta2V5LXRoYXQtY2FuLXdpdGhkcmF3LTAxMjM0NTY3ODk=",
        futures_key=FAKE_KEY,
        permissions=("query-funds", "withdraw-funds", "modify-trades"),
    )
    risky = connect(
        api_key="withdrawing-key", api_secret="c2VjcmV0LW9mLWEta2V5LXRoYXQtY2FuLXdpdGhkcmF3LTAxMjM0NTY3ODk="
    )
    assert risky.key_permissions().withdrawal
    wrong = connect(api_secret="d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy1zZWNyZXQtMDEyMzQ1Njc4OQ==")
    with pytest.raises(AuthenticationFailed):
        wrong.key_permissions()
    with pytest.raises(Unavailable):
        wrong.positions()  # no token, no connection: never an empty answer
    assert FAKE_SPOT_KEY not in str(wrong.feed.session.last_error)
    assert A.WITHDRAW_PERMISSION_MARKERS == ("withdraw",)


def test_edit_moves_a_resting_stop_in_place(venue, connect):
    fake, _ = venue
    ex = connect()
    ex.place_order(market("0.02"))
    request = stop("54000", size="0.01")
    placed = ex.place_order(request)
    edited = ex.edit_order(client_order_id=request.client_order_id, size=Decimal("0.02"), stop_price=Decimal(55000))
    assert edited.exchange_order_id == placed.exchange_order_id and edited.status == "amended"
    engine_order = fake.engine.order_by_client_id(fake.account_id(FAKE_KEY), request.client_order_id)
    assert engine_order.size == Decimal("0.02") and engine_order.stop_price == Decimal(55000)
    assert fake.calls("editorder") == 1
    with pytest.raises(OrderRejected) as gone:
        ex.edit_order(client_order_id="or-nothing", stop_price=Decimal(55000))
    assert gone.value.status != "localValidation"


def test_a_deadline_already_past_is_refused_before_sending_with_the_protocols_word(venue, connect):
    fake, _ = venue
    ex = connect()
    late = OrderRequest(
        XBT,
        Side.BUY,
        Decimal("0.01"),
        OrderType.MARKET,
        "or-late",
        process_before=datetime.now(UTC) - timedelta(seconds=1),
    )
    with pytest.raises(OrderRejected) as refused:
        ex.place_order(late)
    assert refused.value.status == "wouldProcessAfterSpecifiedTime" and fake.calls("sendorder") == 0
    soon = OrderRequest(
        XBT,
        Side.BUY,
        Decimal("0.01"),
        OrderType.MARKET,
        "or-soon",
        process_before=datetime.now(UTC) + timedelta(seconds=2),
    )
    assert ex.place_order(soon).filled_size == Decimal("0.01")
