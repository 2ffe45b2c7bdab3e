"""Pure translation between the Unified WebSocket's JSON and the protocol's value types. No I/O, no clock.

* JSON numbers are read as ``Decimal`` (UWS sends sizes and prices as numbers: "use a decimal-aware JSON parser")
  and written as JSON numbers from ``Decimal`` without exponent notation or float rounding.
* Field names come from ``assumptions.py``; a row we cannot read raises ``MalformedMessage`` (the session treats
  the stream as broken and re-snapshots rather than guessing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from exchanges.base import (
    AccountSummary,
    InstrumentSpec,
    Liquidity,
    OrderRequest,
    OrderState,
    OrderType,
    Position,
    Side,
    TriggerSignal,
)
from exchanges.errors import OrderRejected
from exchanges.kraken.decoding import render_decimal
from exchanges.kraken.uws import assumptions as A

ASSET_CLASS = "derivatives"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_SIGNALS_BY_WORD = {word: signal for signal, word in A.TRIGGER_REFERENCES.items()}
_TYPES_BY_WORD = {word: OrderType(kind) for kind, word in A.ORDER_TYPES.items()}


class MalformedMessage(ValueError):
    """A message that parsed as JSON but lacks what we need."""


# -- JSON ---------------------------------------------------------------------------------------------------------


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def dumps(value: Any) -> str:
    """JSON with ``Decimal`` as plain numbers (``61031.3``, never ``6.10313E+4`` or a float's ``61031.300000001``)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not finite")
        return render_decimal(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("floats are not sent: use Decimal")
    return json.dumps(value)


def decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise MalformedMessage(f"{where}: {value!r} is not a number")
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise MalformedMessage(f"{where}: {value!r} is not a number") from None
    if not result.is_finite():
        raise MalformedMessage(f"{where}: {value!r} is not finite")
    return result


def optional_decimal(row: Mapping[str, Any], name: str, where: str) -> Decimal | None:
    value = row.get(name)
    return None if value is None or value == "" else decimal(value, f"{where}.{name}")


def timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedMessage(f"{where}: timestamp {value!r} is not a string")
    text = value.strip().replace("Z", "+00:00")
    # RFC 3339 with up to 9 fractional digits; Python takes 6.
    match = re.match(r"^(.*\.\d{6})\d*(.*)$", text)
    if match:
        text = match.group(1) + match.group(2)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedMessage(f"{where}: timestamp {value!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise MalformedMessage(f"{where}: timestamp {value!r} has no zone")
    return moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- requests -----------------------------------------------------------------------------------------------------


def _refuse(reason: str) -> OrderRejected:
    return OrderRejected("localValidation", f"refused before sending: {reason}")


def _positive(value: Decimal | None, name: str) -> Decimal:
    if value is None or not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise _refuse(f"{name} must be a positive finite Decimal, got {value!r}")
    return value


def on_grid(value: Decimal, increment: Decimal) -> bool:
    return increment > 0 and (value / increment) == (value / increment).to_integral_value()


def add_order_params(
    request: OrderRequest,
    *,
    token: str | None,
    deadline: datetime | None,
    validate: bool = False,
    spec: InstrumentSpec | None = None,
) -> dict[str, Any]:
    """``add_order`` params for one order. Raises ``OrderRejected('localValidation')`` before anything is sent.

    Sizes and prices must already sit on the instrument's grid (``qty_increment``/``price_increment``): the caller
    rounds with the spec the instrument channel gave; an off-grid value here is a bug, refused rather than rounded.
    """
    cid = request.client_order_id
    if not cid or len(cid) > A.CLIENT_ID_MAX_LENGTH or not _CLIENT_ID.match(cid):
        raise _refuse(f"client order id must be 1-{A.CLIENT_ID_MAX_LENGTH} characters of [A-Za-z0-9_-]")
    size = _positive(request.size, "size")
    if spec is not None:
        if not on_grid(size, spec.size_step):
            raise _refuse(f"size {size} is not a multiple of qty_increment {spec.size_step}")
        for name, price in (("limit price", request.limit_price), ("stop price", request.stop_price)):
            if price is not None and not on_grid(price, spec.tick_size):
                raise _refuse(f"{name} {price} is not a multiple of price_increment {spec.tick_size}")
    params: dict[str, Any] = {
        "order_type": A.ORDER_TYPES[request.order_type.value],
        "side": request.side.value,
        "order_qty": size,
        "symbol": request.symbol.upper(),
    }
    if request.order_type is OrderType.MARKET:
        if request.limit_price is not None or request.stop_price is not None or request.trigger_signal is not None:
            raise _refuse("a market order takes no limit price, stop price or trigger")
    elif request.order_type is OrderType.LIMIT:
        if request.stop_price is not None or request.trigger_signal is not None:
            raise _refuse("a limit order takes no stop price or trigger")
        params["limit_price"] = _positive(request.limit_price, "limit price")
    else:
        if request.limit_price is not None:
            raise _refuse("stop-limit orders are not supported on this transport")
        signal = request.trigger_signal
        if signal is None or signal not in A.TRIGGER_REFERENCES:
            # Never mapped silently: a stop the caller meant on mark must not quietly trigger on something else.
            offered = ", ".join(s.value for s in A.TRIGGER_REFERENCES)
            raise _refuse(f"stops trigger on {offered} here, not {signal.value if signal else 'an unnamed signal'}")
        params["triggers"] = {
            "reference": A.TRIGGER_REFERENCES[signal],
            "price": _positive(request.stop_price, "stop price"),
            "price_type": A.TRIGGER_PRICE_TYPE,
        }
    params[A.REDUCE_ONLY_FIELD] = bool(request.reduce_only)
    params[A.CLIENT_ID_FIELD] = cid
    if deadline is not None:
        params["deadline"] = rfc3339(deadline)
    if validate:
        params[A.VALIDATE_FIELD] = True
    params["asset_class"] = ASSET_CLASS
    params["token"] = token
    return params


# -- channel rows -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """One executions row, in our words. ``exec_type`` and ``order_status`` are the venue's words, verbatim."""

    order_id: str
    client_order_id: str | None
    exec_type: str
    order_status: str
    symbol: str | None
    side: Side | None
    order_type: OrderType | None
    qty: Decimal | None
    cum_qty: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trigger_signal: TriggerSignal | None
    reduce_only: bool | None
    exec_id: str | None
    last_qty: Decimal | None
    last_price: Decimal | None
    liquidity: Liquidity
    fee: Decimal
    realized_pnl: Decimal | None
    time: datetime | None
    reason: str

    @property
    def is_trade(self) -> bool:
        return self.exec_type == "trade" and self.exec_id is not None and bool(self.last_qty)

    @property
    def state(self) -> OrderState | None:
        """What ``order_status`` (or a terminal ``exec_type``) says, or None if the word is new to us."""
        word = A.ORDER_STATUS_WORDS.get(self.order_status)
        if word is None:
            word = A.EXEC_TYPES_GONE.get(self.exec_type)
        return OrderState(word) if word else None


def _liquidity(value: Any) -> Liquidity:
    text = str(value or "").lower()
    if text in ("m", "maker"):
        return Liquidity.MAKER
    if text in ("t", "taker"):
        return Liquidity.TAKER
    return Liquidity.OTHER


def _side(value: Any, where: str) -> Side | None:
    if value is None:
        return None
    try:
        return Side(str(value).lower())
    except ValueError:
        raise MalformedMessage(f"{where}: side {value!r}") from None


def execution(row: Mapping[str, Any], where: str) -> Execution:
    f = A.EXECUTION_FIELDS
    order_id = row.get(f["order_id"])
    if not isinstance(order_id, str) or not order_id:
        raise MalformedMessage(f"{where}: no order_id")
    triggers = row.get(f["triggers"]) or {}
    if not isinstance(triggers, Mapping):
        raise MalformedMessage(f"{where}: triggers is not an object")
    fee = Decimal(0)
    for index, item in enumerate(row.get(f["fees"]) or []):
        if isinstance(item, Mapping):
            fee += decimal(item.get("qty", 0), f"{where}.fees[{index}]")
    order_type_word = row.get(f["order_type"])
    reference = triggers.get("reference")
    client = row.get(f["client_id"])
    return Execution(
        order_id=order_id,
        client_order_id=str(client) if client else None,
        exec_type=str(row.get("exec_type") or ""),
        order_status=str(row.get("order_status") or ""),
        symbol=str(row[f["symbol"]]).upper() if row.get(f["symbol"]) else None,
        side=_side(row.get(f["side"]), where),
        order_type=_TYPES_BY_WORD.get(str(order_type_word)) if order_type_word else None,
        qty=optional_decimal(row, f["qty"], where),
        cum_qty=optional_decimal(row, f["cum_qty"], where),
        limit_price=optional_decimal(row, f["limit_price"], where),
        stop_price=optional_decimal(triggers, "price", f"{where}.triggers") if triggers else None,
        trigger_signal=_SIGNALS_BY_WORD.get(str(reference)) if reference else None,
        reduce_only=bool(row[f["reduce_only"]]) if f["reduce_only"] in row else None,
        exec_id=str(row[f["exec_id"]]) if row.get(f["exec_id"]) else None,
        last_qty=optional_decimal(row, f["last_qty"], where),
        last_price=optional_decimal(row, f["last_price"], where),
        liquidity=_liquidity(row.get(f["liquidity"])),
        fee=fee,
        realized_pnl=optional_decimal(row, f["realized_pnl"], where),
        time=timestamp(row[f["time"]], f"{where}.timestamp") if row.get(f["time"]) else None,
        reason=str(row.get(f["reason"]) or ""),
    )


def _rows(data: Any, key: str, where: str) -> list[Mapping[str, Any]]:
    if isinstance(data, Mapping):
        data = data.get(key, [])
    if not isinstance(data, list):
        raise MalformedMessage(f"{where}: data is not a list")
    return [row for row in data if isinstance(row, Mapping)]


def positions(data: Any, where: str = "positions") -> dict[str, Position]:
    """symbol -> Position; a row with size 0 maps to a Position of size 0 (closed: the state removes it)."""
    f = A.POSITION_FIELDS
    result: dict[str, Position] = {}
    for index, row in enumerate(_rows(data, f["list"], where)):
        here = f"{where}[{index}]"
        symbol = row.get(f["symbol"])
        if not symbol:
            raise MalformedMessage(f"{here}: no symbol")
        size = decimal(row.get(f["size"]), f"{here}.size")
        if str(row.get("side", "")).lower() == "short" and size > 0:
            size = -size
        entry = optional_decimal(row, f["entry"], here) or Decimal(0)
        result[str(symbol).upper()] = Position(symbol=str(symbol).upper(), size=size, average_price=entry)
    return result


def margin(data: Any, where: str = "margin") -> AccountSummary:
    f = A.MARGIN_FIELDS
    rows = data if isinstance(data, list) else [data]
    for row in rows:
        if isinstance(row, Mapping) and row.get("type") == f["type"]:
            return AccountSummary(
                currency=A.MARGIN_CURRENCY,
                equity=decimal(row.get(f["equity"]), f"{where}.{f['equity']}"),
                available_margin=decimal(row.get(f["available"]), f"{where}.{f['available']}"),
                initial_margin=optional_decimal(row, f["initial"], where) or Decimal(0),
                maintenance_margin=optional_decimal(row, f["maintenance"], where) or Decimal(0),
            )
    raise MalformedMessage(f"{where}: no {f['type']} section")


def _contract_kind(symbol: str) -> str:
    """The contract type REST names in `type`, from the symbol's prefix (the instrument rows carry no type we know
    of): PF_/FF_ linear (`flexible_futures`), PI_/FI_ inverse (`futures_inverse`). Anything else is `unknown`, which
    the engine refuses to trade - an inverse contract must never be sized as if it were linear."""
    prefix = symbol.split("_", 1)[0]
    return {"PF": "flexible_futures", "FF": "flexible_futures", "PI": "futures_inverse", "FI": "futures_inverse"}.get(
        prefix, "unknown"
    )


def instruments(data: Any, where: str = "instrument") -> list[InstrumentSpec]:
    f = A.INSTRUMENT_FIELDS
    rows = data
    if isinstance(data, Mapping):
        rows = data.get("futures") or data.get("instruments") or data.get("pairs") or []
    specs = []
    for index, row in enumerate(_rows(rows, "", where)):
        here = f"{where}[{index}]"
        symbol = row.get(f["symbol"])
        if not symbol:
            raise MalformedMessage(f"{here}: no symbol")
        status = str(row.get(f["status"], "online"))
        step = decimal(row.get(f["step"]), f"{here}.{f['step']}")
        specs.append(
            InstrumentSpec(
                symbol=str(symbol).upper(),
                kind=_contract_kind(str(symbol).upper()),
                tick_size=decimal(row.get(f["tick"]), f"{here}.{f['tick']}"),
                # qty_min is "rounded up to the grid"; a size between the step and the minimum is refused by the
                # venue as a definitive rejection, never sent as something else.
                size_step=step,
                contract_size=optional_decimal(row, f["contract_size"], here) or A.DEFAULT_CONTRACT_SIZE,
                tradeable=status in A.INSTRUMENT_TRADEABLE_STATUS,
                suspended=status not in A.INSTRUMENT_TRADEABLE_STATUS,
                post_only=status == "post_only",
                max_position_size=optional_decimal(row, f["max_position"], here),
                base=str(row.get("base") or ""),
                quote=str(row.get("quote") or ""),
            )
        )
    return specs


def ticker_fields(row: Mapping[str, Any], where: str) -> dict[str, Decimal | None]:
    f = A.TICKER_FIELDS
    return {name: optional_decimal(row, wire, where) for name, wire in f.items()}
