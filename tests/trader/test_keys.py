"""Connecting a Kraken Futures key: verified against the fake Kraken over real HTTP before anything is stored."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import keys
from accounts.models import ExchangeAccount, User, fingerprint
from tests.routing.conftest import TRADER_KEY, TRADER_SECRET

pytestmark = pytest.mark.django_db

WITHDRAW_KEY, READONLY_KEY = "withdrawing-key-0003", "read-only-key-0004"
KEY_SECRET = "c2Vjb25kLXNlY3JldC1mb3ItdGhlLWZha2Uta3Jha2VuLXNlcnZlci1vbmx5LTEyMzQ1Njc4OTAxMjM0NTY3OA=="


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user(username="carol", email="carol@example.com", password="x" * 12)


@pytest.fixture
def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def kraken(fake: Any, exchange_url: str) -> Any:
    fake.add_account(WITHDRAW_KEY, KEY_SECRET, withdrawal=True)
    fake.add_account(READONLY_KEY, KEY_SECRET, permissions="read_only")
    return fake


def raw_columns() -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key, api_secret FROM accounts_exchangeaccount")
        return cursor.fetchall()


def test_a_good_key_is_verified_then_stored_encrypted_and_shown_by_fingerprint(user, kraken) -> None:
    account = keys.connect_account(
        owner=user, label="Main", api_key=TRADER_KEY, api_secret=TRADER_SECRET, now=timezone.now()
    )
    assert account.credentials() == (TRADER_KEY, TRADER_SECRET)
    assert account.key_fingerprint == fingerprint(TRADER_KEY) and account.connected and account.verified_at
    # Encrypted at rest: the database row holds neither the key nor the secret in the clear.
    for column in raw_columns()[0]:
        text = bytes(column).decode(errors="replace") if not isinstance(column, str) else column
        assert TRADER_KEY not in text and TRADER_SECRET not in text
    # The key proved itself with a private read and a permission check, on the exchange.
    assert kraken.calls("accounts") >= 1 and kraken.calls("api-keys/v3/check") >= 1


@pytest.mark.parametrize(
    ("api_key", "api_secret", "expected"),
    [
        (TRADER_KEY, KEY_SECRET, "Kraken refused this key"),  # wrong secret: authentication fails
        ("no-such-key-0009", KEY_SECRET, "Kraken refused this key"),
        (WITHDRAW_KEY, KEY_SECRET, "can withdraw or transfer funds"),
        (READONLY_KEY, KEY_SECRET, "read-only"),
        ("", TRADER_SECRET, "Paste both"),
        ("has spaces in it", TRADER_SECRET, "does not look like"),
        (TRADER_KEY, "not base64 at all!", "base64"),
        (TRADER_SECRET, TRADER_SECRET, "the same text"),
    ],
)
def test_a_bad_key_gets_its_reason_and_nothing_is_stored(user, kraken, api_key, api_secret, expected) -> None:
    with pytest.raises(keys.KeyRefused) as refused:
        keys.connect_account(owner=user, label="x", api_key=api_key, api_secret=api_secret, now=timezone.now())
    assert expected in str(refused.value)
    assert api_secret not in str(refused.value) and (not api_key or api_key not in str(refused.value))
    assert ExchangeAccount.objects.count() == 0


def test_an_unreachable_exchange_stores_nothing_and_says_try_again(user, kraken, settings) -> None:
    kraken.add_fault("accounts", "http_5xx", count=5)
    with pytest.raises(keys.KeyRefused, match="could not be reached"):
        keys.connect_account(owner=user, label="x", api_key=TRADER_KEY, api_secret=TRADER_SECRET, now=timezone.now())
    assert ExchangeAccount.objects.count() == 0


def test_replacing_keeps_the_old_key_until_the_new_one_is_confirmed(user, kraken) -> None:
    account = keys.connect_account(
        owner=user, label="M", api_key=TRADER_KEY, api_secret=TRADER_SECRET, now=timezone.now()
    )
    version = account.credentials_version
    with pytest.raises(keys.KeyRefused):
        keys.replace_key(account=account, api_key=WITHDRAW_KEY, api_secret=KEY_SECRET, now=timezone.now())
    account.refresh_from_db()
    assert account.credentials() == (TRADER_KEY, TRADER_SECRET) and account.credentials_version == version
    kraken.add_account("replacement-key-0005", KEY_SECRET)
    keys.replace_key(account=account, api_key="replacement-key-0005", api_secret=KEY_SECRET, now=timezone.now())
    account.refresh_from_db()
    assert account.credentials() == ("replacement-key-0005", KEY_SECRET)
    assert account.credentials_version == version + 1


def test_the_connect_page_never_renders_the_key_back_and_stores_nothing_on_refusal(signed_in, kraken) -> None:
    response = signed_in.post(
        reverse("exchange_connect"), {"label": "Main", "api_key": WITHDRAW_KEY, "api_secret": KEY_SECRET}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "can withdraw or transfer funds" in html
    assert WITHDRAW_KEY not in html and KEY_SECRET not in html
    assert ExchangeAccount.objects.count() == 0


def test_the_connect_page_connects_and_then_shows_only_the_fingerprint(signed_in, kraken) -> None:
    response = signed_in.post(
        reverse("exchange_connect"), {"label": "Main", "api_key": TRADER_KEY, "api_secret": TRADER_SECRET}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Connected" in html
    assert fingerprint(TRADER_KEY) in html
    assert TRADER_KEY not in html and TRADER_SECRET not in html


def test_removing_is_refused_while_a_route_uses_the_account(signed_in, user, kraken) -> None:
    from routing.models import Route

    account = keys.connect_account(
        owner=user, label="M", api_key=TRADER_KEY, api_secret=TRADER_SECRET, now=timezone.now()
    )
    route = Route(owner=user, name="R", exchange_account=account, symbol="PF_XBTUSD", sizing_mode="target")
    route.set_secret("s" * 20)
    route.save()
    response = signed_in.post(reverse("exchange_remove", args=[account.pk]), follow=True)
    assert "Routes still use this account (R)" in response.content.decode()
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()
    route.exchange_account = None
    route.save()
    signed_in.post(reverse("exchange_remove", args=[account.pk]))
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()


def test_removing_an_account_with_history_erases_only_the_key(user, kraken) -> None:
    from audit.models import LedgerEntry

    account = keys.connect_account(
        owner=user, label="M", api_key=TRADER_KEY, api_secret=TRADER_SECRET, now=timezone.now()
    )
    LedgerEntry.objects.create(
        exchange_account=account, entry_id="1", at=timezone.now(), kind="futures trade", fee=Decimal("0.3")
    )
    assert keys.remove_account(account) == "key erased"
    account.refresh_from_db()
    assert not account.connected
    with pytest.raises(Exception, match="no API key stored"):
        account.credentials()


def test_manage_py_connect_exchange_verifies_and_stores_encrypted(user, kraken, monkeypatch) -> None:
    monkeypatch.setenv("ORDERRAIL_API_KEY", TRADER_KEY)
    monkeypatch.setenv("ORDERRAIL_API_SECRET", TRADER_SECRET)
    out = io.StringIO()
    call_command("connect_exchange", "--owner", user.email, "--label", "CLI", stdout=out)
    account = ExchangeAccount.objects.get(owner=user)
    assert account.credentials() == (TRADER_KEY, TRADER_SECRET)
    assert fingerprint(TRADER_KEY) in out.getvalue() and TRADER_SECRET not in out.getvalue()


def test_manage_py_connect_exchange_refuses_a_withdrawing_key(user, kraken, monkeypatch) -> None:
    monkeypatch.setenv("ORDERRAIL_API_KEY", WITHDRAW_KEY)
    monkeypatch.setenv("ORDERRAIL_API_SECRET", KEY_SECRET)
    with pytest.raises(CommandError, match="can withdraw"):
        call_command("connect_exchange", "--owner", user.email)
    assert ExchangeAccount.objects.count() == 0
    with pytest.raises(CommandError, match="no user"):
        call_command("connect_exchange", "--owner", "nobody@example.com")


def test_manage_py_create_route_refuses_an_unknown_account_or_symbol(user, kraken) -> None:
    account = keys.connect_account(
        owner=user, label="M", api_key=TRADER_KEY, api_secret=TRADER_SECRET, now=timezone.now()
    )
    base = ["create_route", "--owner", user.email, "--name", "R"]
    with pytest.raises(CommandError, match="has no exchange account 999"):
        call_command(*base, "--account", "999", "--symbol", "PF_XBTUSD")
    with pytest.raises(CommandError, match="PF_NOPEUSD is not listed"):
        call_command(*base, "--account", str(account.pk), "--symbol", "PF_NOPEUSD")
    out = io.StringIO()
    call_command(*base, "--account", str(account.pk), "--symbol", "pf_xbtusd", stdout=out)
    from routing.models import Route

    assert Route.objects.get(name="R").symbol == "PF_XBTUSD" and "shown once" in out.getvalue()


# -- the second credential kind: the Unified WebSocket's Kraken key ----------------------------------------------

WS_KEY, WS_SECRET = "ws-trading-key-0005", "d3Mtc2VjcmV0LWZvci10aGUtZmFrZS11bmlmaWVkLXdlYnNvY2tldC0xMjM0NTY3OA=="
WS_WITHDRAW_KEY = "ws-withdrawing-key-0006"


@pytest.fixture
def unified(fake: Any, exchange_url: str, settings: Any) -> Any:
    from exchanges.fake.uws import FakeUnifiedWebSocket

    uws = FakeUnifiedWebSocket(fake).start()
    uws.add_spot_key(WS_KEY, WS_SECRET, futures_key=TRADER_KEY)
    uws.add_spot_key(
        WS_WITHDRAW_KEY,
        WS_SECRET,
        futures_key=TRADER_KEY,
        permissions=("query-funds", "modify-trades", "websocket-token", "withdraw-funds"),
    )
    settings.KRAKEN_SPOT_URL = fake.url
    settings.KRAKEN_UWS_PRIVATE_URL = uws.private_url
    settings.KRAKEN_UWS_PUBLIC_URL = uws.public_url
    yield uws
    uws.stop()


def test_a_unified_websocket_key_is_verified_with_kraken_then_stored_beside_the_futures_key(
    signed_in, user, unified
) -> None:
    account = keys.connect_account(
        owner=user, label="Main", api_key=TRADER_KEY, api_secret=TRADER_SECRET, now=timezone.now()
    )
    page = signed_in.get(reverse("exchange_detail", args=[account.pk]))
    assert page.status_code == 200 and "ws_api_key" in page.content.decode()
    refused = signed_in.post(
        reverse("exchange_ws_key", args=[account.pk]), {"ws_api_key": WS_WITHDRAW_KEY, "ws_api_secret": WS_SECRET}
    )
    assert refused.status_code == 400 and "can withdraw or transfer funds" in refused.content.decode()
    account.refresh_from_db()
    assert not account.ws_key_fingerprint  # nothing stored
    stored = signed_in.post(
        reverse("exchange_ws_key", args=[account.pk]), {"ws_api_key": WS_KEY, "ws_api_secret": WS_SECRET}
    )
    assert stored.status_code == 302
    account.refresh_from_db()
    assert account.ws_credentials() == (WS_KEY, WS_SECRET)
    assert account.ws_key_fingerprint == fingerprint(WS_KEY) and account.ws_verified_at
    shown = signed_in.get(reverse("exchange_detail", args=[account.pk])).content.decode()
    assert account.ws_key_fingerprint in shown and WS_KEY not in shown and WS_SECRET not in shown
