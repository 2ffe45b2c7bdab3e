"""Where a paper account lives: its live book as one JSON snapshot of the simulation engine, and its history in
append-only rows.

* ``PaperAccount.state`` holds what can still change - collateral, positions, resting orders, id counters, and the
  specs and marks of the symbols in use - as ``exchanges.sim.codec`` encodes it (Decimals as strings). It stays
  small however long the account trades, because everything finished moves out on every save:
* ``PaperOrder`` (finished orders, with the client order id they carried), ``PaperFill`` and ``PaperLedgerRow``
  are written once and never changed: what ``find_order``, ``fills_since`` and ``ledger_since`` read.

``version`` grows by one with every save, which is a compare-and-set on top of the row lock the book takes
(``exchanges.paper.book``): two workers acting on one paper account at once are serialised and neither's update is
lost. Ids are unique forever: order and fill ids come from counters that are never reset under a seed that is new
for every paper account (``uid``), ledger ids are this table's own primary keys, and all three are unique columns.
"""

from __future__ import annotations

import uuid

from django.db import models

MONEY = {"max_digits": 30, "decimal_places": 12}


def new_uid() -> str:
    return uuid.uuid4().hex


class PaperAccount(models.Model):
    account = models.OneToOneField(
        "accounts.ExchangeAccount", on_delete=models.CASCADE, primary_key=True, related_name="paper"
    )
    # Seeds the engine's ids and names the engine's account: new for every paper account, so ids never repeat even
    # if an exchange account's paper book is deleted and made again.
    uid = models.CharField(max_length=32, unique=True, default=new_uid, editable=False)
    state = models.JSONField(editable=False)
    version = models.PositiveBigIntegerField(default=0, editable=False)
    # What a reset returns the collateral to (USD).
    starting_balance = models.DecimalField(**MONEY)
    # Resting orders in the book (stops, limits): the periodic stop task only visits accounts that have some.
    live_orders = models.PositiveIntegerField(default=0, db_index=True, editable=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "paper account"

    def __str__(self) -> str:
        return f"paper book of exchange account {self.account_id} (v{self.version})"


class PaperOrder(models.Model):
    """A finished order (filled, cancelled, rejected, failed trigger), as the engine left it."""

    paper = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="orders")
    order_id = models.CharField(max_length=64, unique=True)
    client_order_id = models.CharField(max_length=100, blank=True)
    seq = models.PositiveBigIntegerField()  # placement order within the account
    # The venue accepted it once (even if it was cancelled or its trigger failed later): its client order id is
    # taken for good, as Kraken's "globally unique" says.
    accepted = models.BooleanField()
    state = models.CharField(max_length=20)
    finished_at = models.DateTimeField()
    data = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["paper", "client_order_id"])]


class PaperFill(models.Model):
    paper = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="fills")
    fill_id = models.CharField(max_length=64, unique=True)
    time = models.DateTimeField()
    data = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["paper", "time"])]


class PaperLedgerRow(models.Model):
    """One account-log row; its primary key is the entry id the protocol reports (ascending, never reused)."""

    paper = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="ledger")
    time = models.DateTimeField()
    data = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["paper", "time"])]
