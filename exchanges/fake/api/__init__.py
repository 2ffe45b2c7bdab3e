"""Kraken Futures' REST endpoints over the simulation engine: parameters in, Kraken-shaped replies out.

Transport-free (the HTTP server in ``server.py`` parses bytes, authenticates and applies faults); every handler
takes a parsed ``Request`` plus the calling account and answers a ``Reply``. One module per area of the API:

* ``envelope`` - requests, replies and Kraken's reply envelopes; ``params`` - parameter parsing;
* ``endpoints`` - the path table (handler, access, rate-limit cost); ``venue`` - what Kraken keeps beside the
  matching engine;
* ``orders`` (send, edit, cancel, batch), ``lookups`` (open orders, orders/status, positions, fills),
  ``account`` (balances, preferences), ``market`` (instruments, tickers, order book), ``history``, ``keys``.
"""

from __future__ import annotations

from collections.abc import Callable

from exchanges.fake import history as records
from exchanges.fake.api.account import AccountApi
from exchanges.fake.api.endpoints import (
    DERIVATIVES,
    HISTORY,
    KEY_CHECK,
    Call,
    Endpoint,
    normalise_endpoint,
    route,
)
from exchanges.fake.api.envelope import UNAUTHORIZED, ApiError, Reply, Request, bad_request, classic_error
from exchanges.fake.api.history import HistoryApi
from exchanges.fake.api.keys import KeyCheckApi
from exchanges.fake.api.lookups import LookupApi
from exchanges.fake.api.market import DayStats, MarketApi
from exchanges.fake.api.orders import OrderApi
from exchanges.fake.api.params import ParamError, param_reply
from exchanges.fake.api.venue import Venue
from exchanges.sim.engine import SimEngine

Handler = Callable[[Call], Reply]


class KrakenApi:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.orders = OrderApi(venue)
        areas = (
            self.orders,
            LookupApi(venue),
            AccountApi(venue),
            MarketApi(venue),
            HistoryApi(venue),
            KeyCheckApi(venue),
        )
        self._handlers: dict[str, Handler] = {}
        for endpoint in (*DERIVATIVES.values(), *HISTORY.values(), KEY_CHECK):
            found = [getattr(area, endpoint.handler) for area in areas if hasattr(area, endpoint.handler)]
            if len(found) != 1:
                raise RuntimeError(f"endpoint {endpoint.name!r}: {len(found)} handlers named {endpoint.handler!r}")
            self._handlers[endpoint.handler] = found[0]

    @property
    def engine(self) -> SimEngine:
        return self.venue.engine

    def handle(self, endpoint: Endpoint, call: Call) -> Reply:
        try:
            return self._handlers[endpoint.handler](call)
        except ParamError as error:
            return param_reply(error, call.now)
        except records.BadParam as error:
            return bad_request(error.name, call.now)
        except ApiError as error:
            return error.reply

    def forced_rejection(self, endpoint: str, call: Call, status: str) -> Reply:
        """A rejection from the `reject` fault: the venue's answer shape, nothing applied."""
        return self.orders.forced_rejection(endpoint, call, status)


__all__ = [
    "UNAUTHORIZED",
    "Call",
    "DayStats",
    "Endpoint",
    "KrakenApi",
    "Reply",
    "Request",
    "Venue",
    "classic_error",
    "normalise_endpoint",
    "route",
]
