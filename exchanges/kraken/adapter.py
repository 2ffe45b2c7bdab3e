"""``KrakenFutures``: the ``Exchange`` protocol over Kraken's Derivatives REST v3.

Every public method raises only ``exchanges.errors`` exceptions. Reads turn anything unreadable into
``Unavailable``; order calls (place, cancel) turn it into ``AmbiguousOutcome`` - a response we cannot read after
sending an order says nothing about whether it landed.

``find_order`` resolves in four steps, each also callable on its own so the order lifecycle can drive them:

1. ``order_status_by_client_id`` - ``orders/status`` (cost 1): authoritative, but only for open orders and
   those that finished in the last ~5 s;
2. ``open_order_by_client_id`` - ``openorders`` (cost 2);
3. ``fills_for_client_id`` - the last 100 ``fills`` (cost 2);
4. ``history_order_by_client_id`` - history ``/orders`` then ``/triggers`` (1 history token each), newest first
   over ``history_lookback``, for terminal orders (cancelled, rejected, filled long ago).

Steps 1-2 answer at once when they find the order. Fills prove the order landed, but not whether the rest was
cancelled, so step 4 still runs; if it fails after fills were found, the fills' answer is returned. ``None``
("no trace") is returned only when every step answered and none found the order; any failure raises instead,
because ``None`` licenses a re-send.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

import requests

from exchanges.base import (
    AccountSummary,
    CancelResult,
    EditAck,
    ExchangeCapabilities,
    Fill,
    InstrumentSpec,
    KeyPermissions,
    LedgerEntry,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    Ticker,
    TriggerSignal,
)
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected, RateLimited, Unavailable
from exchanges.kraken import account as acct
from exchanges.kraken import decoding as d
from exchanges.kraken import orders
from exchanges.kraken.client import KrakenClient
from exchanges.kraken.errors import MalformedResponse
from exchanges.kraken.public import KrakenPublicMarket
from exchanges.kraken.ratelimit import KeyBudget

log = logging.getLogger(__name__)

V3 = "/derivatives/api/v3"
HISTORY = "/api/history/v3"
KEY_CHECK = "/api/auth/v1/api-keys/v3/check"
FILLS_PAGE = 100  # Kraken returns at most 100 fills per page
ACCOUNT_LOG_PAGE = 1000  # the largest count at the 3-token price (reference §7)
HISTORY_PAGE = 500

P = ParamSpec("P")
R = TypeVar("R")
Method = Callable[Concatenate["KrakenFutures", P], R]


def _read_call(fn: Method[P, R]) -> Method[P, R]:
    """Anything but a taxonomy error escaping a read becomes ``Unavailable``: no state, no order."""

    @functools.wraps(fn)
    def wrapper(self: KrakenFutures, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(self, *args, **kwargs)
        except ExchangeError:
            raise
        except MalformedResponse as exc:
            raise Unavailable(f"{fn.__name__}: {exc}", venue_code="malformedResponse") from None
        except Exception as exc:
            log.exception("kraken %s: unexpected error", fn.__name__)
            raise Unavailable(f"{fn.__name__}: unexpected {type(exc).__name__}", venue_code="unexpected") from None

    return wrapper


def _order_call(fn: Method[P, R]) -> Method[P, R]:
    """Anything but a taxonomy error escaping an order call becomes ``AmbiguousOutcome``: look it up."""

    @functools.wraps(fn)
    def wrapper(self: KrakenFutures, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(self, *args, **kwargs)
        except ExchangeError:
            raise
        except MalformedResponse as exc:
            raise AmbiguousOutcome(f"{fn.__name__}: {exc}", venue_code="malformedResponse") from None
        except Exception as exc:
            log.exception("kraken %s: unexpected error", fn.__name__)
            raise AmbiguousOutcome(f"{fn.__name__}: unexpected {type(exc).__name__}", venue_code="unexpected") from None

    return wrapper


class KrakenFutures:
    """One Kraken Futures account. ``base_url`` is e.g. ``https://futures.kraken.com`` or a fake's URL."""

    capabilities = ExchangeCapabilities(
        order_lookup_by_client_id=True,
        trigger_signals=(TriggerSignal.MARK, TriggerSignal.INDEX, TriggerSignal.LAST),
        # Signed reads drawn from one key's nonce source a few microseconds apart may reach Kraken in either order:
        # "Our system tolerates nonces that are out of order for a brief period of time" (reference §2).
        concurrent_reads=True,
    )

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        budget: KeyBudget | None = None,
        session: requests.Session | None = None,
        history_lookback: timedelta = timedelta(days=2),
        max_pages: int = 20,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = KrakenClient(
            base_url,
            api_key,
            api_secret,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            budget=budget,
            session=session,
        )
        # The public reads (the same ones a paper account prices from), over this account's session.
        self.public = KrakenPublicMarket(client=self.client)
        self.market_id = f"kraken-futures-rest {self.client.base_url}"
        self.history_lookback = history_lookback
        self.max_pages = max_pages
        self._now = now or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"KrakenFutures({self.client.base_url!r}, key={self.client.key_hint!r})"

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> KrakenFutures:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- market data ----------------------------------------------------------------------------------

    @_read_call
    def instruments(self) -> list[InstrumentSpec]:
        return self.public.instruments()

    @_read_call
    def ticker(self, symbol: str) -> Ticker:
        return self.public.ticker(symbol)

    # -- account --------------------------------------------------------------------------------------

    @_read_call
    def positions(self) -> list[Position]:
        return acct.parse_positions(self.client.request("GET", f"{V3}/openpositions"))

    @_read_call
    def account(self) -> AccountSummary:
        return acct.parse_account(self.client.request("GET", f"{V3}/accounts"))

    @_read_call
    def key_permissions(self) -> KeyPermissions:
        return acct.parse_key_check(self.client.request("GET", KEY_CHECK))

    # -- orders ---------------------------------------------------------------------------------------

    @_order_call
    def place_order(self, request: OrderRequest) -> OrderAck:
        params = orders.send_order_params(request)  # OrderRejected('localValidation') before anything is sent
        self._refuse_if_late(request.process_before)
        body = self.client.request("POST", f"{V3}/sendorder", params, order_call=True)
        return orders.parse_send_status(body, request)

    @_order_call
    def edit_order(
        self,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
        size: Decimal | None = None,
        stop_price: Decimal | None = None,
        limit_price: Decimal | None = None,
        process_before: datetime | None = None,
    ) -> EditAck:
        params = orders.edit_order_params(
            client_order_id=client_order_id,
            exchange_order_id=exchange_order_id,
            size=size,
            stop_price=stop_price,
            limit_price=limit_price,
            process_before=process_before,
        )
        self._refuse_if_late(process_before)
        body = self.client.request("POST", f"{V3}/editorder", params, order_call=True)
        return orders.parse_edit_status(body, client_order_id if not exchange_order_id else None)

    @_order_call
    def cancel_order(
        self,
        *,
        exchange_order_id: str | None = None,
        client_order_id: str | None = None,
        process_before: datetime | None = None,
    ) -> CancelResult:
        if exchange_order_id:
            params: list[tuple[str, Any]] = [("order_id", exchange_order_id)]  # pitfall 7: orderId on editorder
        elif client_order_id:
            params = [("cliOrdId", client_order_id)]
        else:
            raise OrderRejected("localValidation", "cancel_order needs an exchange or client order id")
        if process_before is not None:
            params.append(("processBefore", orders.deadline(process_before)))
        self._refuse_if_late(process_before)
        body = self.client.request("POST", f"{V3}/cancelorder", params, order_call=True)
        return orders.parse_cancel_status(body)

    def _refuse_if_late(self, process_before: datetime | None) -> None:
        """A deadline already past on our clock: Kraken would refuse it too, so do not send it at all. The same
        word as Kraken's, so callers handle one case: definitively not done."""
        if process_before is not None and self._now() >= process_before:
            raise OrderRejected(
                "wouldProcessAfterSpecifiedTime",
                f"refused before sending: its deadline {process_before.isoformat()} has passed",
            )

    @_read_call
    def open_orders(self) -> list[OrderStatus]:
        rows = d.require_list(self.client.request("GET", f"{V3}/openorders"), "openOrders", "openorders")
        return [orders.parse_open_order(row, f"openOrders[{i}]") for i, row in enumerate(rows)]

    @_read_call
    def find_order(self, client_order_id: str) -> OrderStatus | None:
        found = self.order_status_by_client_id(client_order_id)
        if found is not None:
            return found
        found = self.open_order_by_client_id(client_order_id)
        if found is not None:
            return found
        fills = self.fills_for_client_id(client_order_id)
        try:
            history = self.history_order_by_client_id(client_order_id)
        except (Unavailable, RateLimited):
            if fills:
                log.info("kraken find_order(%s): history unavailable, answering from fills", client_order_id)
                return orders.status_from_fills(client_order_id, fills)
            raise
        if history is not None:
            return _merge_fills(history, fills)
        return orders.status_from_fills(client_order_id, fills) if fills else None

    @_read_call
    def order_status_by_client_id(self, client_order_id: str) -> OrderStatus | None:
        """Step 1: ``orders/status`` - open orders and those finished within the last few seconds."""
        body = self.client.request("POST", f"{V3}/orders/status", [("cliOrdIds", [client_order_id])])
        for index, entry in enumerate(d.require_list(body, "orders", "orders/status")):
            order = entry.get("order") if isinstance(entry, dict) else None
            if isinstance(order, dict) and order.get("cliOrdId") == client_order_id:
                return orders.parse_orders_status_entry(entry, f"orders[{index}]")
        return None

    @_read_call
    def open_order_by_client_id(self, client_order_id: str) -> OrderStatus | None:
        """Step 2: the resting orders."""
        return next((o for o in self.open_orders() if o.client_order_id == client_order_id), None)

    @_read_call
    def fills_for_client_id(self, client_order_id: str) -> list[Fill]:
        """Step 3: fills of this client id among the last 100 fills."""
        rows = d.require_list(self.client.request("GET", f"{V3}/fills"), "fills", "fills")
        parsed = [orders.parse_fill(row, f"fills[{i}]") for i, row in enumerate(rows)]
        return [f for f in parsed if f.client_order_id == client_order_id]

    @_read_call
    def history_order_by_client_id(self, client_order_id: str, *, since: datetime | None = None) -> OrderStatus | None:
        """Step 4: order history, then trigger (stop) history, newest first, since ``since`` (default lookback)."""
        start = since or (self._now() - self.history_lookback)
        for endpoint, triggers in (("orders", False), ("triggers", True)):
            params: list[tuple[str, Any]] = [("since", d.to_millis(start)), ("sort", "desc"), ("count", HISTORY_PAGE)]
            for _page in range(self.max_pages):
                body = self.client.request("GET", f"{HISTORY}/{endpoint}", params)
                elements = d.require_list(body, "elements", f"history {endpoint}")
                found = orders.history_order_status(elements, client_order_id, triggers=triggers)
                if found is not None:
                    return found  # newest first: the first page that has it holds its latest event
                token = body.get("continuationToken")
                if not token or not elements:
                    break
                params = [*params[:3], ("continuation_token", token)]
            else:
                raise Unavailable(
                    f"history {endpoint}: more than {self.max_pages} pages since {start.isoformat()}",
                    venue_code="historyTruncated",
                )
        return None

    # -- fills and fees -------------------------------------------------------------------------------

    @_read_call
    def fills_since(self, since: datetime) -> list[Fill]:
        """Fills at or after ``since``, oldest first.

        Kraken pages fills newest first, 100 at a time; the next page is "before ``lastFillTime``". We ask for
        the page before (oldest time + 1 ms) so that fills sharing the boundary millisecond are not skipped,
        and de-duplicate by fill id. More than ``max_pages`` pages raises rather than returning a gap.
        """
        _require_aware(since)
        collected: dict[str, Fill] = {}
        params: list[tuple[str, Any]] = []
        for _page in range(self.max_pages):
            rows = d.require_list(self.client.request("GET", f"{V3}/fills", params), "fills", "fills")
            page = [orders.parse_fill(row, f"fills[{i}]") for i, row in enumerate(rows)]
            fresh = [f for f in page if f.fill_id not in collected]
            collected.update((f.fill_id, f) for f in page if f.time >= since)
            oldest = min((f.time for f in page), default=None)
            if len(rows) < FILLS_PAGE or not fresh or oldest is None or oldest < since:
                return sorted(collected.values(), key=lambda f: (f.time, f.fill_id))
            boundary = oldest + timedelta(milliseconds=1)
            params = [
                ("lastFillTime", boundary.strftime("%Y-%m-%dT%H:%M:%S.") + f"{boundary.microsecond // 1000:03d}Z")
            ]
        raise Unavailable(
            f"fills: more than {self.max_pages} pages since {since.isoformat()}", venue_code="fillsTruncated"
        )

    @_read_call
    def ledger_since(self, since: datetime) -> list[LedgerEntry]:
        """Account-log rows at or after ``since``, oldest first, paged by id (``from`` is inclusive)."""
        _require_aware(since)
        base: list[tuple[str, Any]] = [("since", d.to_millis(since)), ("sort", "asc"), ("count", ACCOUNT_LOG_PAGE)]
        params = base
        collected: dict[str, LedgerEntry] = {}
        for _page in range(self.max_pages):
            body = self.client.request("GET", f"{HISTORY}/account-log", params)
            rows = d.require_list(body, "logs", "account-log")
            entries = [acct.parse_ledger_entry(row, f"logs[{i}]") for i, row in enumerate(rows)]
            fresh = [e for e in entries if e.entry_id not in collected]
            collected.update((e.entry_id, e) for e in entries if e.time >= since)
            if len(rows) < ACCOUNT_LOG_PAGE or not fresh:
                return sorted(collected.values(), key=lambda e: (e.time, _id_order(e.entry_id)))
            last_id = max(_id_order(e.entry_id) for e in entries)
            params = [*base, ("from", last_id + 1)]
        raise Unavailable(
            f"account-log: more than {self.max_pages} pages since {since.isoformat()}", venue_code="ledgerTruncated"
        )


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        # Which zone a naive time means is a guess; refuse rather than read the wrong window.
        raise Unavailable("a naive datetime was passed; use an aware UTC datetime", venue_code="localValidation")


def _id_order(entry_id: str) -> int:
    try:
        return int(entry_id)
    except ValueError:
        raise MalformedResponse(f"account-log id {entry_id!r} is not an integer") from None


def _merge_fills(history: OrderStatus, fills: list[Fill]) -> OrderStatus:
    """History can lag the fills endpoint: never report less filled than the fills prove."""
    filled = sum((f.size for f in fills), Decimal(0))
    if filled <= history.filled_size:
        return history
    state = history.state
    if state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
        state = OrderState.FILLED if filled >= history.size else OrderState.PARTIALLY_FILLED
    return dataclasses.replace(history, filled_size=filled, state=state)
