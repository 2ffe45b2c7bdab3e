from __future__ import annotations

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "routing"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from routing import schedules

        # When a worker starts, reconcile at once (a restart is exactly when in-flight orders need settling) and
        # make sure the periodic schedule exists.
        post_spawn.connect(schedules.on_worker_start, dispatch_uid="orderrail-reconcile-on-start")
