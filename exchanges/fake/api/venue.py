"""The venue: the simulation engine plus what Kraken keeps outside its matching engine (keys, preferences, the dead
man's switch, the orders/status window)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from exchanges.fake.auth import ApiKey
from exchanges.sim.engine import SimEngine
from exchanges.sim.vocabulary import Reason


class Venue:
    def __init__(self, engine: SimEngine, *, order_status_window: float | None = 5.0) -> None:
        self.engine = engine
        self.keys: dict[str, ApiKey] = {}
        self.key_created: dict[str, datetime] = {}
        self.leverage: dict[str, dict[str, Decimal]] = {}
        self.pnl_currency: dict[str, dict[str, str]] = {}
        self.dead_man: dict[str, datetime] = {}
        # orders/status only covers open orders and those finished in the last 5 s (reference pitfall 11).
        self.order_status_window = order_status_window

    def symbol(self, raw: str) -> str | None:
        # Kraken echoes symbols in either case and accepts lower-case ones (CCXT sends pf_ltcusd).
        wanted = raw.upper()
        return wanted if wanted in self.engine.state.instruments else None

    def housekeeping(self, now: datetime) -> bool:
        """Fire the dead man's switches that are due; True if any fired."""
        fired = False
        for account_id, deadline in list(self.dead_man.items()):
            if now >= deadline:
                del self.dead_man[account_id]
                self.engine.cancel_all(account_id, now=now, reason=Reason.DEAD_MAN_SWITCH)
                fired = True
        return fired


class Area:
    """One area of the API (orders, account, market data...): handlers that take a ``Call`` and answer a ``Reply``."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    @property
    def engine(self) -> SimEngine:
        return self.venue.engine
