"""Order, position and fill lookups: openorders, orders/status, openpositions, fills."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from exchanges.fake.api.endpoints import Call
from exchanges.fake.api.envelope import Reply, success
from exchanges.fake.api.params import ParamError
from exchanges.fake.api.venue import Area
from exchanges.fake.wire import fill_json, iso, open_order_json, order_status_json
from exchanges.sim.model import SimOrder

ZERO = Decimal(0)


class LookupApi(Area):
    def openorders(self, call: Call) -> Reply:
        orders = sorted(self.engine.open_orders(call.account_id), key=lambda o: (o.received_time, o.seq), reverse=True)
        return success(call.now, openOrders=[open_order_json(o) for o in orders])

    def orders_status(self, call: Call) -> Reply:
        found: list[SimOrder] = []
        for order_id in call.request.many("orderIds"):
            order = self.engine.order(call.account_id, order_id)
            if order is not None:
                found.append(order)
        for client_id in call.request.many("cliOrdIds"):
            order = self.engine.order_by_client_id(call.account_id, client_id)
            if order is not None and order not in found:
                found.append(order)
        window = self.venue.order_status_window
        if window is not None:
            horizon = call.now - timedelta(seconds=window)
            found = [o for o in found if o.state.is_live or o.last_update_time >= horizon]
        return success(call.now, orders=[order_status_json(o) for o in found])

    def openpositions(self, call: Call) -> Reply:
        leverage = self.venue.leverage.get(call.account_id, {})
        rows = []
        for held in sorted(self.engine.positions(call.account_id), key=lambda p: p.last_fill_time, reverse=True):
            row: dict[str, Any] = {
                "side": "long" if held.size > 0 else "short",
                "symbol": held.symbol,
                "price": held.average_price,
                "fillTime": iso(held.last_fill_time),
                "size": abs(held.size),
                "unrealizedFunding": ZERO,
                "pnlCurrency": self.venue.pnl_currency.get(call.account_id, {}).get(held.symbol, "USD"),
            }
            if held.symbol in leverage:
                row["maxFixedLeverage"] = leverage[held.symbol]
            rows.append(row)
        return success(call.now, openPositions=rows)

    def fills(self, call: Call) -> Reply:
        fills = self.engine.fills(call.account_id)
        raw = call.request.one("lastFillTime")
        if raw is not None:
            try:
                cutoff = datetime.fromisoformat(raw)
            except ValueError:
                raise ParamError("invalid", "lastFillTime") from None
            if cutoff.tzinfo is None:
                raise ParamError("invalid", "lastFillTime")
            fills = [f for f in fills if f.time < cutoff]
        newest = list(reversed(fills))[:100]
        return success(call.now, fills=[fill_json(f) for f in newest])
