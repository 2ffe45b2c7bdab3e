"""Create, fund and reset a paper account: the operations the web pages call, each recorded in the account log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from paper_testkit import SYMBOL

from accounts.models import CredentialsUnreadable, ExchangeAccount
from exchanges.base import OrderRequest, OrderState, OrderType, Side, TriggerSignal
from exchanges.connect import paper_exchange
from exchanges.errors import Unavailable
from exchanges.paper.models import PaperAccount, PaperOrder
from exchanges.paper.service import (
    PaperRefused,
    create_paper_account,
    fund_paper_account,
    reset_paper_account,
)
from tests.venue_calls import private_calls

pytestmark = pytest.mark.django_db


def buy(exchange, size: str, cid: str) -> None:
    exchange.place_order(
        OrderRequest(symbol=SYMBOL, side=Side.BUY, size=Decimal(size), order_type=OrderType.MARKET, client_order_id=cid)
    )


def rest_stop(exchange, size: str, price: str, cid: str) -> None:
    exchange.place_order(
        OrderRequest(
            symbol=SYMBOL,
            side=Side.SELL,
            size=Decimal(size),
            order_type=OrderType.STOP,
            client_order_id=cid,
            stop_price=Decimal(price),
            trigger_signal=TriggerSignal.MARK,
            reduce_only=True,
        )
    )


def collateral(account: ExchangeAccount) -> Decimal:
    return paper_exchange(account).account().equity


def test_create_makes_a_keyless_paper_account_with_its_funded_book(owner, market_url, venue):
    account = create_paper_account(owner, label="  My paper  ", starting_balance="25000")
    assert (account.mode, account.label, account.connected) == (ExchangeAccount.Mode.PAPER, "My paper", True)
    assert account.owner == owner and account.verified_at is not None
    assert account.key_fingerprint == ""
    with pytest.raises(CredentialsUnreadable, match="no API key stored"):
        account.credentials()
    book = PaperAccount.objects.get(pk=account.pk)
    assert book.starting_balance == Decimal("25000") and book.version == 1
    assert collateral(account) == Decimal("25000")
    (funding,) = paper_exchange(account).ledger_since(datetime.now(UTC) - timedelta(minutes=1))
    assert (funding.kind, funding.balance_change) == ("paper funding", Decimal("25000"))
    assert private_calls(venue.all_calls()) == {}


def test_create_uses_the_configured_default_balance(owner, market_url, settings):
    settings.PAPER_STARTING_BALANCE = "5000"
    assert collateral(create_paper_account(owner)) == Decimal("5000")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "more than 0"),
        ("-5", "more than 0"),
        ("abc", "must be a number"),
        ("NaN", "more than 0"),
        ("Infinity", "more than 0"),
        ("100000000.01", "at most"),
        ("10.001", "whole cents"),
    ],
)
def test_bad_amounts_are_refused_with_a_sentence_and_change_nothing(owner, market_url, value, says):
    with pytest.raises(PaperRefused, match=says):
        create_paper_account(owner, starting_balance=value)
    assert not ExchangeAccount.objects.filter(owner=owner).exists()
    account = create_paper_account(owner)
    with pytest.raises(PaperRefused, match=says):
        fund_paper_account(account, value)
    assert collateral(account) == Decimal("10000")


def test_fund_adds_collateral_and_records_it(paper):
    assert fund_paper_account(paper, "2500.50") == Decimal("12500.50")
    assert collateral(paper) == Decimal("12500.50")
    entries = paper_exchange(paper).ledger_since(datetime.now(UTC) - timedelta(minutes=1))
    assert [(e.kind, e.balance_change) for e in entries][-1] == ("paper funding", Decimal("2500.50"))


def test_fund_works_while_marks_cannot_be_read(paper, venue):
    exchange = paper_exchange(paper)
    buy(exchange, "0.1", "f-1")
    venue.add_fault("tickers", "http_5xx", count=100, status=503)
    assert fund_paper_account(paper, "100") == Decimal("10097")  # 10000 - 3 fee + 100
    venue.clear_faults()


def test_a_live_account_cannot_be_funded_or_reset(owner, market_url):
    live = ExchangeAccount(owner=owner, label="Live", mode=ExchangeAccount.Mode.LIVE)
    live.save()
    with pytest.raises(PaperRefused, match="live exchange account"):
        fund_paper_account(live, "100")
    with pytest.raises(PaperRefused, match="live exchange account"):
        reset_paper_account(live)


def test_reset_cancels_orders_closes_positions_at_the_mark_and_restores_the_balance(paper, venue):
    exchange = paper_exchange(paper)
    buy(exchange, "0.1", "r-1")
    rest_stop(exchange, "0.1", "50000", "r-stop")
    fund_paper_account(paper, "1000")
    venue.set_mark(SYMBOL, Decimal("59000"))

    report = reset_paper_account(paper)

    assert report.cancelled_orders == 1
    (closed,) = report.closed
    assert (closed.symbol, closed.size, closed.price) == (SYMBOL, Decimal("0.1"), Decimal("59000"))
    assert closed.realized_pnl == Decimal("-100") and closed.fee == Decimal("2.95")
    assert report.balance_before == Decimal("10000") - 3 + 1000 - 100 - Decimal("2.95")
    assert report.balance == Decimal("10000")
    assert exchange.positions() == [] and exchange.open_orders() == []
    summary = exchange.account()
    assert summary.equity == Decimal("10000") and summary.available_margin == Decimal("10000")
    assert exchange.find_order("r-stop").state is OrderState.CANCELLED
    # Every step is in the account log: the close (a trade with its fee and P&L) and one reset row.
    entries = exchange.ledger_since(datetime.now(UTC) - timedelta(minutes=1))
    assert entries[-1].kind == "paper reset"
    assert entries[-1].balance_change == Decimal("10000") - report.balance_before
    assert sum(e.balance_change for e in entries) == Decimal("10000")
    assert private_calls(venue.all_calls()) == {}


def test_reset_with_a_new_starting_balance_keeps_it_for_later_resets(paper):
    report = reset_paper_account(paper, starting_balance="50000")
    assert report.balance == Decimal("50000") and collateral(paper) == Decimal("50000")
    fund_paper_account(paper, "1")
    reset_paper_account(paper)
    assert collateral(paper) == Decimal("50000")
    assert PaperAccount.objects.get(pk=paper.pk).starting_balance == Decimal("50000")


def test_a_reset_that_cannot_close_a_position_changes_nothing(paper, venue):
    exchange = paper_exchange(paper)
    buy(exchange, "0.1", "s-1")
    rest_stop(exchange, "0.1", "50000", "s-stop")
    version = PaperAccount.objects.get(pk=paper.pk).version
    venue.suspend(SYMBOL)
    with pytest.raises(PaperRefused, match=r"PF_XBTUSD position could not be closed \(marketSuspended\)"):
        reset_paper_account(paper)
    venue.suspend(SYMBOL, False)
    assert PaperAccount.objects.get(pk=paper.pk).version == version
    assert [p.size for p in exchange.positions()] == [Decimal("0.1")]
    assert [o.client_order_id for o in exchange.open_orders()] == ["s-stop"]  # the cancel was rolled back too


def test_a_reset_needs_the_marks_when_a_position_is_open(paper, venue):
    buy(paper_exchange(paper), "0.1", "u-1")
    venue.add_fault("tickers", "http_5xx", count=100, status=503)
    with pytest.raises(Unavailable):
        reset_paper_account(paper)
    venue.clear_faults()
    assert [p.size for p in paper_exchange(paper).positions()] == [Decimal("0.1")]


def test_ids_stay_unique_across_resets_and_a_recreated_book(paper, owner):
    since = datetime.now(UTC) - timedelta(minutes=1)
    exchange = paper_exchange(paper)
    buy(exchange, "0.01", "i-1")
    reset_paper_account(paper)
    buy(exchange, "0.01", "i-2")

    def seen(account: ExchangeAccount) -> tuple[set[str], set[str], set[int]]:
        book = paper_exchange(account)
        orders = {o.order_id for o in PaperOrder.objects.filter(paper_id=account.pk)}
        fills = {f.fill_id for f in book.fills_since(since)}
        return orders, fills, {int(e.entry_id) for e in book.ledger_since(since)}

    orders, fills, entries = seen(paper)
    assert len(orders) == 3 and len(fills) == 3  # two buys and the reset's close
    first_uid = PaperAccount.objects.get(pk=paper.pk).uid
    # The book is deleted and made again for the same exchange account (created on first use): a new seed, so
    # nothing it numbers can collide with what reconciliation already imported from the old one.
    PaperAccount.objects.filter(pk=paper.pk).delete()
    buy(paper_exchange(paper), "0.01", "i-3")
    assert PaperAccount.objects.get(pk=paper.pk).uid != first_uid
    other = create_paper_account(owner)
    buy(paper_exchange(other), "0.01", "i-4")
    again_orders, again_fills, again_entries = seen(paper)
    other_orders, other_fills, other_entries = seen(other)
    assert not orders & again_orders and not (orders | again_orders) & other_orders
    assert not fills & again_fills and not (fills | again_fills) & other_fills
    assert min(again_entries) > max(entries) and not (entries | again_entries) & other_entries


def test_a_market_price_is_not_needed_to_create_or_fund(owner, venue, market_url):
    venue.add_fault("*", "http_5xx", count=100, status=503)
    account = create_paper_account(owner)
    assert fund_paper_account(account, "1") == Decimal("10001")
    venue.clear_faults()
