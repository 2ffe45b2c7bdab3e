"""The TradingView alert message for a route: payload v1 with the placeholders TradingView fills in when the
alert fires (see shared/reference/tradingview.md). Pure: the route's settings in, the text to paste out.

- target mode sends the strategy's signed position after the order (`{{strategy.position_size}}`) and its
  direction (`{{strategy.market_position}}`, which must agree with the sign);
- contracts mode sends the order's size (`{{strategy.order.contracts}}`) and the direction after it;
- fixed mode sends only the direction; the size is the route's.
`time` is `{{timenow}}` (when the alert fired, to the second), which makes every firing distinct and lets stale
ones be refused. `symbol` is sent only when the route knows what TradingView calls the instrument (its alias),
and `price` only when the route has a price guard, which needs it.
"""

from __future__ import annotations

import json

from routing.domain import SizingMode

SECRET_PLACEHOLDER = "<your route secret>"


def alert_message(*, sizing_mode: str, secret: str | None, tv_alias: str = "", price_guard: bool = False) -> str:
    fields: dict[str, str] = {
        "secret": secret or SECRET_PLACEHOLDER,
        "action": "{{strategy.order.action}}",
    }
    mode = SizingMode(sizing_mode)
    if mode is SizingMode.TARGET:
        fields["position"] = "{{strategy.position_size}}"
    elif mode is SizingMode.CONTRACTS:
        fields["contracts"] = "{{strategy.order.contracts}}"
    fields["market_position"] = "{{strategy.market_position}}"
    if tv_alias:
        fields["symbol"] = "{{ticker}}"
    if price_guard:
        fields["price"] = "{{close}}"
    fields["time"] = "{{timenow}}"
    fields["id"] = "{{strategy.order.id}}"
    return json.dumps(fields, indent=2)
