"""OrderRail sells from one Stripe account, with its key in the environment.

dj-stripe resolves an "owner account" for every object it syncs and, for the platform account, does it by the API
key: `Account.get_or_retrieve_for_api_key` stores the key itself, in plaintext, in its `djstripe_apikey` table (and
asks Stripe for the account each time it has none). A Stripe secret key must not sit in the database, so objects of
the platform account get no owner account here; only an object that names a connected account (Stripe Connect,
which OrderRail does not use) still resolves one. With no owner account, dj-stripe calls Stripe with the key from
the settings - the same key it would have stored.
"""

from __future__ import annotations

from typing import Any

from djstripe.models.base import StripeModel
from djstripe.utils import get_id_from_stripe_data

_original = StripeModel._find_owner_account.__func__  # type: ignore[attr-defined]


def _names_a_connected_account(data: Any) -> bool:
    if not data:
        return False
    if data.get("object") == "event":
        return bool(get_id_from_stripe_data(data.get("account")))
    return bool(get_id_from_stripe_data(getattr(data, "stripe_account", None)))


def _find_owner_account(cls: type[StripeModel], data: Any, api_key: str | None = None, livemode: Any = None) -> Any:
    if _names_a_connected_account(data):
        return _original(cls, data, api_key=api_key, livemode=livemode)
    return None


def install() -> None:
    StripeModel._find_owner_account = classmethod(_find_owner_account)  # type: ignore[method-assign,assignment]
