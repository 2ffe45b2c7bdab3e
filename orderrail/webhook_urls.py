"""The webhook pool's URLs (settings.WEBHOOK_POOL): the webhook alone. /healthz is answered by its middleware."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("routing.urls"))]
