from __future__ import annotations

from django.core.management.base import BaseCommand

from routing.reconcile import run


class Command(BaseCommand):
    help = "Reconcile every connected account now: fills, fees, open and unknown orders, drift, worst-case stops."

    def handle(self, *args: object, **options: object) -> None:
        report = run()
        self.stdout.write(
            f"fills +{report.fills}, ledger +{report.ledger}, orders moved {report.orders_moved}, "
            f"alerts re-driven {report.alerts_redriven}"
        )
        for line in [*report.resolutions, *report.drifts, *report.deferred, *report.stops, *report.errors]:
            self.stdout.write(f"  {line}")
