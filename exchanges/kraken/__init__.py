"""Kraken Futures (Derivatives REST v3) behind the venue-neutral ``Exchange`` protocol.

``signing`` (Authent, nonces) -> ``ratelimit`` (per-key budgets) -> ``client`` (the signed HTTP transport and the
envelope rules) -> ``errors`` (the one status/error table) ; ``decoding``, ``markets``, ``account``, ``orders`` (JSON
to value types) ; ``adapter`` (``KrakenFutures``). ``demo`` runs it all against the in-process fake.

Kraken decommissions this REST API on 1 March 2027; a Unified WebSocket transport would stand beside this package.
"""

from __future__ import annotations

from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.errors import ClientOrderIdAlreadyExists

__all__ = ["ClientOrderIdAlreadyExists", "KrakenFutures"]
