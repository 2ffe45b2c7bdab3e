from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

# The admin signs in through allauth: the same login page, rate limits and two-factor step as traders, never
# Django's own password-only form. Staff without is_staff get a 403 after signing in.
admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", include("routing.urls")),
    path("", include("trader.urls")),
    path("", include("billing.urls")),
    path("stripe/", include("billing.stripe_urls", namespace="djstripe")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
]
