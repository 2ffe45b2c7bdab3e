"""Which accounts are due for reconciliation, and claiming them: one short job per account.

An account is due when it was not reconciled within the period, has orders in flight (those need settling at
once), or was not reconciled since the engine started. A claim marker keeps several engines from reconciling one
account at the same time; a claim left by an engine that died is taken as lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Q

from accounts.models import ExchangeAccount
from audit.order_states import OrderState

IN_FLIGHT_RECHECK = timedelta(seconds=5)


def period() -> timedelta:
    return timedelta(minutes=settings.RECONCILE_EVERY_MINUTES)


def due_accounts(now: datetime, *, engine_started: datetime) -> list[int]:
    """Accounts to reconcile now: not reconciled within the period, with orders in flight, or not reconciled since
    this engine started (whatever happened while no engine ran - fills, triggered stops, orders left in flight - is
    brought in at once after a restart); and not claimed by a live engine."""
    # Orders in flight are looked at again every few seconds, not every round: each look is several exchange reads.
    in_flight = Q(routes__orders__state__in=[OrderState.PENDING_SUBMIT, OrderState.UNKNOWN]) & Q(
        reconciled_at__lt=now - IN_FLIGHT_RECHECK
    )
    stale = Q(reconciled_at__isnull=True) | Q(
        reconciled_at__lt=max(now - period() + timedelta(seconds=5), engine_started)
    )
    return list(
        ExchangeAccount.objects.filter(connected=True)
        .filter((stale | in_flight) & _not_claimed(now, engine_started=engine_started))
        # Never reconciled first: PostgreSQL sorts NULL last by default, and with 1,200 accounts the ones reconciled
        # a period ago kept coming round again while the never-reconciled ones waited behind them for good.
        .order_by(F("reconciled_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def claim_due(now: datetime, *, limit: int, engine_started: datetime) -> list[int]:
    """Claim up to `limit` due accounts for this process (compare-and-set on the claim marker: of several engines,
    one takes each account). The job clears the marker when it finishes (routing/reconcile/account.py)."""
    return claim(due_accounts(now, engine_started=engine_started)[:limit], now, engine_started=engine_started)


def claim(account_ids: list[int], now: datetime, *, engine_started: datetime) -> list[int]:
    """Claim these accounts - found due a moment ago - in one statement: those still unclaimed and not reconciled in
    the last few seconds (another engine may have just done one) are ours; returns their ids.

    One UPDATE ... RETURNING for the whole batch instead of one UPDATE per account: an engine reconciling 1,200
    accounts a minute claims twenty a second."""
    if not account_ids:
        return []
    table = ExchangeAccount._meta.db_table
    lost_before = max(now - 2 * period(), engine_started)
    marks = ", ".join(["%s"] * len(account_ids))
    at = connection.ops.adapt_datetimefield_value  # as the ORM writes them (SQLite keeps naive UTC text)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET reconcile_queued_at = %s WHERE id IN ({marks}) "  # noqa: S608 - ids are parameters
            "AND (reconcile_queued_at IS NULL OR reconcile_queued_at < %s) "
            "AND (reconciled_at IS NULL OR reconciled_at < %s) RETURNING id",
            [at(now), *account_ids, at(lost_before), at(now - IN_FLIGHT_RECHECK)],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _not_claimed(now: datetime, *, engine_started: datetime) -> Q:
    """No live claim on the account. A claim older than two periods is lost, and so is any claim made before this
    engine started: it may be a dead engine's, whose job died with it. (Another engine starting beside us may then
    reconcile the same account once more - harmless: reconciliation is idempotent and sends only under the lease.)"""
    lost_before = max(now - 2 * period(), engine_started)
    return Q(reconcile_queued_at__isnull=True) | Q(reconcile_queued_at__lt=lost_before)
