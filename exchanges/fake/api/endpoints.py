"""Kraken's paths, as a table: which handler serves each, for whom (public/read/full), at what rate-limit cost."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from exchanges.fake.api.envelope import Request
from exchanges.fake.auth import ApiKey
from exchanges.fake.ratelimit import account_log_cost


@dataclass(frozen=True)
class Endpoint:
    name: str  # what faults and call counts are keyed by
    family: str  # "derivatives", "history" or "auth"
    methods: frozenset[str]
    access: str  # "public", "read" or "full"
    handler: str
    cost: int | Callable[[Request], int] = 0
    write_access: str = "full"  # for PUT on the preference endpoints

    def access_for(self, method: str) -> str:
        return self.write_access if method == "PUT" else self.access

    def cost_of(self, request: Request) -> int:
        return self.cost(request) if callable(self.cost) else self.cost


def _fills_cost(request: Request) -> int:
    return 25 if request.one("lastFillTime") else 2


def _batch_cost(request: Request) -> int:
    try:
        return 9 + len(json.loads(request.one("json") or "")["batchOrder"])
    except (ValueError, KeyError, TypeError):
        return 9


def _preference_cost(request: Request) -> int:
    return 10 if request.method == "PUT" else 2


def _account_log_cost(request: Request) -> int:
    try:
        return account_log_cost(int(request.one("count") or 500))
    except ValueError:
        return 1


GET = frozenset({"GET"})
POST = frozenset({"POST"})
GET_POST = frozenset({"GET", "POST"})
GET_PUT = frozenset({"GET", "PUT"})

DERIVATIVES = {
    e.name: e
    for e in (
        Endpoint("sendorder", "derivatives", POST, "full", "sendorder", 10),
        Endpoint("editorder", "derivatives", POST, "full", "editorder", 10),
        Endpoint("cancelorder", "derivatives", POST, "full", "cancelorder", 10),
        Endpoint("cancelallorders", "derivatives", POST, "full", "cancelallorders", 25),
        Endpoint("cancelallordersafter", "derivatives", POST, "full", "cancelallordersafter", 25),
        Endpoint("batchorder", "derivatives", POST, "full", "batchorder", _batch_cost),
        Endpoint("openorders", "derivatives", GET, "read", "openorders", 2),
        # SPEC: POST with a full-access key (PKS's docstring says read-only; CCXT calls it with GET).
        Endpoint("orders/status", "derivatives", GET_POST, "full", "orders_status", 1),
        Endpoint("openpositions", "derivatives", GET, "read", "openpositions", 2),
        Endpoint("fills", "derivatives", GET, "read", "fills", _fills_cost),
        Endpoint("accounts", "derivatives", GET, "read", "accounts", 2),
        Endpoint("leveragepreferences", "derivatives", GET_PUT, "read", "leveragepreferences", _preference_cost),
        Endpoint("pnlpreferences", "derivatives", GET_PUT, "read", "pnlpreferences", _preference_cost),
        Endpoint("instruments", "derivatives", GET, "public", "instruments"),
        Endpoint("instruments/status", "derivatives", GET, "public", "instruments_status"),
        Endpoint("instruments/{symbol}/status", "derivatives", GET, "public", "instrument_status"),
        Endpoint("tickers", "derivatives", GET, "public", "tickers"),
        Endpoint("tickers/{symbol}", "derivatives", GET, "public", "ticker"),
        Endpoint("orderbook", "derivatives", GET, "public", "orderbook"),
    )
}
HISTORY = {
    e.name: e
    for e in (
        Endpoint("account-log", "history", GET, "read", "account_log", _account_log_cost),
        Endpoint("accountlogcsv", "history", GET, "read", "account_log_csv", 6),
        Endpoint("executions", "history", GET, "read", "history_executions", 1),
        Endpoint("orders", "history", GET, "read", "history_orders", 1),
        Endpoint("triggers", "history", GET, "read", "history_triggers", 1),
        Endpoint("positions", "history", GET, "read", "history_positions", 1),
    )
}
KEY_CHECK = Endpoint("api-keys/v3/check", "auth", GET, "none", "api_key_check")
ENDPOINT_NAMES = frozenset({*DERIVATIVES, *HISTORY, KEY_CHECK.name})

_TICKER = re.compile(r"^tickers/([^/]+)$")
_INSTRUMENT_STATUS = re.compile(r"^instruments/([^/]+)/status$")
_HISTORY = re.compile(r"^/api/history/v[23]/(.+)$")


def route(path: str) -> tuple[Endpoint, dict[str, str]] | None:
    if path.startswith("/derivatives/api/v3/"):
        rest = path.removeprefix("/derivatives/api/v3/").rstrip("/")
        if rest in DERIVATIVES and "{" not in rest:
            return DERIVATIVES[rest], {}
        if (m := _INSTRUMENT_STATUS.match(rest)) and m.group(1) != "status":
            return DERIVATIVES["instruments/{symbol}/status"], {"symbol": m.group(1)}
        if m := _TICKER.match(rest):
            return DERIVATIVES["tickers/{symbol}"], {"symbol": m.group(1)}
        return None
    if m := _HISTORY.match(path):
        endpoint = HISTORY.get(m.group(1).rstrip("/"))
        return (endpoint, {}) if endpoint else None
    if path.rstrip("/") == "/api/auth/v1/api-keys/v3/check":
        return KEY_CHECK, {}
    return None


def normalise_endpoint(name: str) -> str:
    """Accept an endpoint as a name ("sendorder") or as a path ("/derivatives/api/v3/sendorder")."""
    for prefix in ("/derivatives/api/v3/", "/api/history/v3/", "/api/history/v2/", "history/", "/api/auth/v1/"):
        if name.startswith(prefix):
            name = name.removeprefix(prefix)
            break
    if name != "*" and name not in ENDPOINT_NAMES:
        raise ValueError(f"unknown endpoint {name!r}; one of {sorted(ENDPOINT_NAMES)} or '*'")
    return name


@dataclass
class Call:
    request: Request
    now: datetime
    api_key: ApiKey | None

    @property
    def account_id(self) -> str:
        assert self.api_key is not None
        return self.api_key.account_id
