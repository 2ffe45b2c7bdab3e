from __future__ import annotations

from django.urls import path

from routing import views

urlpatterns = [path("hooks/<str:token>", views.webhook, name="webhook")]
