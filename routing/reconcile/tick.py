"""Which accounts are due for reconciliation, and claiming them: one short job per account.

An account is due when it was not reconciled within the period, has orders in flight (those need settling at
once), or was not reconciled since the engine started. A claim marker keeps several engines from reconciling one
account at the same time; a claim left by an engine that died is taken as lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

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
        .order_by("reconciled_at", "pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def claim_due(now: datetime, *, limit: int, engine_started: datetime) -> list[int]:
    """Claim up to `limit` due accounts for this process (compare-and-set on the claim marker: of several engines,
    one takes each account). The job clears the marker when it finishes (routing/reconcile/account.py)."""
    claimed: list[int] = []
    for account_id in due_accounts(now, engine_started=engine_started):
        if len(claimed) >= limit:
            break
        if (
            ExchangeAccount.objects.filter(pk=account_id)
            .filter(_not_claimed(now, engine_started=engine_started))
            .update(reconcile_queued_at=now)
        ):
            claimed.append(account_id)
    return claimed


def _not_claimed(now: datetime, *, engine_started: datetime) -> Q:
    """No live claim on the account. A claim older than two periods is lost, and so is any claim made before this
    engine started: it may be a dead engine's, whose job died with it. (Another engine starting beside us may then
    reconcile the same account once more - harmless: reconciliation is idempotent and sends only under the lease.)"""
    lost_before = max(now - 2 * period(), engine_started)
    return Q(reconcile_queued_at__isnull=True) | Q(reconcile_queued_at__lt=lost_before)
