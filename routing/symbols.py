"""One symbol identity: how an instrument or a TradingView ticker is written when two of them are compared.

Upper-case ASCII letters and digits and the few separators tickers use (`_ . - : /`), nothing else. Stored routes
hold their symbol in this form, alerts are matched and deduplicated in it, and positions, stops and drift look
instruments up by it. Non-ASCII is refused, not folded: `str.casefold` turns the long s `ſ` into `s` (and `ß` into
`ss`), which let `XBTUſD` match `XBTUSD`.
"""

from __future__ import annotations

import re

_SYMBOL = re.compile(r"[A-Z0-9_.:/-]{1,64}", re.ASCII)


def normalise_symbol(raw: str) -> str | None:
    """The comparable form of `raw`, or None when it cannot be a symbol (empty, too long, other characters)."""
    if not raw.isascii():
        return None
    upper = raw.upper()
    return upper if _SYMBOL.fullmatch(upper) else None
