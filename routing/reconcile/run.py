from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from accounts.models import ExchangeAccount
from routing.reconcile.account import reconcile_account_id
from routing.reconcile.report import Report
from routing.reconcile.sweep import sweep_alerts


def run(*, clock: Callable[[], datetime] = timezone.now) -> Report:
    """Everything, inline: the sweep, then every connected account - each on its own."""
    report = Report()
    sweep_alerts(report, clock=clock)
    for account_id in ExchangeAccount.objects.filter(connected=True).order_by("pk").values_list("pk", flat=True):
        reconcile_account_id(account_id, report, clock=clock)
    return report
