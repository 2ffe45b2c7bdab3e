"""The pure parts: Spot REST signing, add_order params, the executions/positions/margin/instrument rows, the one
error table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.base import InstrumentSpec, Liquidity, OrderRequest, OrderState, OrderType, Side, TriggerSignal
from exchanges.errors import AmbiguousOutcome, AuthenticationFailed, OrderRejected, RateLimited, Unavailable
from exchanges.kraken.errors import ClientOrderIdAlreadyExists, Kind
from exchanges.kraken.uws import assumptions as A
from exchanges.kraken.uws import codec, errors
from exchanges.kraken.uws.signing import api_sign

XBT = InstrumentSpec("PF_XBTUSD", "flexible_futures", Decimal(1), Decimal("0.0001"), Decimal(1), True)
NOW = datetime(2026, 12, 4, 12, 0, 0, 123000, tzinfo=UTC)


def test_spot_signature_matches_krakens_documented_example():
    # Kraken's Spot REST authentication guide: this key, nonce and body give exactly this API-Sign.
    secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    body = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert api_sign("/0/private/AddOrder", "1616492376594", body, secret) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


def test_decimals_go_out_as_plain_json_numbers():
    text = codec.dumps({"order_qty": Decimal("0.00010000"), "price": Decimal("6.10313E+4"), "ok": True, "n": None})
    assert text == '{"order_qty":0.0001,"price":61031.3,"ok":true,"n":null}'
    assert codec.loads(text)["price"] == Decimal("61031.3")
    with pytest.raises(TypeError):
        codec.dumps({"price": 1.5})  # a float never reaches the wire


def _stop(signal: TriggerSignal | None, **kw) -> OrderRequest:
    return OrderRequest(
        "PF_XBTUSD",
        Side.SELL,
        Decimal("0.01"),
        OrderType.STOP,
        "or-7",
        stop_price=Decimal(54000),
        trigger_signal=signal,
        reduce_only=True,
        **kw,
    )


def test_a_reduce_only_index_stop_carries_the_documented_trigger_fields():
    params = codec.add_order_params(_stop(TriggerSignal.INDEX), token="t", deadline=NOW, spec=XBT)
    assert params["order_type"] == "stop-loss"
    assert params["triggers"] == {"reference": "index", "price": Decimal(54000), "price_type": "static"}
    assert params["reduce_only"] is True and params["cl_ord_id"] == "or-7"
    assert params["asset_class"] == "derivatives" and params["deadline"] == "2026-12-04T12:00:00.123Z"
    assert "validate" not in params


@pytest.mark.parametrize("signal", [TriggerSignal.MARK, None])
def test_a_mark_stop_is_refused_not_mapped(signal):
    with pytest.raises(OrderRejected) as refused:
        codec.add_order_params(_stop(signal), token="t", deadline=NOW)
    assert refused.value.status == "localValidation"


def test_off_grid_values_and_bad_client_ids_are_refused_before_sending():
    off = OrderRequest("PF_XBTUSD", Side.BUY, Decimal("0.00015"), OrderType.MARKET, "or-1")
    with pytest.raises(OrderRejected, match="qty_increment"):
        codec.add_order_params(off, token="t", deadline=None, spec=XBT)
    too_long = OrderRequest(
        "PF_XBTUSD", Side.BUY, Decimal("0.01"), OrderType.MARKET, "x" * (A.CLIENT_ID_MAX_LENGTH + 1)
    )
    with pytest.raises(OrderRejected):
        codec.add_order_params(too_long, token="t", deadline=None)
    validated = codec.add_order_params(
        off.__class__("PF_XBTUSD", Side.BUY, Decimal("0.01"), OrderType.MARKET, "a"),
        token="t",
        deadline=None,
        validate=True,
    )
    assert validated["validate"] is True


def test_an_executions_trade_row_reads_into_our_words():
    row = codec.loads(
        '{"order_id":"o1","cl_ord_id":"or-1","exec_type":"trade","order_status":"partially_filled","symbol":"PF_XBTUSD",'
        '"side":"buy","order_type":"market","order_qty":0.02,"cum_qty":0.02,"exec_id":"e1","last_qty":0.02,'
        '"last_price":60000.5,"liquidity_ind":"t","fees":[{"asset":"USD","qty":0.6}],"timestamp":"2026-12-04T12:00:00.123456789Z"}'
    )
    execution = codec.execution(row, "row")
    assert execution.is_trade and execution.last_price == Decimal("60000.5")
    assert execution.liquidity is Liquidity.TAKER and execution.fee == Decimal("0.6")
    assert execution.time == datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=UTC)
    assert execution.state is OrderState.PARTIALLY_FILLED  # the state machine then corrects it from cum_qty


def test_positions_margin_and_instrument_rows():
    positions = codec.positions(
        {
            "futures": [
                {"symbol": "pf_xbtusd", "size": -0.5, "entry_price": 61000},
                {"symbol": "PF_ETHUSD", "size": 2, "side": "short", "entry_price": 3000},
            ]
        }
    )
    assert positions["PF_XBTUSD"].size == Decimal("-0.5") and positions["PF_ETHUSD"].size == Decimal(-2)
    summary = codec.margin(
        [{"type": "single_collateral"}, {"type": "multi_collateral", "margin_equity": 100, "available_margin": 80}]
    )
    assert summary.equity == Decimal(100) and summary.available_margin == Decimal(80)
    with pytest.raises(codec.MalformedMessage):
        codec.margin([{"type": "single_collateral"}])
    (spec,) = codec.instruments(
        [
            {
                "symbol": "PF_XBTUSD",
                "price_increment": 0.5,
                "qty_increment": 0.0001,
                "qty_min": 0.0001,
                "status": "maintenance",
            }
        ]
    )
    assert spec.tick_size == Decimal("0.5") and spec.size_step == Decimal("0.0001")
    assert spec.suspended and not spec.can_trade  # an unknown or non-online status is never tradeable


@pytest.mark.parametrize(
    ("text", "order_call", "expected"),
    [
        ("Insufficient available funds", True, OrderRejected),
        ("Order would not reduce position", True, OrderRejected),
        ("Duplicate cl_ord_id", True, ClientOrderIdAlreadyExists),
        ("Exceeded msg rate", True, RateLimited),
        ("Token expired", True, AuthenticationFailed),
        ("Internal server error", True, AmbiguousOutcome),
        ("something nobody has seen", True, AmbiguousOutcome),  # an unknown "no" is never taken as definitive
        ("something nobody has seen", False, Unavailable),
        ("Insufficient available funds", False, Unavailable),
    ],
)
def test_the_error_table(text, order_call, expected):
    error = errors.error_for(text, order_call=order_call, client_order_id="or-1")
    assert type(error) is expected
    if expected is OrderRejected:
        assert error.status == text  # the venue's words, verbatim


def test_cancel_not_found_is_an_answer_and_every_assumption_is_registered_once():
    assert errors.classify("Order not found") is Kind.CANCEL_OUTCOME
    names = [a.name for a in A.table()]
    assert len(names) == len(set(names))
    assert {a.mark for a in A.table()} <= {"C", "S", "I", "?"}
    assert A.WORST_CASE_STOP_SIGNAL in A.TRIGGER_REFERENCES and TriggerSignal.MARK not in A.TRIGGER_REFERENCES
