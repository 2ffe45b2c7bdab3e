"""A key that stopped working is said once and loudly: the account is marked, support gets one attention item, the
owner one e-mail - naming the open positions OrderRail can no longer manage - and the mark clears by itself once
the key works again (or is replaced)."""

from __future__ import annotations

from datetime import datetime

from accounts.models import ExchangeAccount
from audit.models import Attention
from routing import selectors
from routing.attention import raise_attention, resolve_open
from routing.models import Route


def report_broken(account: ExchangeAccount, problem: str, now: datetime) -> None:
    ExchangeAccount.objects.filter(pk=account.pk).update(credentials_problem=problem[:300])
    account.credentials_problem = problem[:300]
    held = [
        f"{route.name} ({route.symbol}: {selectors.implied_position(route)})"
        for route in Route.objects.filter(exchange_account=account)
        if selectors.implied_position(route)
    ]
    if held:
        exposure = (
            "OPEN POSITIONS that OrderRail can no longer manage: "
            + ", ".join(held)
            + ". Their worst-case stops rest on the exchange, but no alert, exit or stop change can be sent."
        )
    else:
        exposure = "No open positions by our records; alerts for this account are skipped until it is fixed."
    raise_attention(
        kind=Attention.Kind.CREDENTIALS_BROKEN,
        route=None,
        exchange_account=account,
        detail=f"The exchange key of '{account.label}' (…{account.key_fingerprint}) is not working: {problem}. "
        f"{exposure} Replace the key to resume.",
        now=now,
    )


def clear_if_working(account: ExchangeAccount, now: datetime, *, look_for_items: bool = False) -> None:
    """A private read just succeeded: a key problem on record is over.

    Replacing the key clears the account's mark at once (accounts.models.ExchangeAccount.set_credentials), which this
    cheap per-alert check then cannot see; `look_for_items` (reconciliation, once per account and period) also
    closes an item such a replacement left open - an open item would swallow the next breakage's e-mail."""
    if not account.credentials_problem:
        if look_for_items:
            resolve_open(
                kind=Attention.Kind.CREDENTIALS_BROKEN, exchange_account=account, now=now, note="the key was replaced"
            )
        return
    ExchangeAccount.objects.filter(pk=account.pk).update(credentials_problem="")
    account.credentials_problem = ""
    resolve_open(
        kind=Attention.Kind.CREDENTIALS_BROKEN,
        exchange_account=account,
        now=now,
        note="the key works again",
    )
