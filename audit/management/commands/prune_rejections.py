from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.retention import prune_rejections


class Command(BaseCommand):
    help = "Delete rejected alerts past REJECTION_RETENTION_DAYS or beyond REJECTIONS_KEPT_PER_ROUTE per route."

    def handle(self, *args: object, **options: object) -> None:
        pruned = prune_rejections(timezone.now())
        self.stdout.write(f"pruned {pruned.expired} expired and {pruned.over_cap} over the per-route cap")
