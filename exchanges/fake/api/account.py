"""The account: balances and margin (accounts), leverage and P&L-currency preferences."""

from __future__ import annotations

from decimal import Decimal

from exchanges.fake.api.endpoints import Call
from exchanges.fake.api.envelope import ApiError, Reply, structured_error, success
from exchanges.fake.api.params import ParamError, decimal_param
from exchanges.fake.api.venue import Area

ZERO = Decimal(0)


class AccountApi(Area):
    def accounts(self, call: Call) -> Reply:
        m = self.engine.margin(call.account_id)
        flex = {
            "type": "multiCollateralMarginAccount",
            "currencies": {
                "USD": {
                    "quantity": m.collateral,
                    "value": m.collateral,
                    "collateral": m.collateral,
                    "available": m.available_margin,
                }
            },
            "initialMargin": m.initial_margin,
            "initialMarginWithOrders": m.initial_margin_with_orders,
            "maintenanceMargin": m.maintenance_margin,
            "balanceValue": m.collateral,
            "portfolioValue": m.equity,
            "collateralValue": m.collateral,
            "pnl": m.unrealized_pnl,
            "unrealizedFunding": ZERO,
            "totalUnrealized": m.unrealized_pnl,
            "totalUnrealizedAsMargin": m.unrealized_pnl,
            "availableMargin": m.available_margin,
            "marginEquity": m.equity,
        }
        return success(call.now, accounts={"cash": {"type": "cashAccount", "balances": {}}, "flex": flex})

    def leveragepreferences(self, call: Call) -> Reply:
        prefs = self.venue.leverage.setdefault(call.account_id, {})
        if call.request.method != "PUT":
            rows = [{"symbol": s, "maxLeverage": lev} for s, lev in prefs.items()]
            return success(call.now, leveragePreferences=rows)
        symbol = self._flex_symbol(call)
        max_leverage = decimal_param(call.request.one, "maxLeverage")
        if max_leverage is None:
            prefs.pop(symbol, None)  # no maxLeverage = back to cross margin
        else:
            if max_leverage <= 0:
                raise ParamError("invalid", "maxLeverage")
            prefs[symbol] = max_leverage
        return success(call.now)

    def pnlpreferences(self, call: Call) -> Reply:
        prefs = self.venue.pnl_currency.setdefault(call.account_id, {})
        if call.request.method != "PUT":
            return success(call.now, preferences=[{"symbol": s, "pnlCurrency": c} for s, c in prefs.items()])
        symbol = self._flex_symbol(call)
        currency = call.request.one("pnlPreference")
        if currency is None:
            raise ParamError("missing", "pnlPreference")
        if currency.upper() not in ("USD", "EUR", "GBP", "USDC", "USDT", "BTC", "XBT", "ETH"):
            raise ApiError(structured_error(500, "INTERNAL_SERVER_ERROR", 89, "CURRENCY_DOES_NOT_EXIST", call.now))
        prefs[symbol] = currency.upper()
        return success(call.now)

    def _flex_symbol(self, call: Call) -> str:
        raw = call.request.one("symbol")
        if raw is None:
            raise ParamError("missing", "symbol")
        symbol = self.venue.symbol(raw)
        # CCXT #18735 shows this exact answer, HTTP 500, for an unknown contract.
        if symbol is None:
            raise ApiError(structured_error(500, "INTERNAL_SERVER_ERROR", 87, "CONTRACT_DOES_NOT_EXIST", call.now))
        if self.engine.instrument(symbol).kind != "flexible_futures":
            raise ApiError(
                structured_error(500, "INTERNAL_SERVER_ERROR", 88, "CONTRACT_NOT_MULTI_COLLATERAL", call.now)
            )
        return symbol
