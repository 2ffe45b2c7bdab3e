"""Kraken's request parameters, parsed as Kraken parses them: missing, invalid and unknown-market errors apart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from exchanges.base import Side, TriggerSignal
from exchanges.fake.api.envelope import Reply, bad_request, classic_error
from exchanges.sim.model import SimOrderRequest
from exchanges.sim.vocabulary import OrderKind

if TYPE_CHECKING:
    from exchanges.fake.api.venue import Venue

ORDER_TYPES = {k.value: k for k in OrderKind}
TRIGGER_SIGNALS = {
    "mark": TriggerSignal.MARK,
    "index": TriggerSignal.INDEX,
    # python-kraken-sdk validates mark|spot|last (reference §3.1); Kraken's own spec says index. Accept both.
    "spot": TriggerSignal.INDEX,
    "last": TriggerSignal.LAST,
}


class ParamError(Exception):
    def __init__(self, problem: str, name: str) -> None:
        super().__init__(f"{problem}: {name}")
        self.problem = problem  # "missing", "invalid", "unknown_market"
        self.name = name


Getter = Callable[[str], "str | None"]


def decimal_param(get: Getter, name: str, *, required: bool = False) -> Decimal | None:
    raw = get(name)
    if raw is None:
        if required:
            raise ParamError("missing", name)
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ParamError("invalid", name) from None
    if not value.is_finite():
        raise ParamError("invalid", name)
    return value


def boolean_param(get: Getter, name: str, default: bool = False) -> bool:
    raw = get(name)
    if raw is None:
        return default
    # python-kraken-sdk sends Python's urlencode of True, "True" (reference pitfall 14); Kraken accepted it.
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ParamError("invalid", name)


def process_before_param(get: Getter) -> datetime | None:
    raw = get("processBefore")
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "T"))
    except ValueError:
        raise ParamError("invalid", "processBefore") from None
    if value.tzinfo is None:
        raise ParamError("invalid", "processBefore")
    return value


def parse_order(get: Getter, venue: Venue) -> SimOrderRequest:
    order_type = get("orderType")
    if order_type is None:
        raise ParamError("missing", "orderType")
    kind = ORDER_TYPES.get(order_type)
    if kind is None:
        # trailing_stop and fok are not simulated; Kraken's demo itself answered trailing_stop with a 400
        # "invalid order type" (reference pitfall 16).
        raise ParamError("invalid", "orderType")
    raw_symbol = get("symbol")
    if raw_symbol is None:
        raise ParamError("missing", "symbol")
    side_word = get("side")
    if side_word is None:
        raise ParamError("missing", "side")
    if side_word not in ("buy", "sell"):
        raise ParamError("invalid", "side")
    size = decimal_param(get, "size", required=True)
    limit_price = decimal_param(get, "limitPrice", required=kind in (OrderKind.LIMIT, OrderKind.POST, OrderKind.IOC))
    stop_price = decimal_param(get, "stopPrice", required=kind.is_trigger)
    signal_word = get("triggerSignal")
    signal = TriggerSignal.MARK
    if signal_word is not None:
        if signal_word not in TRIGGER_SIGNALS:
            raise ParamError("invalid", "triggerSignal")
        signal = TRIGGER_SIGNALS[signal_word]
    for unsupported in ("limitPriceOffsetValue", "limitPriceOffsetUnit", "trailingStopMaxDeviation"):
        if get(unsupported) is not None:
            raise ParamError("invalid", unsupported)
    reduce_only = boolean_param(get, "reduceOnly")
    symbol = venue.symbol(raw_symbol)
    if symbol is None:
        raise ParamError("unknown_market", "symbol")
    assert size is not None
    return SimOrderRequest(
        symbol=symbol,
        side=Side(side_word),
        size=size,
        kind=kind,
        client_order_id=get("cliOrdId"),
        limit_price=limit_price,
        stop_price=stop_price,
        trigger_signal=signal,
        reduce_only=reduce_only,
    )


def param_reply(error: ParamError, now: datetime) -> Reply:
    if error.problem == "missing":
        return classic_error("requiredArgumentMissing", now)
    if error.problem == "unknown_market":
        return classic_error("invalidArgument", now)
    return bad_request(error.name, now)


def json_getter(item: dict[str, Any]) -> Getter:
    def get(name: str) -> str | None:
        value = item.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get
