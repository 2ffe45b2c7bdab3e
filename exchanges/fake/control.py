"""The fake's own control API under ``/_fake/`` (not a Kraken path), JSON in and out, no authentication.

Used by the management command's users (``make run``, the real-stack tests) to drive a fake in another process.
Decimals travel as strings (numbers are accepted too). Routes:

    GET    /_fake/health                         {"ok": true}
    GET    /_fake/state                          everything (engine state, keys without secrets, faults, calls)
    POST   /_fake/mark          {"symbol", "mark", "index"?, "last"?}       -> {"events": [...]}
    POST   /_fake/walk          {"enabled", "interval"?, "volatility"?, "step"?}
    GET    /_fake/accounts                       -> {"accounts": [{"key", "account_id", "collateral", ...}]}
    POST   /_fake/accounts      {"key", "secret", "collateral"?, "permissions"?, "withdrawal"?}
    POST   /_fake/fund          {"key", "amount"}                          -> {"collateral"}
    GET    /_fake/positions?key=K                -> {"positions": [{"symbol", "size", "average_price"}]}
    POST   /_fake/instrument    {"symbol", "suspended"?, "tradeable"?, "post_only"?, "max_position_size"?}
    POST   /_fake/liquidity     {"symbol", "max_fill_size": "0.5" | null}
    POST   /_fake/ratelimits    {"enabled"?, "derivatives_budget"?, "derivatives_window"?, "history_budget"?, ...}
    GET    /_fake/client_order_ids               -> {"reuse": "forever" | "while_open"}
    POST   /_fake/client_order_ids {"reuse": "forever" | "while_open"}   (may a finished order's id be used again?)
    GET    /_fake/faults                         -> {"faults": [...]}
    POST   /_fake/faults        {"endpoint", "kind", "count"?, "params"?: {...}}  (params may also be inline)
    DELETE /_fake/faults        (or POST /_fake/faults/clear)
    GET    /_fake/calls[?endpoint=E]             -> {"calls": {...}} or {"endpoint": E, "calls": n}
    POST   /_fake/calls/reset
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from exchanges.fake.api import Reply, Request
from exchanges.fake.ratelimit import RateLimitConfig
from exchanges.sim import codec
from exchanges.sim.model import ClientIdReuse

if TYPE_CHECKING:
    from exchanges.fake.server import FakeKraken


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ControlError(f"{name} is not a number") from None
    if not result.is_finite():
        raise ControlError(f"{name} is not finite")
    return result


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body, parse_float=Decimal)
    except ValueError:
        raise ControlError("body is not JSON") from None
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def _need(data: dict[str, Any], name: str) -> Any:
    if name not in data or data[name] is None:
        raise ControlError(f"{name} is required")
    return data[name]


class ControlApi:
    def __init__(self, fake: FakeKraken) -> None:
        self.fake = fake

    def handle(self, request: Request) -> Reply:
        route = request.path.removeprefix("/_fake").strip("/")
        try:
            result = self._dispatch(request.method, route, request)
        except ControlError as error:
            return Reply.json({"error": str(error)}, status=error.status)
        except (KeyError, ValueError, TypeError) as error:
            return Reply.json({"error": f"{type(error).__name__}: {error}"}, status=400)
        return Reply.json(codec.encode(result))

    def _dispatch(self, method: str, route: str, request: Request) -> Any:
        fake = self.fake
        data = _body(request) if method in ("POST", "PUT", "DELETE") else {}
        if route == "health":
            return {"ok": True}
        if route == "state" and method == "GET":
            return fake.state()
        if route == "mark" and method == "POST":
            events = fake.set_price(
                str(_need(data, "symbol")),
                _decimal(_need(data, "mark"), "mark"),
                _decimal(data["index"], "index") if data.get("index") is not None else None,
                _decimal(data["last"], "last") if data.get("last") is not None else None,
            )
            return {"events": events}
        if route == "walk" and method == "POST":
            if data.get("step"):
                fake.walk_step()
            if "enabled" in data:
                fake.set_walk(
                    bool(data["enabled"]),
                    interval=float(data["interval"]) if data.get("interval") is not None else None,
                    volatility=_decimal(data["volatility"], "volatility") if data.get("volatility") else None,
                )
            return {"ok": True}
        if route == "accounts":
            if method == "POST":
                fake.add_account(
                    str(_need(data, "key")),
                    str(_need(data, "secret")),
                    collateral=_decimal(data.get("collateral", "10000"), "collateral"),
                    permissions=str(data.get("permissions", "full")),
                    withdrawal=bool(data.get("withdrawal", False)),
                )
                return {"ok": True, "account_id": fake.account_id(str(data["key"]))}
            with fake.lock:
                return {
                    "accounts": [
                        {
                            "key": k.key,
                            "account_id": k.account_id,
                            "permissions": k.permission.value,
                            "collateral": fake.engine.margin(k.account_id).collateral,
                        }
                        for k in fake.venue.keys.values()
                    ]
                }
        if route == "fund" and method == "POST":
            return {"collateral": fake.fund(str(_need(data, "key")), _decimal(_need(data, "amount"), "amount"))}
        if route == "positions" and method == "GET":
            key = request.one("key")
            if key is None:
                raise ControlError("key is required")
            with fake.lock:
                held = fake.engine.positions(fake.account_id(key))
                return {
                    "positions": [{"symbol": p.symbol, "size": p.size, "average_price": p.average_price} for p in held]
                }
        if route == "instrument" and method == "POST":
            symbol = str(_need(data, "symbol"))
            changes: dict[str, Any] = {}
            for flag in ("suspended", "tradeable", "post_only"):
                if flag in data:
                    changes[flag] = bool(data[flag])
            if "max_position_size" in data:
                raw = data["max_position_size"]
                changes["max_position_size"] = None if raw is None else _decimal(raw, "max_position_size")
            return {"instrument": fake.set_instrument(symbol, **changes)}
        if route == "liquidity" and method == "POST":
            raw = data.get("max_fill_size")
            fake.set_liquidity(str(_need(data, "symbol")), None if raw is None else _decimal(raw, "max_fill_size"))
            return {"ok": True}
        if route == "ratelimits" and method == "POST":
            current = fake.limiter.config
            fields = {
                name: type(getattr(current, name))(data[name]) if name != "enabled" else bool(data[name])
                for name in ("enabled", "derivatives_budget", "derivatives_window", "history_budget", "history_window")
                if name in data
            }
            fake.set_rate_limits(RateLimitConfig(**{**vars(current), **fields}))
            return {"ok": True}
        if route == "client_order_ids":
            if method == "POST":
                reuse = str(_need(data, "reuse"))
                if reuse not in {r.value for r in ClientIdReuse}:
                    raise ControlError(f"reuse must be one of {[r.value for r in ClientIdReuse]}")
                fake.set_client_order_id_reuse(reuse)
            return {"reuse": fake.client_order_id_reuse}
        if route == "faults":
            if method == "GET":
                return {"faults": [f.to_dict() for f in fake.pending_faults()]}
            if method == "DELETE":
                fake.clear_faults()
                return {"ok": True}
            if method == "POST":
                params = dict(data.get("params") or {})
                params.update({k: v for k, v in data.items() if k not in ("endpoint", "kind", "count", "params")})
                fake.add_fault(
                    str(_need(data, "endpoint")), str(_need(data, "kind")), int(data.get("count", 1)), **params
                )
                return {"ok": True}
        if route == "faults/clear" and method == "POST":
            fake.clear_faults()
            return {"ok": True}
        if route == "calls" and method == "GET":
            endpoint = request.one("endpoint")
            if endpoint:
                return {"endpoint": endpoint, "calls": fake.calls(endpoint)}
            return {"calls": fake.all_calls()}
        if route.startswith("calls/") and method == "GET" and route != "calls/reset":
            endpoint = route.removeprefix("calls/")
            return {"endpoint": endpoint, "calls": fake.calls(endpoint)}
        if route == "calls/reset" and method == "POST":
            fake.reset_calls()
            return {"ok": True}
        raise ControlError(f"no control route {method} /_fake/{route}", status=404)
