from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"
    verbose_name = "Support desk"

    def ready(self) -> None:
        # After `migrate` (when every permission exists), the Support group holds exactly its permissions.
        post_migrate.connect(_sync_group, sender=self, dispatch_uid="support-sync-group")


def _sync_group(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from support.group import ensure_support_group

    ensure_support_group()
