from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time something periodic proved itself alive: a worker starting a task, a reconciliation finishing.

    One row per name, overwritten; read by /healthz."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
