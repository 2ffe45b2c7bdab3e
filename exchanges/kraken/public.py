"""Kraken Futures' public market data - instruments and tickers - with no key at all.

Paper accounts price their fills from here. The client is built without an API key or secret, so it cannot sign:
a signed request fails with ``AuthenticationFailed`` before anything is sent, and the only methods are the two
public reads. That is what makes "a paper account can never reach the live exchange's private endpoints" hold by
construction rather than by care.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import requests

from exchanges.base import InstrumentSpec, Ticker
from exchanges.errors import ExchangeError, Unavailable
from exchanges.kraken import decoding as d
from exchanges.kraken import markets
from exchanges.kraken.client import KrakenClient
from exchanges.kraken.errors import MalformedResponse

log = logging.getLogger(__name__)

V3 = "/derivatives/api/v3"

P = ParamSpec("P")
R = TypeVar("R")


def public_read(fn: Callable[P, R]) -> Callable[P, R]:
    """Anything but a taxonomy error escaping a public read becomes ``Unavailable``: no price, no order."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ExchangeError:
            raise
        except MalformedResponse as exc:
            raise Unavailable(f"{fn.__name__}: {exc}", venue_code="malformedResponse") from None
        except Exception as exc:
            log.exception("kraken public %s: unexpected error", fn.__name__)
            raise Unavailable(f"{fn.__name__}: unexpected {type(exc).__name__}", venue_code="unexpected") from None

    return wrapper


class KrakenPublicMarket:
    """``instruments`` and ``tickers`` from ``GET /derivatives/api/v3/{instruments,tickers}`` (free, unsigned)."""

    def __init__(
        self,
        base_url: str = "",
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        session: requests.Session | None = None,
        client: KrakenClient | None = None,
    ) -> None:
        # No key, no secret: this client has nothing to sign with (KrakenClient refuses signed calls without one).
        self.client = client or KrakenClient(
            base_url, "", "", connect_timeout=connect_timeout, read_timeout=read_timeout, session=session
        )

    def __repr__(self) -> str:
        return f"KrakenPublicMarket({self.client.base_url!r})"

    @public_read
    def instruments(self) -> list[InstrumentSpec]:
        """Contract specs; suspension and post-only come from the tickers, which is where Kraken publishes them."""
        body = self.client.request("GET", f"{V3}/instruments", signed=False)
        rows = d.require_list(body, "instruments", "instruments")
        return markets.parse_instruments(rows, self._ticker_rows())

    @public_read
    def tickers(self) -> list[Ticker]:
        """Every ticker, each stamped with the response's ``serverTime``. An unreadable row is left out (logged):
        a caller that needs that symbol's mark finds it missing and must not guess."""
        body = self.client.request("GET", f"{V3}/tickers", signed=False)
        server_time = d.optional_datetime(body, "serverTime", "tickers")
        found = []
        for row in d.require_list(body, "tickers", "tickers"):
            if not isinstance(row, dict) or "markPrice" not in row:
                continue  # index rows (in_/rr_) carry no mark
            try:
                found.append(markets.parse_ticker(row, server_time))
            except MalformedResponse as exc:
                log.warning("kraken: skipping unreadable ticker row: %s", exc)
        return found

    @public_read
    def ticker(self, symbol: str) -> Ticker:
        body = self.client.request("GET", f"{V3}/tickers", signed=False)
        wanted = symbol.upper()
        for row in d.require_list(body, "tickers", "tickers"):
            if isinstance(row, dict) and str(row.get("symbol", "")).upper() == wanted:
                return markets.parse_ticker(row, d.optional_datetime(body, "serverTime", "tickers"))
        raise Unavailable(f"no ticker for {wanted}", venue_code="tickerNotFound")

    def _ticker_rows(self) -> list[object]:
        return d.require_list(self.client.request("GET", f"{V3}/tickers", signed=False), "tickers", "tickers")
