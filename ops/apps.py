from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("ops")


class OpsConfig(AppConfig):
    """What running OrderRail in production needs: health, heartbeats, logs, client IPs, headers, key rotation."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_started
        from django_q.signals import pre_execute

        from ops import heartbeat

        # A thread serves request after request: each starts with no alert bound (the webhook binds its alert, and
        # the lines logged after the view - django.request's - still carry it).
        request_started.connect(_unbind_alert, dispatch_uid="ops-unbind-alert")

        # Every task a worker starts proves the worker alive; reconciliation runs every minute, so a healthy worker
        # beats at least that often even with no alerts.
        pre_execute.connect(heartbeat.on_task_start, dispatch_uid="ops-worker-heartbeat")
        if settings.EMAIL_OFF:
            logger.warning(
                "E-MAIL IS OFF (EMAIL_OFF=1): no password resets, address verification or trader alerts are sent"
            )


def _unbind_alert(**kwargs: object) -> None:
    from ops.logs import bind_alert

    bind_alert(None)
