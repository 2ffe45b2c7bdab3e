from __future__ import annotations

from django.apps import AppConfig


class TraderConfig(AppConfig):
    """The trader's pages: home, dashboard, exchange keys, routes, alerts, charts and exports.

    Views are thin: what they show comes from owner-scoped selectors (`trader/selectors.py`), what they change goes
    through the services of the app that owns the rule (`accounts/keys.py`, `routing/route_changes.py`,
    `routing/preview.py`, `routing/flatten.py`)."""

    name = "trader"
    default_auto_field = "django.db.models.BigAutoField"
