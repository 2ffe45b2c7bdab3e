"""Accounts through allauth: e-mail verification before use, login throttling in the shared cache, password reset by
e-mail, TOTP seeds encrypted at rest."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a long and unguessable passphrase 42"


@pytest.fixture(autouse=True)
def fresh_throttles() -> None:
    cache.clear()


def test_sign_up_needs_the_emailed_link_before_the_dashboard(client: Client) -> None:
    response = client.post(
        reverse("account_signup"), {"email": "eve@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302 and "confirm-email" in response["Location"]
    assert client.get(reverse("dashboard")).status_code == 302  # not signed in yet
    (message,) = mail.outbox
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", message.body).group(1)
    assert client.get(link).status_code == 200  # a page with a button: a link scanner cannot verify by GET
    response = client.post(link)
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


def test_failed_logins_are_throttled(client: Client) -> None:
    User.objects.create_user(username="frank", email="frank@example.com", password=PASSWORD)
    answers = [
        client.post(reverse("account_login"), {"login": "frank@example.com", "password": "wrong"}).content.decode()
        for _ in range(6)
    ]
    assert "Too many failed login attempts" not in answers[0]
    assert "Too many failed login attempts" in answers[-1]
    # The right password is refused too while the address is throttled: guessing on gets nowhere.
    after = client.post(reverse("account_login"), {"login": "frank@example.com", "password": PASSWORD})
    assert after.status_code == 200 and "Too many failed login attempts" in after.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_password_reset_sends_a_link(client: Client) -> None:
    User.objects.create_user(username="gina", email="gina@example.com", password=PASSWORD)
    response = client.post(reverse("account_reset_password"), {"email": "gina@example.com"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert "/accounts/password/reset/key/" in message.body


def test_totp_seed_is_encrypted_at_rest() -> None:
    from allauth.mfa.adapter import get_adapter

    adapter = get_adapter()
    sealed = adapter.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert adapter.decrypt(sealed) == "JBSWY3DPEHPK3PXP"
