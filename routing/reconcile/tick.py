"""The periodic tick: fan reconciliation out to one short task per account that is due.

An account is due when it was not reconciled within the period, or when it has orders in flight (those need
settling at once - a restart is exactly when they do). A task already queued for it recently is not queued again,
so the ticks of several worker clusters (or a slow queue) never pile up duplicates; a marker older than two periods
is taken as lost and the account is queued again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django_q.tasks import async_task

from accounts.models import ExchangeAccount
from audit.order_states import OrderState

ACCOUNT_TASK = "routing.tasks.reconcile_account"


def period() -> timedelta:
    return timedelta(minutes=settings.RECONCILE_EVERY_MINUTES)


def due_accounts(now: datetime, *, starting: bool = False) -> list[int]:
    in_flight = Q(routes__orders__state__in=[OrderState.PENDING_SUBMIT, OrderState.UNKNOWN])
    stale = Q(reconciled_at__isnull=True) | Q(reconciled_at__lt=now - period() + timedelta(seconds=5))
    not_queued = _not_queued(now, starting=starting)
    return list(
        ExchangeAccount.objects.filter(connected=True)
        .filter((stale | in_flight) & not_queued)
        .order_by("reconciled_at", "pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def tick(now: datetime, *, starting: bool = False) -> int:
    """Queue a reconciliation task for every account that is due. Returns how many were queued.

    `starting`: the first tick of a worker cluster. A marker left by a cluster that died may be minutes old and its
    task lost with it, so only a marker of the last few seconds (another cluster starting at the same moment)
    counts then."""
    queued = 0
    for account_id in due_accounts(now, starting=starting):
        # Claim the account for this tick first: of two racing ticks, one queues it.
        if (
            ExchangeAccount.objects.filter(pk=account_id)
            .filter(_not_queued(now, starting=starting))
            .update(reconcile_queued_at=now)
        ):
            async_task(ACCOUNT_TASK, account_id, task_name=f"reconcile-account-{account_id}")
            queued += 1
    return queued


def _not_queued(now: datetime, *, starting: bool) -> Q:
    recent = timedelta(seconds=10) if starting else 2 * period()
    return Q(reconcile_queued_at__isnull=True) | Q(reconcile_queued_at__lt=now - recent)
