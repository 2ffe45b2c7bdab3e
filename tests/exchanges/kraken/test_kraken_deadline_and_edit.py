"""Deadlines (Kraken's ``processBefore``) on every order call, and the in-place edit (``editorder``).

Over real HTTP against the fake (``fake_kraken``, tests/exchanges/conftest.py) unless a test needs a byte-exact look
at the wire, which ``responses`` gives (the SPEC's own editorder example).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
from kraken_testkit import V3, signed_data

from exchanges.base import Exchange, OrderRequest, OrderState, OrderType, Side, TriggerSignal
from exchanges.errors import AmbiguousOutcome, OrderRejected
from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET
from exchanges.fake.server import FakeKraken
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.ratelimit import KeyBudget

SYMBOL = "PF_XBTUSD"
MARK = Decimal("60000")
LATE = "wouldProcessAfterSpecifiedTime"


@pytest.fixture
def fake(fake_kraken: FakeKraken) -> FakeKraken:
    fake_kraken.set_mark(SYMBOL, MARK)
    return fake_kraken


@pytest.fixture
def venue(fake: FakeKraken) -> Iterator[KrakenFutures]:
    # A read timeout well above the latencies injected below: a late answer must arrive, not time out.
    adapter = KrakenFutures(fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=2, read_timeout=3, budget=KeyBudget())
    yield adapter
    adapter.close()


def cid(label: str) -> str:
    return f"t-{label}-{uuid.uuid4().hex[:10]}"


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def market(side: Side, size: str, client_id: str, **extra: object) -> OrderRequest:
    return OrderRequest(SYMBOL, side, Decimal(size), OrderType.MARKET, client_id, **extra)  # type: ignore[arg-type]


def stop(side: Side, size: str, price: str, client_id: str) -> OrderRequest:
    return OrderRequest(
        SYMBOL,
        side,
        Decimal(size),
        OrderType.STOP,
        client_id,
        stop_price=Decimal(price),
        trigger_signal=TriggerSignal.MARK,
        reduce_only=True,
    )


def long_with_stop(venue: KrakenFutures, size: str = "0.01", price: str = "57000") -> str:
    venue.place_order(market(Side.BUY, size, cid("entry")))
    stop_id = cid("stop")
    venue.place_order(stop(Side.SELL, size, price, stop_id))
    return stop_id


def engine_orders(fake: FakeKraken, client_id: str) -> list[dict]:
    """Every order the fake's engine holds under this client id (accepted or not)."""
    return [o for o in fake.state()["engine"]["orders"].values() if o["client_order_id"] == client_id]


# --- processBefore on sendorder -------------------------------------------------------------------------------


def test_an_order_within_its_deadline_is_placed(venue: KrakenFutures, fake: FakeKraken) -> None:
    ack = venue.place_order(market(Side.BUY, "0.01", cid("in-time"), process_before=soon(5)))
    assert ack.filled_size == Decimal("0.01")
    assert fake.position(FAKE_KEY, SYMBOL) == Decimal("0.01")


def test_a_send_delayed_past_its_deadline_is_refused_places_nothing_and_frees_the_id(
    venue: KrakenFutures, fake: FakeKraken
) -> None:
    """The case processBefore exists for: the first attempt is held up in transit (here 0.6 s before it reaches
    the engine) past its deadline. It must not land late - the caller may already have re-sent it."""
    client_id = cid("late")
    fake.add_fault("sendorder", "latency", seconds=0.6)
    with pytest.raises(OrderRejected) as refused:
        venue.place_order(market(Side.BUY, "0.01", client_id, process_before=soon(0.3)))
    assert refused.value.status == LATE
    assert fake.calls("sendorder") == 1  # it did reach the venue: the venue refused it
    assert fake.position(FAKE_KEY, SYMBOL) == 0
    assert engine_orders(fake, client_id) == []  # nothing placed, not even a rejected order
    assert venue.find_order(client_id) is None  # no trace: a lookup after the deadline is conclusive
    # The refused attempt did not use up the client order id: the re-send with a fresh deadline goes through.
    ack = venue.place_order(market(Side.BUY, "0.01", client_id, process_before=soon(5)))
    assert ack.filled_size == Decimal("0.01")
    assert fake.position(FAKE_KEY, SYMBOL) == Decimal("0.01")


def test_the_deadline_travels_on_the_wire_and_the_venue_enforces_it(fake: FakeKraken) -> None:
    """An adapter whose clock runs 10 s behind believes the deadline is still ahead and sends it; the venue's clock
    says it has passed and refuses. (So the deadline is checked by the venue, not only by us.)"""
    behind = KrakenFutures(
        fake.url,
        FAKE_KEY,
        FAKE_SECRET,
        connect_timeout=2,
        read_timeout=3,
        budget=KeyBudget(),
        now=lambda: datetime.now(UTC) - timedelta(seconds=10),
    )
    client_id = cid("venue-clock")
    with behind, pytest.raises(OrderRejected) as refused:
        behind.place_order(market(Side.BUY, "0.01", client_id, process_before=soon(-1)))
    assert refused.value.status == LATE
    assert fake.calls("sendorder") == 1
    assert engine_orders(fake, client_id) == []


def test_a_deadline_already_past_on_our_clock_is_not_sent(venue: KrakenFutures, fake: FakeKraken) -> None:
    with pytest.raises(OrderRejected) as refused:
        venue.place_order(market(Side.BUY, "0.01", cid("past"), process_before=soon(-0.001)))
    assert refused.value.status == LATE
    assert fake.calls("sendorder") == 0


def test_a_naive_deadline_is_refused_before_sending(venue: KrakenFutures, fake: FakeKraken) -> None:
    naive = datetime.now() + timedelta(seconds=30)  # noqa: DTZ005 - the point of the test
    with pytest.raises(OrderRejected) as refused:
        venue.place_order(market(Side.BUY, "0.01", cid("naive"), process_before=naive))
    assert refused.value.status == "localValidation"
    assert fake.calls("sendorder") == 0


# --- editorder: the stop moved in place -------------------------------------------------------------------------


def test_edit_moves_a_stop_in_place(venue: KrakenFutures, fake: FakeKraken) -> None:
    assert isinstance(venue, Exchange)
    venue.place_order(market(Side.BUY, "0.02", cid("entry")))
    stop_id = cid("stop")
    placed = venue.place_order(stop(Side.SELL, "0.01", "57000", stop_id))

    edited = venue.edit_order(
        client_order_id=stop_id, size=Decimal("0.02"), stop_price=Decimal("58000"), process_before=soon(5)
    )

    assert edited.status == "edited"
    assert edited.exchange_order_id == placed.exchange_order_id and edited.client_order_id == stop_id
    assert edited.order is not None
    assert (edited.order.size, edited.order.stop_price) == (Decimal("0.02"), Decimal("58000"))
    assert edited.order.order_type is OrderType.STOP and edited.order.state is OrderState.OPEN
    assert edited.order.reduce_only and edited.fills == ()
    # One order, same id, new values: no second stop, no gap between two.
    (resting,) = [o for o in venue.open_orders() if o.order_type is OrderType.STOP]
    assert resting.exchange_order_id == placed.exchange_order_id
    assert (resting.size, resting.stop_price, resting.client_order_id) == (Decimal("0.02"), Decimal("58000"), stop_id)
    assert len(engine_orders(fake, stop_id)) == 1
    assert fake.calls("sendorder") == 2 and fake.calls("editorder") == 1 and fake.calls("cancelorder") == 0


def test_edit_by_exchange_order_id(venue: KrakenFutures) -> None:
    venue.place_order(market(Side.BUY, "0.01", cid("entry")))
    placed = venue.place_order(stop(Side.SELL, "0.01", "57000", cid("stop")))
    edited = venue.edit_order(exchange_order_id=placed.exchange_order_id, stop_price=Decimal("56000"))
    assert edited.order is not None and edited.order.stop_price == Decimal("56000")


def test_an_edit_delayed_past_its_deadline_is_refused_and_leaves_the_stop(
    venue: KrakenFutures, fake: FakeKraken
) -> None:
    stop_id = long_with_stop(venue)
    fake.add_fault("editorder", "latency", seconds=0.6)
    with pytest.raises(OrderRejected) as refused:
        venue.edit_order(client_order_id=stop_id, stop_price=Decimal("58000"), process_before=soon(0.3))
    assert refused.value.status == LATE
    found = venue.find_order(stop_id)
    assert found is not None and found.state is OrderState.OPEN and found.stop_price == Decimal("57000")


def test_a_stop_moved_through_the_mark_triggers_at_once(venue: KrakenFutures, fake: FakeKraken) -> None:
    """A sell stop moved above the mark is already through its trigger: the venue fires it in the same call."""
    stop_id = long_with_stop(venue)
    edited = venue.edit_order(client_order_id=stop_id, stop_price=Decimal("61000"))
    assert edited.status == "edited"
    assert sum(f.size for f in edited.fills) == Decimal("0.01")
    assert edited.order is not None and edited.order.state is OrderState.FILLED
    assert fake.position(FAKE_KEY, SYMBOL) == 0


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("unknown order", "orderForEditNotFound"),
        ("off the tick", "invalidPrice"),
        ("off the step", "invalidSize"),
        ("stop price on a limit order", "orderForEditNotAStop"),
        ("stop that was cancelled", "orderForEditNotFound"),
    ],
)
def test_edit_rejections_are_definitive_and_verbatim(
    venue: KrakenFutures, fake: FakeKraken, case: str, status: str
) -> None:
    stop_id = long_with_stop(venue)
    target, changes = stop_id, {}
    if case == "unknown order":
        target, changes = cid("nobody"), {"stop_price": Decimal("58000")}
    elif case == "off the tick":
        changes = {"stop_price": Decimal("58000.5")}
    elif case == "off the step":
        changes = {"size": Decimal("0.00005")}
    elif case == "stop price on a limit order":
        target = cid("limit")
        venue.place_order(OrderRequest(SYMBOL, Side.BUY, Decimal("0.01"), OrderType.LIMIT, target, Decimal("50000")))
        changes = {"stop_price": Decimal("58000")}
    else:
        venue.cancel_order(client_order_id=stop_id)
        changes = {"stop_price": Decimal("58000")}
    with pytest.raises(OrderRejected) as refused:
        venue.edit_order(client_order_id=target, **changes)  # type: ignore[arg-type]
    assert refused.value.status == status
    if case in ("off the tick", "off the step"):
        found = venue.find_order(stop_id)  # a refused edit leaves the stop as it was
        assert found is not None and (found.size, found.stop_price) == (Decimal("0.01"), Decimal("57000"))


def test_edit_rejection_from_the_fault_switch_is_definitive(venue: KrakenFutures, fake: FakeKraken) -> None:
    stop_id = long_with_stop(venue)
    fake.add_fault("editorder", "reject", status="wouldNotReducePosition")
    with pytest.raises(OrderRejected) as refused:
        venue.edit_order(client_order_id=stop_id, stop_price=Decimal("58000"))
    assert refused.value.status == "wouldNotReducePosition"


def test_a_lost_edit_answer_is_ambiguous_and_the_lookup_tells(fake: FakeKraken) -> None:
    short_timeout = KrakenFutures(
        fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=0.5, read_timeout=0.5, budget=KeyBudget()
    )
    with short_timeout as venue:
        stop_id = long_with_stop(venue)
        fake.add_fault("editorder", "accept_then_drop", seconds=1.0)
        with pytest.raises(AmbiguousOutcome):
            venue.edit_order(client_order_id=stop_id, stop_price=Decimal("58000"), process_before=soon(0.2))
        found = venue.find_order(stop_id)
        assert found is not None and found.stop_price == Decimal("58000")  # it had applied


def test_edit_needs_something_to_change_and_an_id(venue: KrakenFutures, fake: FakeKraken) -> None:
    for kwargs in ({"client_order_id": "x"}, {"stop_price": Decimal(1)}):
        with pytest.raises(OrderRejected) as refused:
            venue.edit_order(**kwargs)  # type: ignore[arg-type]
        assert refused.value.status == "localValidation"
    assert fake.calls("editorder") == 0


# --- processBefore on cancelorder -------------------------------------------------------------------------------


def test_a_cancel_delayed_past_its_deadline_is_refused_and_the_stop_stays(
    venue: KrakenFutures, fake: FakeKraken
) -> None:
    stop_id = long_with_stop(venue)
    fake.add_fault("cancelorder", "latency", seconds=0.6)
    with pytest.raises(OrderRejected) as refused:
        venue.cancel_order(client_order_id=stop_id, process_before=soon(0.3))
    assert refused.value.status == LATE
    found = venue.find_order(stop_id)
    assert found is not None and found.state is OrderState.OPEN
    assert venue.cancel_order(client_order_id=stop_id, process_before=soon(5)).cancelled


# --- the wire, byte for byte (SPEC EditOrderExample, reference §12.2) ---------------------------------------------

EDITED = json.loads(
    '{"result":"success","editStatus":{"status":"edited","orderId":"022774bc-2c4a-4f26-9317-436c8d85746d","receivedTime":"2019-09-05T16:47:47.521Z","orderEvents":[{"type":"EDIT","old":{"orderId":"022774bc-2c4a-4f26-9317-436c8d85746d","type":"lmt","symbol":"PI_XBTUSD","side":"buy","quantity":1000,"filled":0,"limitPrice":9400.0,"reduceOnly":false,"timestamp":"2019-09-05T16:41:35.173Z","lastUpdateTimestamp":"2019-09-05T16:41:35.173Z"},"new":{"orderId":"022774bc-2c4a-4f26-9317-436c8d85746d","type":"lmt","symbol":"PI_XBTUSD","side":"buy","quantity":1501,"filled":0,"limitPrice":7200,"reduceOnly":false,"timestamp":"2019-09-05T16:41:35.173Z","lastUpdateTimestamp":"2019-09-05T16:47:47.519Z"}}]},"serverTime":"2019-09-05T16:47:47.521Z"}'
)


def test_edit_and_send_parameters_on_the_wire(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/editorder", json=EDITED)
    deadline = datetime(2999, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)
    ack = kraken.edit_order(
        exchange_order_id="022774bc-2c4a-4f26-9317-436c8d85746d",
        size=Decimal(1501),
        limit_price=Decimal(7200),
        process_before=deadline,
    )
    sent = parse_qs(signed_data(rsps.calls[0].request))
    assert sent == {
        "orderId": ["022774bc-2c4a-4f26-9317-436c8d85746d"],
        "size": ["1501"],
        "qtyMode": ["ABSOLUTE"],
        "limitPrice": ["7200"],
        "processBefore": ["2999-01-02T03:04:05.678Z"],  # truncated to the millisecond, never rounded up
    }
    assert ack.order is not None and (ack.order.size, ack.order.limit_price) == (Decimal(1501), Decimal(7200))
    assert ack.order.order_type is OrderType.LIMIT and ack.order.state is OrderState.OPEN
    assert ack.received_time == datetime(2019, 9, 5, 16, 47, 47, 521000, tzinfo=UTC)


def test_send_order_carries_process_before(kraken: KrakenFutures, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{V3}/sendorder", json={"result": "success", "sendStatus": {"status": LATE, "orderEvents": []}})
    deadline = datetime(2999, 1, 2, 3, 4, 5, 1000, tzinfo=UTC)
    with pytest.raises(OrderRejected):
        kraken.place_order(market(Side.BUY, "0.01", "or-1", process_before=deadline))
    assert parse_qs(signed_data(rsps.calls[0].request))["processBefore"] == ["2999-01-02T03:04:05.001Z"]


def test_an_unknown_edit_status_next_to_an_edit_event_is_ambiguous(
    kraken: KrakenFutures, rsps: responses.RequestsMock
) -> None:
    body = json.loads(json.dumps(EDITED))
    body["editStatus"]["status"] = "editedButDifferently"
    rsps.post(f"{V3}/editorder", json=body)
    with pytest.raises(AmbiguousOutcome):
        kraken.edit_order(client_order_id="or-1", size=Decimal(1501))
