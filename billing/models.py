from __future__ import annotations

from django.conf import settings
from django.db import models


class LiveAccess(models.Model):
    """Whether a user may trade live, and until when. Written by the billing flow (dj-stripe subscription events);
    read at send time by the pipeline. Paper trading never needs it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_access")
    active_until = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=40, default="stripe")

    def __str__(self) -> str:
        return f"live access for {self.user_id} until {self.active_until}"
