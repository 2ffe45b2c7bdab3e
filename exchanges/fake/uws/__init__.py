"""A fake Kraken Unified WebSocket on the simulation engine of a running ``FakeKraken``.

``FakeUnifiedWebSocket(fake)`` serves ``/v2/private`` and ``/v2/public`` on a port of its own and the Spot REST
calls ``GetWebSocketsToken``/``GetApiKeyInfo`` on the fake's HTTP port; both transports share one engine and one
lock, so an order placed over REST shows up on the executions stream and the other way round.

Message shapes are written from the examples in ``shared/reference/kraken-uws.md`` and, where Kraken is silent,
from Spot WebSocket v2; ``render.py`` says which is which. This package deliberately does not import the client's
``exchanges/kraken/uws/assumptions.py``: where the two must agree on a guess, each states it on its own.
"""

from exchanges.fake.uws.server import FakeUnifiedWebSocket

__all__ = ["FakeUnifiedWebSocket"]
