from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from audit.models import Decision
from routing.replay import replay


class Command(BaseCommand):
    help = "Recompute a decision's verdict from its stored snapshot and configuration; say whether it is identical."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("decision_ids", nargs="*", type=int)
        parser.add_argument("--all", action="store_true", help="replay every evaluated decision")

    def handle(self, *args: object, **options: object) -> None:
        ids = options["decision_ids"]
        decisions = Decision.objects.exclude(verdict=None) if options["all"] else Decision.objects.filter(pk__in=ids)
        if not options["all"] and len(list(ids)) != decisions.count():  # type: ignore[arg-type]
            raise CommandError("no such decision")
        differing = 0
        for decision in decisions.order_by("pk").iterator():
            result = replay(decision)
            if result is None:
                self.stdout.write(f"decision {decision.pk}: made at intake ({decision.reason}), nothing to replay")
            elif result.identical:
                self.stdout.write(f"decision {decision.pk}: identical ({decision.reason})")
            else:
                differing += 1
                self.stdout.write(f"decision {decision.pk}: DIFFERENT")
                self.stdout.write("stored:     " + json.dumps(result.stored, sort_keys=True))
                self.stdout.write("recomputed: " + json.dumps(result.recomputed, sort_keys=True))
        if differing:
            raise CommandError(f"{differing} decision(s) did not replay identically")
