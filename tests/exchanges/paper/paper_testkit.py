"""Constants shared by the paper tests (imported by name: importing a conftest is fragile, see the kraken tests)."""

from __future__ import annotations

from decimal import Decimal

SYMBOL = "PF_XBTUSD"
MARK = Decimal("60000")
