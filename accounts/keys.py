"""Connecting an exchange key: the one place a key is checked against the exchange before it is stored.

Used by the trader's "connect an exchange" page and by `manage.py connect_exchange`. A key is stored (encrypted
under FERNET_KEYS) only after the exchange has confirmed, with the key itself, that

1. it authenticates and can read the account (a private read),
2. it may trade (general permission "full"), and
3. it may not withdraw or transfer funds, where the exchange says so.

Anything else raises `KeyRefused` with a sentence for the trader, and nothing is stored. The key and secret never
appear in a message, a log line or an exception: messages speak of "this key" and its fingerprint only.

Credential kinds: a Kraken Futures API key (the REST transport), and the Unified WebSocket transport's Kraken
(Spot-style) API key - verified the same way through that transport's own key-info call (`verify_ws_key`).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import ProtectedError

from accounts.models import ExchangeAccount, User, fingerprint
from exchanges.base import Exchange, KeyPermissions
from exchanges.errors import AuthenticationFailed, ExchangeError, PermissionDenied, RateLimited, Unavailable

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
MAX_SECRET_LENGTH = 400


class KeyRefused(Exception):
    """The key was not stored. `str(exc)` is the sentence the trader sees (never the key or secret)."""


@dataclass(frozen=True)
class VerifiedKey:
    fingerprint: str
    permissions: KeyPermissions


def verify_futures_key(
    api_key: str, api_secret: str, *, venue: str = ExchangeAccount.Venue.KRAKEN_FUTURES
) -> VerifiedKey:
    """Ask the exchange, with this key, whether it works, may trade and may not withdraw. Raises KeyRefused."""
    from exchanges.connect import exchange_for_key

    api_key, api_secret = _well_formed(api_key, api_secret)
    exchange = exchange_for_key(venue, api_key, api_secret)
    try:
        return _interrogate(exchange, fingerprint(api_key))
    finally:
        close = getattr(exchange, "close", None)
        if callable(close):
            close()


def _well_formed(api_key: str, api_secret: str) -> tuple[str, str]:
    api_key, api_secret = (api_key or "").strip(), (api_secret or "").strip()
    if not api_key or not api_secret:
        raise KeyRefused("Paste both the API key and its private key (the secret).")
    if len(api_key) > MAX_KEY_LENGTH or any(c.isspace() for c in api_key) or not api_key.isascii():
        raise KeyRefused(
            "That does not look like a Kraken Futures API key: it should be one line of letters and digits."
        )
    if len(api_secret) > MAX_SECRET_LENGTH or not api_secret.isascii():
        raise KeyRefused("That does not look like a Kraken Futures private key.")
    try:
        base64.b64decode(api_secret, validate=True)
    except (binascii.Error, ValueError):
        raise KeyRefused(
            "The private key is not in the form Kraken gives it (base64). Copy it again from Kraken's "
            "API settings, all of it."
        ) from None
    if api_key == api_secret:
        raise KeyRefused("The API key and the private key are the same text; paste each in its own box.")
    return api_key, api_secret


def _interrogate(exchange: Exchange, shown: str) -> VerifiedKey:
    try:
        exchange.account()  # 1. a private read: the key authenticates and can see the account
    except AuthenticationFailed:
        raise KeyRefused(
            "Kraken refused this key: the API key or private key is wrong, or the key was deleted. Nothing was stored."
        ) from None
    except PermissionDenied:
        raise KeyRefused("This key cannot read the account. Give it at least read access and trading.") from None
    except (Unavailable, RateLimited) as exc:
        logger.info("key %s: exchange unavailable while verifying (%s)", shown, type(exc).__name__)
        raise KeyRefused(
            "Kraken could not be reached to check this key. Nothing was stored; try again in a minute."
        ) from None
    except ExchangeError as exc:
        raise KeyRefused(f"Kraken did not accept this key ({type(exc).__name__}). Nothing was stored.") from None
    try:
        permissions = exchange.key_permissions()  # 2 and 3: what the key may do, as the exchange reports it
    except AuthenticationFailed:
        raise KeyRefused("Kraken refused this key when asked for its permissions. Nothing was stored.") from None
    except PermissionDenied:
        raise KeyRefused(
            "Kraken would not tell this key's permissions, so OrderRail cannot confirm it may trade and may not "
            "withdraw. Nothing was stored."
        ) from None
    except ExchangeError:
        raise KeyRefused(
            "Kraken could not be reached to check this key. Nothing was stored; try again in a minute."
        ) from None
    if permissions.withdrawal:
        raise KeyRefused(
            "This key can withdraw or transfer funds. OrderRail only holds keys that cannot move money: create a "
            "key with trading access and withdrawals switched off. Nothing was stored."
        )
    if not permissions.can_trade:
        raise KeyRefused(
            "This key is read-only. OrderRail needs a key with full (trading) access to place orders. "
            "Nothing was stored."
        )
    return VerifiedKey(fingerprint=shown, permissions=permissions)


def connect_account(
    *,
    owner: User,
    label: str,
    api_key: str,
    api_secret: str,
    now: datetime,
    verify: Callable[[str, str], VerifiedKey] = verify_futures_key,
) -> ExchangeAccount:
    """Verify the key with the exchange, then store a new live account with it (encrypted)."""
    verify(api_key, api_secret)
    account = ExchangeAccount(owner=owner, label=label.strip() or "Kraken Futures", mode=ExchangeAccount.Mode.LIVE)
    account.set_credentials(api_key.strip(), api_secret.strip())
    account.connected = True
    account.verified_at = now
    account.save()
    return account


def replace_key(
    *,
    account: ExchangeAccount,
    api_key: str,
    api_secret: str,
    now: datetime,
    verify: Callable[[str, str], VerifiedKey] = verify_futures_key,
) -> ExchangeAccount:
    """Verify a new key and put it in place of the old one. The old key stays until the new one is confirmed."""
    if account.mode != ExchangeAccount.Mode.LIVE:
        raise KeyRefused("A paper account has no exchange key.")
    verify(api_key, api_secret)
    with transaction.atomic():
        locked = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        locked.set_credentials(api_key.strip(), api_secret.strip())
        locked.connected = True
        locked.verified_at = now
        locked.save(
            update_fields=[
                "api_key",
                "api_secret",
                "key_fingerprint",
                "credentials_version",
                "credentials_problem",
                "connected",
                "verified_at",
            ]
        )
    return locked


# -- the second credential kind: the Unified WebSocket's Kraken API key ------------------------------------------


def verify_ws_key(api_key: str, api_secret: str) -> VerifiedKey:
    """The Unified WebSocket's Kraken key: may trade, may not withdraw, as Kraken reports it (GetApiKeyInfo, one
    signed REST call; no socket is opened). Raises KeyRefused."""
    from exchanges.connect import unified_websocket_for_key

    api_key, api_secret = (api_key or "").strip(), (api_secret or "").strip()
    if not api_key or not api_secret:
        raise KeyRefused("Paste both the API key and its private key.")
    exchange = unified_websocket_for_key(api_key, api_secret)
    try:
        permissions = exchange.key_permissions()
    except AuthenticationFailed:
        raise KeyRefused("Kraken refused this WebSocket key. Nothing was stored.") from None
    except ExchangeError:
        raise KeyRefused("Kraken could not check this WebSocket key. Nothing was stored; try again.") from None
    finally:
        close = getattr(exchange, "close", None)
        if callable(close):
            close()
    if permissions.withdrawal:
        raise KeyRefused(
            "This key can withdraw or transfer funds. OrderRail only holds keys that cannot move money: create a "
            "key with WebSocket, query and trading access and withdrawals switched off. Nothing was stored."
        )
    if not permissions.can_trade:
        raise KeyRefused("This key cannot trade. Give it WebSocket, query and order access. Nothing was stored.")
    return VerifiedKey(fingerprint=fingerprint(api_key), permissions=permissions)


def connect_ws_key(
    *,
    account: ExchangeAccount,
    api_key: str,
    api_secret: str,
    now: datetime,
    verify: Callable[[str, str], VerifiedKey] = verify_ws_key,
) -> ExchangeAccount:
    """Verify the Unified WebSocket key, then store it (encrypted) beside the account's Futures key."""
    if account.mode != ExchangeAccount.Mode.LIVE:
        raise KeyRefused("A paper account has no exchange key.")
    verify(api_key, api_secret)
    api_key, api_secret = api_key.strip(), api_secret.strip()
    with transaction.atomic():
        locked = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        locked.set_ws_credentials(api_key, api_secret)
        locked.ws_verified_at = now
        locked.save(
            update_fields=[
                "ws_api_key",
                "ws_api_secret",
                "ws_key_fingerprint",
                "ws_verified_at",
                "credentials_version",
                "credentials_problem",
            ]
        )
    return locked


# -- removing an account -----------------------------------------------------------------------------------------


class AccountInUse(Exception):
    """Routes still point at the account; `routes` names them."""

    def __init__(self, routes: list[str]) -> None:
        super().__init__(", ".join(routes))
        self.routes = routes


def remove_account(account: ExchangeAccount) -> str:
    """Delete the account, or - when orders, fills or fees were recorded under it - erase its key and keep the
    row as the record those refer to. Refused while any route uses it. Returns what was done, for the trader."""
    routes = list(account.routes.order_by("name").values_list("name", flat=True))
    if routes:
        raise AccountInUse(routes)
    has_history = account.fills.exists() or account.ledger_entries.exists() or account.attention.exists()
    if not has_history:
        try:
            with transaction.atomic():
                account.delete()
            return "deleted"
        except ProtectedError:
            pass  # something else keeps a record under it (a paper ledger, say): keep the row, erase the key
    with transaction.atomic():
        locked = ExchangeAccount.objects.select_for_update().get(pk=account.pk)
        locked.api_key = ""
        locked.api_secret = ""
        locked.ws_api_key = ""
        locked.ws_api_secret = ""
        locked.connected = False
        locked.credentials_version += 1
        locked.save()
    return "key erased"
