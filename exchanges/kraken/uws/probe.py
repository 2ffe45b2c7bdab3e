"""What ``manage.py kraken_uws_probe`` checks against a real Kraken key: each unconfirmed assumption it can settle
without trading. Every order it sends carries ``validate: true`` AND could not fill even if that flag were ignored
(a limit buy far below the market, a reduce-only stop far below it); an answer carrying an order id is reported
loudly and that order is cancelled at once. Read-only otherwise: key info, a token, subscriptions, snapshots.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from websockets.sync.client import ClientConnection, connect

from exchanges.errors import ExchangeError
from exchanges.kraken.uws import assumptions as A
from exchanges.kraken.uws import codec
from exchanges.kraken.uws.credentials import SpotKeyClient


@dataclass(frozen=True)
class Finding:
    assumption: str
    verdict: str  # "holds", "differs", "unknown" (could not tell), "ALERT" (something that must not happen)
    detail: str

    def line(self) -> str:
        return f"[{self.verdict:>7}] {self.assumption}: {self.detail}"


class _Raw:
    """A bare connection: send one request, collect frames until its answer (channel frames kept aside)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.ws: ClientConnection = connect(url, open_timeout=timeout, proxy=None, ping_interval=None, legacy=True)
        self.timeout = timeout
        self.frames: list[dict[str, Any]] = []
        self._ids = iter(range(1, 1_000_000))

    def request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
        req_id = next(self._ids)
        message: dict[str, Any] = {"method": method, "req_id": req_id}
        if params is not None:
            message["params"] = params
        self.ws.send(codec.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            frame = self.read(deadline - time.monotonic())
            if frame is not None and frame.get("req_id") == req_id and "method" in frame:
                return frame
        return None

    def read(self, timeout: float) -> dict[str, Any] | None:
        try:
            frame = codec.loads(self.ws.recv(timeout=max(timeout, 0.01)))
        except TimeoutError:
            return None
        if isinstance(frame, dict):
            self.frames.append(frame)
            return frame
        return None

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.read(deadline - time.monotonic())

    def channel(self, name: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("channel") == name]

    def close(self) -> None:
        self.ws.close()


def _fields(rows: Iterable[Any]) -> set[str]:
    return {key for row in rows if isinstance(row, dict) for key in row}


def run(
    *,
    api_key: str,
    api_secret: str,
    private_url: str = A.PRIVATE_URL,
    public_url: str = A.PUBLIC_URL,
    spot_rest_url: str = A.SPOT_REST_URL,
    symbol: str = "PF_XBTUSD",
    timeout: float = 5.0,
) -> list[Finding]:
    out: list[Finding] = []
    keys = SpotKeyClient(spot_rest_url, api_key, api_secret, timeout=timeout)
    try:
        info = keys.key_info()
    except ExchangeError as exc:
        return [Finding("key_info_path", "differs", f"GetApiKeyInfo failed: {type(exc).__name__} {exc.venue_code}")]
    out.append(Finding("key_info_path", "holds", f"permissions {list(info.permissions)}"))
    if info.can_withdraw:
        out.append(Finding("withdraw_permission_markers", "ALERT", "this key can withdraw: OrderRail refuses it"))
    else:
        out.append(Finding("withdraw_permission_markers", "holds", "no permission string names withdrawal"))
    missing = info.missing_trade_permissions
    out.append(Finding("trade_permissions", "differs" if missing else "holds", f"missing: {list(missing)}"))
    try:
        token = keys.websocket_token()
    except ExchangeError as exc:
        out.append(Finding("token_path", "differs", f"GetWebSocketsToken failed: {exc.venue_code}"))
        return out
    out.append(Finding("token_path", "holds", "a token was issued"))

    private = _Raw(private_url, timeout)
    try:
        base = {"asset_class": codec.ASSET_CLASS, "token": token}
        answers = {
            "executions": private.request(
                "subscribe", {"channel": "executions", **base, "snap_orders": True, "snap_trades": True}
            ),
            "positions": private.request("subscribe", {"channel": "positions", **base, "snapshot": True}),
            "margin": private.request("subscribe", {"channel": "margin", **base}),
        }
        private.drain(2.0)
        for name, answer in answers.items():
            ok = bool(answer and answer.get("success"))
            out.append(Finding(f"subscribe {name}", "holds" if ok else "differs", str(answer)[:200]))
        with_sequence = [f for f in private.frames if f.get("channel") in answers and A.SEQUENCE_FIELD in f]
        channel_frames = [f for f in private.frames if f.get("channel") in answers]
        out.append(
            Finding(
                "sequence_field",
                "holds" if with_sequence else "differs",
                f"{len(with_sequence)} of {len(channel_frames)} private channel messages carry '{A.SEQUENCE_FIELD}'",
            )
        )
        executions = [r for f in private.channel("executions") for r in (f.get("data") or [])]
        trades = [r for r in executions if isinstance(r, dict) and r.get("exec_type") == "trade"]
        expected = set(A.EXECUTION_FIELDS.values())
        seen = _fields(trades or executions)
        out.append(
            Finding(
                "execution_fields",
                "unknown" if not seen else ("holds" if expected <= seen else "differs"),
                f"seen {sorted(seen)}; expected but absent {sorted(expected - seen)}",
            )
        )
        words = {(r.get("exec_type"), r.get("order_status")) for r in executions if isinstance(r, dict)}
        known = set(A.ORDER_STATUS_WORDS)
        odd = {w for w in words if w[1] not in known}
        verdict = "unknown" if not words else ("differs" if odd else "holds")
        out.append(Finding("order_status_words", verdict, f"seen {sorted(map(str, words))}"))
        positions = [f.get("data") for f in private.channel("positions")]
        rows = [r for d in positions if isinstance(d, dict) for r in (d.get(A.POSITION_FIELDS["list"]) or [])]
        out.append(
            Finding(
                "position_fields",
                "holds" if positions else "differs",
                f"snapshot data {str(positions[:1])[:200]}; row fields {sorted(_fields(rows))}",
            )
        )
        margins = [r for f in private.channel("margin") for r in (f.get("data") or []) if isinstance(r, dict)]
        multi = [r for r in margins if r.get("type") == A.MARGIN_FIELDS["type"]]
        wanted = {A.MARGIN_FIELDS[k] for k in ("equity", "available", "initial", "maintenance")}
        fields = _fields(multi)
        out.append(
            Finding(
                "margin_fields",
                "holds" if multi and wanted <= fields else "differs",
                f"{A.MARGIN_FIELDS['type']} row fields {sorted(fields)}; absent {sorted(wanted - fields)}",
            )
        )
        out.extend(_second_connection(private_url, token, timeout))
        out.extend(_orders(private, token, symbol, public_url, timeout))
    finally:
        private.close()
        keys.close()
    out.append(_stale_token(private_url, timeout))
    return out


def _second_connection(url: str, token: str, timeout: float) -> list[Finding]:
    other = _Raw(url, timeout)
    try:
        base = {"asset_class": codec.ASSET_CLASS, "token": token}
        answers = [other.request("subscribe", {"channel": c, **base}) for c in ("positions", "margin")]
    finally:
        other.close()
    ok = all(a and a.get("success") for a in answers)
    return [Finding("private_connections_per_account", "holds" if ok else "differs", str(answers)[:300])]


def _market(public_url: str, symbol: str, timeout: float) -> tuple[list[Finding], Decimal | None, dict[str, Any]]:
    found: list[Finding] = []
    public = _Raw(public_url, timeout)
    try:
        public.request("subscribe", {"channel": "instrument", "asset_class": codec.ASSET_CLASS, "snapshot": True})
        public.request("subscribe", {"channel": "ticker", "asset_class": codec.ASSET_CLASS, "symbol": [symbol]})
        public.drain(1.5)
    finally:
        public.close()
    instrument_rows = []
    for frame in public.channel("instrument"):
        data = frame.get("data")
        rows = data if isinstance(data, list) else (data or {}).get("futures") or (data or {}).get("pairs") or []
        instrument_rows += [r for r in rows if isinstance(r, dict) and str(r.get("symbol", "")).upper() == symbol]
    names = set(A.INSTRUMENT_FIELDS.values())
    fields = _fields(instrument_rows)
    found.append(
        Finding(
            "instrument_fields",
            "holds" if instrument_rows and names <= fields else "differs",
            f"{symbol} row {str(instrument_rows[:1])[:300]}; absent {sorted(names - fields)}",
        )
    )
    statuses = {str(r.get(A.INSTRUMENT_FIELDS["status"])) for r in instrument_rows}
    found.append(
        Finding(
            "instrument_tradeable_status",
            "holds" if statuses <= set(A.INSTRUMENT_TRADEABLE_STATUS) else "differs",
            f"status words {sorted(statuses)}",
        )
    )
    tickers = [r for f in public.channel("ticker") for r in (f.get("data") or []) if isinstance(r, dict)]
    ticker = tickers[-1] if tickers else {}
    wanted = {A.TICKER_FIELDS["mark"], A.TICKER_FIELDS["index"]}
    found.append(
        Finding(
            "ticker_fields",
            "holds" if wanted <= set(ticker) else "differs",
            f"ticker fields {sorted(ticker)}",
        )
    )
    reference = ticker.get(A.TICKER_FIELDS["mark"]) or ticker.get(A.TICKER_FIELDS["last"]) or ticker.get("bid")
    spec = instrument_rows[0] if instrument_rows else {}
    return found, (Decimal(str(reference)) if reference is not None else None), spec


def _orders(private: _Raw, token: str, symbol: str, public_url: str, timeout: float) -> list[Finding]:
    found, reference, spec = _market(public_url, symbol, timeout)
    if reference is None or not spec:
        found.append(Finding("validate_field", "unknown", "no price or instrument row: no order was tried"))
        return found
    tick = Decimal(str(spec.get(A.INSTRUMENT_FIELDS["tick"])))
    qty = Decimal(str(spec.get(A.INSTRUMENT_FIELDS["min"]) or spec.get(A.INSTRUMENT_FIELDS["step"])))
    far_below = (reference / 2 / tick).to_integral_value(rounding=ROUND_FLOOR) * tick  # cannot fill if placed
    deadline = codec.rfc3339(datetime.now(UTC) + timedelta(seconds=A.ORDER_DEADLINE_SECONDS))
    common = {"asset_class": codec.ASSET_CLASS, "symbol": symbol, "token": token, A.VALIDATE_FIELD: True}
    tries = {
        "order_qty_unit": {
            **common,
            "order_type": "limit",
            "side": "buy",
            "order_qty": qty,
            "limit_price": far_below,
            A.CLIENT_ID_FIELD: "or-9999999",
            "deadline": deadline,
        },
        "client_id_max_length": {
            **common,
            "order_type": "limit",
            "side": "buy",
            "order_qty": qty,
            "limit_price": far_below,
            A.CLIENT_ID_FIELD: "or-" + "9" * (A.CLIENT_ID_MAX_LENGTH - 3),
        },
        "reduce_only_field": {
            **common,
            "order_type": "limit",
            "side": "buy",
            "order_qty": qty,
            "limit_price": far_below,
            A.REDUCE_ONLY_FIELD: True,
        },
        # Not reduce-only (with no position a reduce-only stop is refused for that alone): a sell stop at half the
        # price would rest untouched even if validate were ignored (and an order id is cancelled at once).
        "worst_case_stop_signal": {
            **common,
            "order_type": A.ORDER_TYPES["stop"],
            "side": "sell",
            "order_qty": qty,
            "triggers": {
                "reference": A.TRIGGER_REFERENCES[A.WORST_CASE_STOP_SIGNAL],
                "price": far_below,
                "price_type": A.TRIGGER_PRICE_TYPE,
            },
        },
        "trigger_references (mark must be refused)": {
            **common,
            "order_type": A.ORDER_TYPES["stop"],
            "side": "sell",
            "order_qty": qty,
            A.REDUCE_ONLY_FIELD: True,
            "triggers": {"reference": "mark", "price": far_below},
        },
    }
    for name, params in tries.items():
        answer = private.request("add_order", params)
        result = (answer or {}).get("result") or {}
        order_id = result.get("order_id") if isinstance(result, dict) else None
        if order_id:
            private.request("cancel_order", {"order_id": [order_id], "token": token})
            found.append(Finding(name, "ALERT", f"validate:true PLACED order {order_id} (cancelled at once): {answer}"))
            continue
        verdict = "holds" if answer and answer.get("success") else "differs"
        if name == "reduce_only_field" and "reduce" in str((answer or {}).get("error") or "").lower():
            verdict = "holds"  # refused *because* it is reduce-only (no position to reduce): the field was read
        if name.startswith("trigger_references"):
            verdict = "holds" if answer and not answer.get("success") else "differs"
        found.append(Finding(name, verdict, str(answer)[:300]))
    answer = private.request("cancel_order", {A.CLIENT_ID_FIELD: [f"probe-{uuid.uuid4().hex[:8]}"], "token": token})
    text = str((answer or {}).get("error") or "")
    holds = any(n in text.lower() for n in A.CANCEL_NOT_FOUND)
    found.append(Finding("cancel_not_found", "holds" if holds else "differs", str(answer)[:300]))
    return found


def _stale_token(url: str, timeout: float) -> Finding:
    raw = _Raw(url, timeout)
    try:
        answer = raw.request(
            "subscribe", {"channel": "executions", "asset_class": codec.ASSET_CLASS, "token": "probe-not-a-token"}
        )
    finally:
        raw.close()
    text = str((answer or {}).get("error") or "")
    holds = any(t.lower() in text.lower() for t in A.TOKEN_ERRORS)
    return Finding("token_errors", "holds" if holds else "differs", f"a bad token is answered: {text!r}")
