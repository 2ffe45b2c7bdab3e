"""Every trader page renders for its owner, with no inline script, style or handler (a strict CSP refuses them),
CSRF on every form, and no secret anywhere in the markup."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.routing.conftest import TRADER_KEY, TRADER_SECRET
from tests.trader.conftest import ROUTE_SECRET_A, ROUTE_SECRET_B, Trader

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+=", re.I)
SECRETS = (TRADER_KEY, TRADER_SECRET, ROUTE_SECRET_A, ROUTE_SECRET_B)


def owner_pages(t: Trader) -> list[str]:
    return [
        reverse("dashboard"),
        reverse("account_settings"),
        reverse("exchange_list"),
        reverse("exchange_connect"),
        reverse("exchange_detail", args=[t.account.pk]),
        reverse("route_list"),
        reverse("route_create"),
        reverse("route_detail", args=[t.route.pk]),
        reverse("route_edit", args=[t.route.pk]),
        reverse("route_test", args=[t.route.pk]),
        reverse("route_flatten", args=[t.route.pk]),
        reverse("alert_list"),
        reverse("alert_list") + f"?outcome=sent&route={t.route.pk}",
        reverse("alert_detail", args=[t.alert.pk]),
        reverse("performance"),
        reverse("performance") + "?days=365",
        reverse("mfa_index"),
        reverse("account_reauthenticate"),
        reverse("account_email"),
        reverse("account_change_password"),
    ]


def assert_clean(html: str, where: str) -> None:
    assert not INLINE_SCRIPT.search(html), f"inline <script> on {where}"
    assert not INLINE_STYLE.search(html), f"inline style on {where}"
    assert not INLINE_HANDLER.search(html), f"inline event handler on {where}"
    for secret in SECRETS:
        assert secret not in html, f"a secret is rendered on {where}"
    for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S | re.I):
        assert "csrfmiddlewaretoken" in form, f"a POST form without CSRF token on {where}"


def test_every_owner_page_renders_cleanly(traders: tuple[Trader, Trader]) -> None:
    a, _ = traders
    for url in owner_pages(a):
        response = a.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_clean(response.content.decode(), url)


def test_public_pages_render_cleanly(client: Client) -> None:
    for url in (
        "/",
        reverse("account_login"),
        reverse("account_signup"),
        reverse("account_reset_password"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_clean(response.content.decode(), url)


def test_home_says_what_it_is_and_costs(client: Client) -> None:
    html = client.get("/").content.decode()
    assert "$30" in html and "per month" in html
    assert "does not do" in html and "Generate signals" in html
    assert reverse("account_login") in html and reverse("account_signup") in html
    # No social provider is configured by default, so no "continue with" heading leads nowhere.
    assert "Or continue with" not in html


def test_signed_in_home_goes_to_the_dashboard(traders: tuple[Trader, Trader]) -> None:
    a, _ = traders
    response = a.client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_pages_need_a_signed_in_user(client: Client, traders: tuple[Trader, Trader]) -> None:
    a, _ = traders
    for url in owner_pages(a):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url


def test_post_without_csrf_token_is_refused(traders: tuple[Trader, Trader]) -> None:
    a, _ = traders
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(a.user)
    for url in (
        reverse("route_disable", args=[a.route.pk]),
        reverse("route_rotate", args=[a.route.pk]),
        reverse("route_flatten", args=[a.route.pk]),
        reverse("exchange_remove", args=[a.account.pk]),
    ):
        assert strict.post(url).status_code == 403, url
    a.route.refresh_from_db()
    assert a.route.enabled


def test_dashboard_shows_position_last_alert_and_outcome(traders: tuple[Trader, Trader]) -> None:
    a, _ = traders
    html = a.client.get(reverse("dashboard")).content.decode()
    assert "Alice XBT" in html and "+0.01" in html
    assert "Order sent" in html
    assert "Bob XBT" not in html


def test_admin_login_goes_through_allauth(client: Client) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]


def test_a_trader_without_staff_rights_gets_403_from_the_admin(traders: tuple[Trader, Trader]) -> None:
    a, _ = traders
    assert a.client.get("/admin/login/").status_code == 403


def test_the_admin_never_creates_a_route_without_a_secret(db: None) -> None:
    from accounts.models import User

    staff = User.objects.create_superuser(username="root", email="root@example.com", password="x" * 12)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/routing/route/add/").status_code == 403
    assert client.get("/admin/routing/route/").status_code == 200


def test_staff_need_two_factor_authentication_for_the_admin(db: None, settings) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    from accounts.models import User

    settings.ADMIN_REQUIRE_MFA = True
    staff = User.objects.create_user(username="sue", email="sue@example.com", password="x" * 12, is_staff=True)
    client = Client()
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    TOTP.activate(staff, "JBSWY3DPEHPK3PXP")
    assert client.get("/admin/").status_code == 200
    # Traders' own pages are not affected.
    assert client.get(reverse("dashboard")).status_code == 200
