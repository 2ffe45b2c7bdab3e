"""Two (here: four) workers acting on one paper account at the same moment lose nothing: every order, fill, fee
and deposit of every worker is in the book afterwards. Each worker is a thread with its own database connection,
as separate worker processes would have; run on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F
from paper_testkit import MARK, SYMBOL

from exchanges.base import OrderRequest, OrderType, Side
from exchanges.connect import paper_exchange
from exchanges.paper import book as paper_book
from exchanges.paper.models import PaperAccount, PaperFill, PaperOrder
from exchanges.paper.service import create_paper_account, fund_paper_account

WORKERS = 4
ROUNDS = 12
SIZE = Decimal("0.001")


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_and_deposits_on_one_paper_account_lose_no_update(owner, market_url, venue):
    account = create_paper_account(owner, starting_balance="100000")
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            exchange = paper_exchange(account)  # its own adapter and, in this thread, its own connection
            start.wait()
            for r in range(ROUNDS):
                ack = exchange.place_order(
                    OrderRequest(
                        symbol=SYMBOL,
                        side=Side.BUY,
                        size=SIZE,
                        order_type=OrderType.MARKET,
                        client_order_id=f"w{n}-r{r}",
                    )
                )
                assert ack.filled_size == SIZE
                fund_paper_account(account, "1")
        except BaseException as exc:  # reported below, with the worker's traceback
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    operations = WORKERS * ROUNDS
    book = PaperAccount.objects.get(pk=account.pk)
    # One save per operation, each on top of the one before: none was overwritten.
    assert book.version == 1 + 2 * operations
    exchange = paper_exchange(account)
    (held,) = exchange.positions()
    assert held.size == SIZE * operations
    assert PaperOrder.objects.filter(paper=book).count() == operations
    assert PaperFill.objects.filter(paper=book).count() == operations
    for n in range(WORKERS):
        for r in range(ROUNDS):
            assert exchange.find_order(f"w{n}-r{r}").filled_size == SIZE
    fee_each = SIZE * MARK * Decimal("0.0005")
    entries = exchange.ledger_since(datetime.now(UTC) - timedelta(minutes=5))
    assert sum(e.fee for e in entries) == fee_each * operations
    assert exchange.account().equity == Decimal(100000) + operations - fee_each * operations
    ids = [int(e.entry_id) for e in entries]
    assert len(set(ids)) == len(ids) == 1 + 2 * operations + operations  # funding, 2 rows per trade, deposits


@pytest.mark.django_db(transaction=True)
def test_a_save_on_a_stale_version_is_refused(paper, venue):
    stale = PaperAccount.objects.get(pk=paper.pk)
    engine = paper_book.load_engine(stale)
    engine.fund(stale.uid, Decimal(5), now=datetime.now(UTC))
    fund_paper_account(paper, "1")  # another worker saved in between
    with pytest.raises(paper_book._Conflict), transaction.atomic():
        paper_book.save(stale, engine, datetime.now(UTC))
    assert paper_exchange(paper).account().equity == Decimal("10001")  # the stale +5 never landed


@pytest.mark.django_db(transaction=True)
def test_an_operation_whose_save_conflicts_is_redone_from_the_start_and_applied_once(paper, venue):
    calls: list[int] = []

    def act(s: paper_book.Session) -> None:
        calls.append(s.row.version)
        if len(calls) == 1:
            # A writer the lock did not keep out (it cannot happen on PostgreSQL or SQLite; the version check is
            # the second line of defence): our save must not land on top of it.
            PaperAccount.objects.filter(pk=s.row.pk).update(version=F("version") + 1)
        s.engine.fund(s.uid, Decimal(7), now=s.now)

    book = paper_exchange(paper).book
    book.write(act)
    assert len(calls) == 2
    assert paper_exchange(paper).account().equity == Decimal("10007")
