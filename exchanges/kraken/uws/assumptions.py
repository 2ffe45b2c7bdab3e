"""Every unconfirmed assumption the Unified WebSocket transport rests on, in one place.

Marks follow ``shared/reference/kraken-uws.md``: **C** confirmed by a Kraken UWS page, **S** known only for Spot
WebSocket v2, **I** our inference, **?** unknown. Only C items are facts; everything else is a bet, and each bet is
a named constant here (never a literal elsewhere), registered in ``REGISTRY`` with the way
``manage.py kraken_uws_probe`` checks it against a real key (``validate: true`` only; it never places an order).

The fake Unified WebSocket (``exchanges/fake/uws``) deliberately does NOT import this module: it writes the same
shapes from its own tables, so that a wrong bet shows up as a disagreement between the two when the probe runs
against the real venue, not as two sides agreeing on the same mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from exchanges.base import TriggerSignal

T = TypeVar("T")


@dataclass(frozen=True)
class Assumption:
    name: str
    value: Any
    mark: str  # "C", "S", "I" or "?"
    claim: str
    probe: str  # how kraken_uws_probe checks it ("" when only a real trade could tell)


REGISTRY: list[Assumption] = []


def _assume(name: str, value: T, mark: str, claim: str, probe: str = "") -> T:
    if mark not in ("C", "S", "I", "?"):
        raise ValueError(mark)
    REGISTRY.append(Assumption(name, value, mark, claim, probe))
    return value


# -- endpoints and credentials ---------------------------------------------------------------------------------

PRIVATE_URL = _assume(
    "private_url", "wss://uws.kraken.com/v2/private", "C", "private endpoint (account streams and order entry)"
)
PUBLIC_URL = _assume("public_url", "wss://uws.kraken.com/v2/public", "C", "public endpoint (instrument, ticker)")
SPOT_REST_URL = _assume("spot_rest_url", "https://api.kraken.com", "C", "host of GetWebSocketsToken/GetApiKeyInfo")
TOKEN_PATH = _assume("token_path", "/0/private/GetWebSocketsToken", "C", "token call, Spot REST HMAC signed")
KEY_INFO_PATH = _assume(
    "key_info_path",
    "/0/private/GetApiKeyInfo",
    "C",
    "key self-check; result.permissions is a list of strings",
    probe="calls it and prints the permission strings",
)
WITHDRAW_PERMISSION_MARKERS = _assume(
    "withdraw_permission_markers",
    ("withdraw",),
    "I",
    "a permission string containing one of these words lets the key move funds (the SPEC example shows "
    "'withdraw-funds'; the full list is not captured); we refuse such keys, so an unknown word errs toward refusing",
    probe="prints every permission string of the key",
)
TRADE_PERMISSIONS = _assume(
    "trade_permissions",
    ("query-open-trades", "modify-trades", "cancel-close-trades", "query-funds"),
    "?",
    "permission strings a trading key must hold (only 'query-open-trades', 'modify-trades' seen in the SPEC "
    "example); a missing one is reported, not refused",
    probe="prints which of these the key lacks",
)
TOKEN_TTL_SECONDS = _assume(
    "token_ttl_seconds", 900, "C", "a token must be used within 15 minutes; a fresh one for every connection"
)
TOKEN_ERRORS = _assume(
    "token_errors",
    ("Token expired", "Invalid token", "EAPI:Invalid token", "ESession:Invalid session"),
    "?",
    "error texts meaning the token is no longer good (the SDK has SessionExpired; no string captured): the "
    "request was refused before acting, and the connection is renewed with a fresh token",
    probe="subscribes with a deliberately stale token and prints the answer",
)

# -- connection, liveness, gaps ----------------------------------------------------------------------------------

HEARTBEAT_SECONDS = _assume("heartbeat_seconds", 1.0, "C", "a heartbeat about once a second once subscribed")
STALE_AFTER_SECONDS = _assume(
    "stale_after_seconds",
    5.0,
    "I",
    "no message at all for this long means the connection is dead (the idle timeout is undocumented)",
)
SEQUENCE_FIELD = _assume(
    "sequence_field",
    "sequence",
    "S",
    "private channel messages carry a top-level integer 'sequence', +1 per message of that channel on this "
    "connection (Spot v2 balances show it; UWS documents none). A jump or a step back is a gap: re-snapshot. "
    "Messages without it are accepted, and gaps are then detected by reconnects only",
    probe="subscribes executions/positions/margin and reports whether 'sequence' is present",
)
EXECUTIONS_ACCOUNT_WIDE = _assume(
    "executions_account_wide",
    True,
    "S",
    "the executions channel reports every order of the account, also those placed on another connection or over "
    "REST - each worker process holds its own connection and must see the others' orders",
    probe="",
)
PRIVATE_CONNECTIONS_PER_ACCOUNT = _assume(
    "private_connections_per_account",
    "several",
    "?",
    "two private connections of one account may each subscribe positions and margin ('Already subscribed' is "
    "documented for a second subscription; we read it as per connection). OrderRail opens one per worker process",
    probe="opens a second connection and subscribes positions and margin on both",
)
SNAPSHOT_TRADES = _assume(
    "snapshot_trades", 50, "C", "executions with snap_trades:true adds the last 50 trades to the snapshot"
)

# -- orders --------------------------------------------------------------------------------------------------------

ORDER_TYPES = _assume(
    "order_types",
    {"market": "market", "limit": "limit", "stop": "stop-loss"},
    "C",
    "order_type words; a stop-market exit is 'stop-loss' with triggers{reference, price}",
)
ORDER_QTY_UNIT = _assume(
    "order_qty_unit",
    "base",
    "S",
    "order_qty is in the base currency (BTC for PF_XBTUSD), which is OrderRail's size unit for PF_ contracts",
    probe="validate:true add_order of qty_min and prints the answer",
)
REDUCE_ONLY_FIELD = _assume(
    "reduce_only_field",
    "reduce_only",
    "S",
    "reduce-only is a boolean 'reduce_only' on add_order",
    probe="validate:true reduce-only add_order",
)
CLIENT_ID_FIELD = _assume("client_id_field", "cl_ord_id", "C", "the client order id field (cancel/amend take it)")
CLIENT_ID_MAX_LENGTH = _assume(
    "client_id_max_length",
    18,
    "S",
    "a free-text cl_ord_id may be up to 18 characters (Spot rule; UUIDs also allowed); OrderRail's 'or-<pk>' fits",
    probe="validate:true add_order with an 'or-<digits>' client id",
)
TRIGGER_REFERENCES = _assume(
    "trigger_references",
    {TriggerSignal.INDEX: "index", TriggerSignal.LAST: "last"},
    "C",
    "triggers.reference is one of index, last (default last); NO mark. A mark stop is refused, never mapped",
)
WORST_CASE_STOP_SIGNAL = _assume(
    "worst_case_stop_signal",
    TriggerSignal.INDEX,
    "I",
    "the worst-case stop triggers on the index on this transport: mark is not offered, index is what mark is "
    "built from and, unlike last, cannot be tripped by one print (Kraken: index falls back to last during "
    "connectivity issues)",
    probe="validate:true stop-loss with triggers.reference 'index'",
)
TRIGGER_PRICE_TYPE = _assume(
    "trigger_price_type", "static", "S", "triggers.price_type 'static' = an absolute trigger price"
)
ORDER_DEADLINE_SECONDS = _assume(
    "order_deadline_seconds",
    5.0,
    "S",
    "add_order takes 'deadline' (RFC 3339, 0.5-60 s ahead; documented for derivatives amend and batch_add): an "
    "intent that reaches the engine later is refused, so an unacknowledged order cannot land after we resolve it",
    probe="validate:true add_order with a deadline",
)
AMEND_FIELDS = _assume(
    "amend_fields",
    {"size": "order_qty", "limit_price": "limit_price", "stop_price": "trigger_price"},
    "S",
    "amend_order takes order_qty (the new total, absolute - C), limit_price (C) and trigger_price (Spot v2 only), "
    "plus deadline (C); result amend_id and the id it was given",
    probe="",
)
CANCEL_TAKES_DEADLINE = _assume(
    "cancel_takes_deadline",
    False,
    "?",
    "cancel_order documents no deadline: a late cancel is refused here before sending, none is put on the wire",
)
VALIDATE_FIELD = _assume(
    "validate_field",
    "validate",
    "S",
    "add_order takes validate:true (documented for batch_add): checked, answered, never placed",
    probe="every probe order uses it; an order id in a validate answer would be reported loudly",
)
ADD_ORDER_RESULT = _assume(
    "add_order_result", ("order_id", "cl_ord_id"), "S", "add_order success result carries order_id and cl_ord_id"
)
EXEC_TYPES_ACCEPTED = _assume(
    "exec_types_accepted",
    ("new", "trade", "filled", "amended", "restated", "status", "triggered"),
    "S",
    "exec_type words that prove an order exists on the venue (derivatives: no pending_new)",
)
EXEC_TYPES_GONE = _assume(
    "exec_types_gone",
    {"canceled": "cancelled", "expired": "cancelled", "rejected": "rejected"},
    "?",
    "exec_type words that end an order without (further) fills; how a venue-side rejection of an accepted order "
    "is reported for derivatives is not captured",
    probe="prints exec_type/order_status words of the executions snapshot",
)
ORDER_STATUS_WORDS = _assume(
    "order_status_words",
    {
        "pending_new": "open",
        "new": "open",
        "untriggered": "open",
        "triggered": "open",
        "partially_filled": "partially_filled",
        "filled": "filled",
        "canceled": "cancelled",
        "expired": "cancelled",
        "rejected": "rejected",
    },
    "S",
    "order_status words and what they mean; drive state from order_status and cum_qty together (a trade event can "
    "say partially_filled for the trade that completes the order)",
    probe="prints order_status words of the executions snapshot",
)
EXECUTION_FIELDS = _assume(
    "execution_fields",
    {
        "order_id": "order_id",
        "client_id": "cl_ord_id",
        "symbol": "symbol",
        "side": "side",
        "order_type": "order_type",
        "qty": "order_qty",
        "limit_price": "limit_price",
        "triggers": "triggers",
        "cum_qty": "cum_qty",
        "exec_id": "exec_id",
        "last_qty": "last_qty",
        "last_price": "last_price",
        "liquidity": "liquidity_ind",
        "fees": "fees",
        "time": "timestamp",
        "reduce_only": "reduce_only",
        "reason": "reason",
        "realized_pnl": "realized_pnl",
    },
    "S",
    "executions data fields (Spot v2 schema as NT models it); 'realized_pnl' on a trade is a pure guess - without "
    "it, realised P&L on this transport is zero and the daily loss limit counts fees only",
    probe="prints the field names of the last 50 trades in the executions snapshot",
)

# -- account and market streams ------------------------------------------------------------------------------------

POSITION_FIELDS = _assume(
    "position_fields",
    {"list": "futures", "symbol": "symbol", "size": "size", "entry": "entry_price"},
    "C",
    "positions data.futures[] rows with symbol, size and entry_price (JSON numbers); size 0 = closed",
)
POSITIONS_FOLLOW_TRADES = _assume(
    "positions_follow_trades",
    True,
    "I",
    "every trade on the executions channel is followed by a positions update for its symbol ('updates carry the "
    "positions affected by that event'); a position read waits for it, and answers Unavailable if it never comes",
    probe="",
)
POSITION_SIZE_SIGNED = _assume(
    "position_size_signed",
    True,
    "?",
    "a short position has a negative size (no side field seen); a row with side 'short' and a positive size is "
    "also read as short",
    probe="prints the positions snapshot (with any open position)",
)
MARGIN_FIELDS = _assume(
    "margin_fields",
    {
        "type": "multi_collateral",
        "equity": "margin_equity",
        "available": "available_margin",
        "initial": "initial_margin",
        "maintenance": "maintenance_margin",
    },
    "?",
    "margin data rows: the multi_collateral (flex) row carries these fields (the channel is documented, its field "
    "names are not captured)",
    probe="prints the margin snapshot's field names",
)
MARGIN_CURRENCY = _assume("margin_currency", "USD", "I", "flex margin figures are in USD")
INSTRUMENT_FIELDS = _assume(
    "instrument_fields",
    {
        "symbol": "symbol",
        "tick": "price_increment",
        "step": "qty_increment",
        "min": "qty_min",
        "status": "status",
        "contract_size": "contract_size",
        "max_position": "max_position_size",
    },
    "C",
    "instrument rows: price_increment, qty_increment and qty_min are documented; status, contract_size and "
    "max_position_size names are guesses (missing contract_size reads as 1)",
    probe="prints one derivatives instrument row",
)
INSTRUMENT_TRADEABLE_STATUS = _assume(
    "instrument_tradeable_status",
    ("online", "work_in_progress"),
    "S",
    "instrument status words that mean tradeable; anything else is not (fail safe)",
    probe="prints the status words seen",
)
TICKER_FIELDS = _assume(
    "ticker_fields",
    {"mark": "mark_price", "index": "index_price", "last": "last", "bid": "bid", "ask": "ask"},
    "?",
    "the derivatives ticker carries mark_price and index_price (not documented; only ohlc tick_type=mark is). "
    "Without a mark price the adapter answers Unavailable: no order on a price it cannot see",
    probe="subscribes the ticker of PF_XBTUSD and prints its field names",
)
DEFAULT_CONTRACT_SIZE = Decimal(1)

# -- answers -------------------------------------------------------------------------------------------------------

CANCEL_NOT_FOUND = _assume(
    "cancel_not_found",
    ("not found", "unknown order"),
    "?",
    "cancel_order of an order that is gone fails with an error text containing one of these",
    probe="cancel_order of a random UUID and prints the answer",
)
DUPLICATE_CLIENT_ID = _assume(
    "duplicate_client_id",
    ("duplicate", "already exists", "already in use"),
    "?",
    "an add_order refused for a cl_ord_id already used says so with one of these words (with 'cl_ord_id' or "
    "'client'); it means 'it landed': look it up, never a rejection",
)
RATE_LIMIT_ERRORS = _assume(
    "rate_limit_errors", ("Exceeded msg rate", "rate limit"), "S", "texts of a refused-for-rate answer"
)
DEAD_MAN_SWITCH_USED = _assume(
    "dead_man_switch_used",
    False,
    "I",
    "cancel_all_orders_after is not used: it cancels every resting order of the account, the worst-case stop "
    "included, exactly when OrderRail is down - the moment the stop exists for",
)


def table() -> list[Assumption]:
    """Every unconfirmed assumption (C entries are listed too: they name the facts the rest builds on)."""
    return list(REGISTRY)
