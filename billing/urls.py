from __future__ import annotations

from django.urls import path

from billing import views

urlpatterns = [
    path("billing/", views.billing_page, name="billing"),
    path("billing/subscribe/", views.start_checkout, name="billing_checkout"),
    path("billing/welcome/", views.checkout_return, name="billing_return"),
    path("billing/manage/", views.open_portal, name="billing_portal"),
]
