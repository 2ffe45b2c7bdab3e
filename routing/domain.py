"""Value types of the pure decision layer: the parsed alert, a route's configuration, the exchange snapshot a
decision is made from, and the verdict. All frozen, all Decimal, all serialisable to JSON so that a stored
Decision can be replayed bit for bit (`manage.py replay_decision`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Context, Decimal
from enum import StrEnum
from typing import Any

from audit.reasons import Reason


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"


class SizingMode(StrEnum):
    TARGET = "target"
    CONTRACTS = "contracts"
    FIXED = "fixed"


class SidePolicy(StrEnum):
    BOTH = "both"
    LONG_ONLY = "long_only"
    SHORT_ONLY = "short_only"


class VerdictAction(StrEnum):
    SEND = "send"
    SKIP = "skip"


@dataclass(frozen=True)
class AlertIntent:
    """A validated payload v1, without the secret."""

    action: Action
    fired_at: datetime
    position: Decimal | None = None
    contracts: Decimal | None = None
    market_position: str | None = None
    symbol: str | None = None
    price: Decimal | None = None
    strategy_order_id: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class RouteConfig:
    route_id: int
    symbol: str  # the exchange instrument, e.g. PF_XBTUSD
    tv_alias: str = ""  # what {{ticker}} says, e.g. XBTUSD.P; empty: only the symbol itself matches
    enabled: bool = True
    sizing_mode: SizingMode = SizingMode.TARGET
    multiplier: Decimal = Decimal(1)
    fixed_size: Decimal | None = None
    side_policy: SidePolicy = SidePolicy.BOTH
    max_order_size: Decimal | None = None
    max_position: Decimal | None = None
    max_notional: Decimal | None = None
    max_leverage: Decimal | None = None
    orders_per_hour: int | None = None
    daily_loss_limit: Decimal | None = None
    max_alert_age_seconds: int = 60
    future_skew_seconds: int = 5
    price_deviation_pct: Decimal | None = None
    worst_case_stop_pct: Decimal | None = None
    frozen: bool = False  # reconciliation found drift: no new exposure until a person clears it


@dataclass(frozen=True)
class InstrumentSnapshot:
    symbol: str
    tick_size: Decimal
    size_step: Decimal
    contract_size: Decimal
    tradeable: bool
    suspended: bool = False
    kind: str = "flexible_futures"  # the venue's contract type: only linear ones are sized correctly
    quote: str = "USD"  # the currency notional, P&L and limits are in


@dataclass(frozen=True)
class Snapshot:
    """Everything a decision depends on besides the alert and the route. Stored on the Decision."""

    taken_at: datetime
    account_connected: bool
    credentials_readable: bool
    live: bool
    live_access: bool
    # Set when what every order needs (the instrument, the position) could not be read: nothing is sent. A failure
    # to read what only some checks use (the mark price, the account's equity) is not an error: those values stay
    # None, the checks that need them fail closed, and `read_warnings` says why - so an exit is never skipped for
    # want of data it does not use.
    read_error: str = ""
    read_warnings: str = ""
    instrument: InstrumentSnapshot | None = None
    mark_price: Decimal | None = None
    position: Decimal = Decimal(0)  # signed, in the instrument's size unit
    equity: Decimal | None = None
    available_margin: Decimal | None = None
    # Read only for a route that limits them (None: no limit, so not counted - two queries an alert saved).
    orders_last_hour: int | None = None
    realized_pnl_today: Decimal | None = None
    # The route's own state: TradingView's time of the newest alert already decided (an older one is superseded),
    # orders of the route whose outcome is still unknown (client order ids), and the circuit breaker.
    last_fired_at: datetime | None = None
    orders_in_flight: tuple[str, ...] = ()
    breaker_open_until: datetime | None = None


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    observed: str = ""
    limit: str = ""
    reason: Reason | None = None  # the reason this check gives when it fails


@dataclass(frozen=True)
class OrderLeg:
    side: str  # "buy" | "sell"
    size: Decimal  # unsigned, on the instrument's step
    reduce_only: bool


@dataclass(frozen=True)
class Verdict:
    action: VerdictAction
    reason: Reason
    checks: tuple[Check, ...] = ()
    legs: tuple[OrderLeg, ...] = ()  # reducing leg first, then the increasing one
    target_position: Decimal | None = None
    # A reversal whose increasing part failed an exposure check still sends its reducing part; this says why the
    # rest was dropped.
    blocked_reason: Reason | None = None
    detail: str = ""

    @property
    def failed_check(self) -> Check | None:
        return next((c for c in self.checks if not c.passed), None)


def number_text(number: Decimal) -> str:
    """The exact value as plain decimal text for people: no exponent, no trailing zeros (0.100000000000 → 0.1,
    1E+3 → 1000). Stored values keep their on-step Decimal; only the text is trimmed."""
    if not number.is_finite():
        return str(number)
    if not number:
        return "0"
    return format(number.normalize(Context(prec=100)), "f")


# --- JSON round trip, so snapshots and verdicts are stored and replayed exactly -------------------------------


def to_json(obj: Any) -> Any:
    """Dataclasses → plain JSON: Decimals and datetimes as strings (exact), enums as values."""
    kind = type(obj)
    if kind in _AS_THEY_ARE:
        return obj
    if kind is Decimal:
        return str(obj)
    names = _field_names.get(kind)
    if names is None and hasattr(kind, "__dataclass_fields__"):
        names = _field_names[kind] = tuple(f.name for f in fields(kind))
    if names is not None:
        return {name: to_json(getattr(obj, name)) for name in names}
    if isinstance(obj, tuple | list):
        return [to_json(v) for v in obj]
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, StrEnum):
        return obj.value
    return obj


# Every decision stores its snapshot, configuration and verdict (~200 values): the common leaves are answered by
# their exact type first, and a dataclass's field names are looked up once per class, not once per value.
_AS_THEY_ARE = frozenset({str, int, bool, float, type(None)})
_field_names: dict[type, tuple[str, ...]] = {}


def snapshot_from_json(data: dict[str, Any]) -> Snapshot:
    instrument = data.get("instrument")
    return Snapshot(
        taken_at=datetime.fromisoformat(data["taken_at"]),
        account_connected=data["account_connected"],
        credentials_readable=data["credentials_readable"],
        live=data["live"],
        live_access=data["live_access"],
        read_error=data.get("read_error", ""),
        instrument=InstrumentSnapshot(
            symbol=instrument["symbol"],
            tick_size=Decimal(instrument["tick_size"]),
            size_step=Decimal(instrument["size_step"]),
            contract_size=Decimal(instrument["contract_size"]),
            tradeable=instrument["tradeable"],
            suspended=instrument.get("suspended", False),
            kind=instrument.get("kind", "flexible_futures"),
            quote=instrument.get("quote", "USD"),
        )
        if instrument
        else None,
        mark_price=_dec(data.get("mark_price")),
        position=Decimal(data.get("position", "0")),
        equity=_dec(data.get("equity")),
        available_margin=_dec(data.get("available_margin")),
        orders_last_hour=None if data.get("orders_last_hour") is None else int(data["orders_last_hour"]),
        realized_pnl_today=_dec(data.get("realized_pnl_today")),
        read_warnings=data.get("read_warnings", ""),
        last_fired_at=_time(data.get("last_fired_at")),
        orders_in_flight=tuple(data.get("orders_in_flight", ())),
        breaker_open_until=_time(data.get("breaker_open_until")),
    )


def route_config_from_json(data: dict[str, Any]) -> RouteConfig:
    decimals = {
        "multiplier",
        "fixed_size",
        "max_order_size",
        "max_position",
        "max_notional",
        "max_leverage",
        "daily_loss_limit",
        "price_deviation_pct",
        "worst_case_stop_pct",
    }
    kwargs: dict[str, Any] = {}
    for f in fields(RouteConfig):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in decimals:
            value = _dec(value)
        elif f.name == "sizing_mode":
            value = SizingMode(value)
        elif f.name == "side_policy":
            value = SidePolicy(value)
        elif f.name == "frozen":
            value = bool(value)
        kwargs[f.name] = value
    return RouteConfig(**kwargs)


def intent_from_json(data: dict[str, Any]) -> AlertIntent:
    return AlertIntent(
        action=Action(data["action"]),
        fired_at=datetime.fromisoformat(data["fired_at"]),
        position=_dec(data.get("position")),
        contracts=_dec(data.get("contracts")),
        market_position=data.get("market_position"),
        symbol=data.get("symbol"),
        price=_dec(data.get("price")),
        strategy_order_id=data.get("strategy_order_id"),
        comment=data.get("comment"),
    )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
