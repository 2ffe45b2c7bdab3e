"""A runnable demonstration of the adapter against an in-process fake Kraken, over real HTTP.

    ORDERRAIL_TESTING=1 .venv/bin/python -m exchanges.kraken.demo

It places a market buy and a reduce-only stop (trigger: mark price), reads back position, orders and fills, then
shows the two fault paths that matter most: an order whose answer is lost (AmbiguousOutcome, then find_order shows
it landed) and a rejection (OrderRejected with Kraken's word). Nothing here touches the real exchange.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TextIO

from exchanges.base import OrderRequest, OrderType, Side, TriggerSignal
from exchanges.errors import AmbiguousOutcome, OrderRejected
from exchanges.kraken.adapter import KrakenFutures
from exchanges.kraken.ratelimit import KeyBudget

SYMBOL = "PF_XBTUSD"


def run(out: TextIO = sys.stdout) -> None:
    # Imported here: the fake is a test/dev tool, and production code paths must not pull it in.
    from exchanges.fake.credentials import FAKE_KEY, FAKE_SECRET
    from exchanges.fake.server import FakeKraken

    def say(label: str, value: object = "") -> None:
        print(f"{label:<28} {value}", file=out)

    with FakeKraken(port=0) as fake:
        fake.add_account(FAKE_KEY, FAKE_SECRET, collateral=Decimal("10000"))
        fake.set_mark(SYMBOL, Decimal("60000"))
        started = datetime.now(UTC) - timedelta(seconds=1)
        kraken = KrakenFutures(
            fake.url, FAKE_KEY, FAKE_SECRET, connect_timeout=1.0, read_timeout=0.5, budget=KeyBudget()
        )
        with kraken:
            say("fake kraken at", fake.url)
            spec = next(i for i in kraken.instruments() if i.symbol == SYMBOL)
            say("instrument", f"{spec.symbol} tick {spec.tick_size} step {spec.size_step} tradeable {spec.can_trade}")
            say("mark price", kraken.ticker(SYMBOL).mark_price)
            say("key permissions", kraken.key_permissions())

            buy = kraken.place_order(OrderRequest(SYMBOL, Side.BUY, Decimal("0.01"), OrderType.MARKET, "demo-buy-1"))
            say("market buy ack", f"{buy.status} id={buy.exchange_order_id} filled={buy.filled_size}")
            for fill in buy.fills:
                say("  immediate fill", f"{fill.size} @ {fill.price} ({fill.liquidity})")

            stop = kraken.place_order(
                OrderRequest(
                    SYMBOL,
                    Side.SELL,
                    Decimal("0.01"),
                    OrderType.STOP,
                    "demo-stop-1",
                    stop_price=Decimal("54000"),
                    trigger_signal=TriggerSignal.MARK,
                    reduce_only=True,
                )
            )
            say("reduce-only stop ack", f"{stop.status} id={stop.exchange_order_id}")

            for position in kraken.positions():
                say("position", f"{position.symbol} {position.size:+} @ {position.average_price}")
            for order in kraken.open_orders():
                say(
                    "open order",
                    f"{order.client_order_id} {order.order_type} {order.side} {order.size} stop={order.stop_price} "
                    f"signal={order.trigger_signal} reduce_only={order.reduce_only} state={order.state}",
                )
            found = kraken.find_order("demo-stop-1")
            say("find_order(demo-stop-1)", f"{found.state if found else None} ({found.venue_status if found else ''})")
            for fill in kraken.fills_since(started):
                say("fill", f"{fill.fill_id[:8]} {fill.side} {fill.size} @ {fill.price} cid={fill.client_order_id}")
            for entry in kraken.ledger_since(started):
                say(
                    "ledger",
                    f"#{entry.entry_id} {entry.kind} {entry.asset} fee={entry.fee} change={entry.balance_change}",
                )
            say("account", kraken.account())

            # The answer to an order is lost after Kraken applied it: ambiguous, never a failure; look it up.
            fake.add_fault("sendorder", "accept_then_drop", seconds=1.5)
            try:
                kraken.place_order(OrderRequest(SYMBOL, Side.BUY, Decimal("0.001"), OrderType.MARKET, "demo-lost-1"))
            except AmbiguousOutcome as exc:
                say("lost answer", f"AmbiguousOutcome: {exc}")
            found = kraken.find_order("demo-lost-1")
            say(
                "find_order(demo-lost-1)",
                f"{found.state if found else 'no trace'} filled={found and found.filled_size}",
            )

            fake.add_fault("sendorder", "reject", status="wouldNotReducePosition")
            try:
                kraken.place_order(
                    OrderRequest(SYMBOL, Side.SELL, Decimal("1"), OrderType.MARKET, "demo-reject-1", reduce_only=True)
                )
            except OrderRejected as exc:
                say("rejection", f"OrderRejected(status={exc.status!r})")

            fake.set_mark(SYMBOL, Decimal("53000"))  # the stop triggers on the mark and closes the position
            say("after mark 53000", [f"{p.symbol} {p.size:+}" for p in kraken.positions()] or "flat")
            found = kraken.find_order("demo-stop-1")
            say("find_order(demo-stop-1)", f"{found.state if found else None} filled={found and found.filled_size}")
            say("fake server errors", fake.errors or "none")


if __name__ == "__main__":
    run()
