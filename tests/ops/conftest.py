from __future__ import annotations

# The routing fixtures (a trader, an exchange account, routes, the in-process fake Kraken), shared.
from tests.routing.conftest import account, exchange_url, fake, make_route, trader  # noqa: F401
