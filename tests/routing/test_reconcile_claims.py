"""Claiming accounts for reconciliation (routing/reconcile/tick.py): one statement per batch, each account taken by
one engine, never-reconciled accounts first, nothing reconciled a moment ago taken again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from routing.engine import Engine
from routing.reconcile import tick

pytestmark = pytest.mark.django_db


def _accounts(trader: User, count: int) -> list[ExchangeAccount]:
    made = []
    for n in range(count):
        acc = ExchangeAccount(owner=trader, label=f"Acc {n}", mode=ExchangeAccount.Mode.PAPER)
        acc.save()
        made.append(acc)
    return made


def test_of_two_engines_claiming_the_same_due_accounts_each_account_goes_to_one(trader):
    ids = [a.pk for a in _accounts(trader, 4)]
    now = timezone.now()
    started = now - timedelta(minutes=1)
    first = tick.claim(ids[:3], now, engine_started=started)
    second = tick.claim(ids, now, engine_started=started)
    assert first == ids[:3]
    assert second == [ids[3]]
    claimed = ExchangeAccount.objects.filter(pk__in=ids, reconcile_queued_at__isnull=False).count()
    assert claimed == 4


def test_a_lost_claim_is_taken_again_and_an_account_reconciled_a_moment_ago_is_not(trader):
    lost, fresh, idle = _accounts(trader, 3)
    now = timezone.now()
    started = now - timedelta(minutes=1)
    # Claimed before this engine started: a dead engine's claim, lost with it.
    ExchangeAccount.objects.filter(pk=lost.pk).update(reconcile_queued_at=started - timedelta(seconds=1))
    # Reconciled two seconds ago by another engine (found due from a list read a moment before that).
    ExchangeAccount.objects.filter(pk=fresh.pk).update(reconciled_at=now - timedelta(seconds=2))
    assert tick.claim([lost.pk, fresh.pk, idle.pk], now, engine_started=started) == [lost.pk, idle.pk]
    stored = ExchangeAccount.objects.get(pk=lost.pk).reconcile_queued_at
    assert stored is not None and abs(stored - now) < timedelta(milliseconds=1)


def test_never_reconciled_accounts_come_first(trader, settings):
    settings.RECONCILE_EVERY_MINUTES = 1
    old, never, older = _accounts(trader, 3)
    now = timezone.now()
    ExchangeAccount.objects.filter(pk=old.pk).update(reconciled_at=now - timedelta(minutes=2))
    ExchangeAccount.objects.filter(pk=older.pk).update(reconciled_at=now - timedelta(minutes=3))
    assert tick.due_accounts(now, engine_started=now - timedelta(hours=1)) == [never.pk, older.pk, old.pk]


def test_claim_due_takes_at_most_the_limit(trader):
    ids = [a.pk for a in _accounts(trader, 5)]
    now = timezone.now()
    assert tick.claim_due(now, limit=2, engine_started=now) == ids[:2]
    assert tick.claim_due(now, limit=10, engine_started=now) == ids[2:]
    assert tick.claim_due(now, limit=10, engine_started=now) == []


def test_draining_the_engine_starts_no_background_work_found_due_before(trader):
    """`drain` (tests, `manage.py engine --once`) runs alerts only: accounts found due by an earlier round stay
    unclaimed."""
    ids = [a.pk for a in _accounts(trader, 2)]
    engine = Engine(threads=2, reserve=0, inline=True)
    engine._due = list(ids)  # what an earlier round found due
    engine.drain()
    assert not ExchangeAccount.objects.filter(pk__in=ids, reconcile_queued_at__isnull=False).exists()
    assert engine.stats.accounts_started == 0
