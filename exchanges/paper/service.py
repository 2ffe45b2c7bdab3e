"""What a person can do to a paper account (the web pages call these): create one, fund it, reset it.

Each is one honest operation on the account's book, recorded in its account log like any money movement:

* ``create_paper_account(owner, ...)`` - a paper ``ExchangeAccount`` (no API key) and its book, funded with the
  starting balance (account-log kind "paper funding").
* ``fund_paper_account(account, amount)`` - add USD collateral ("paper funding").
* ``reset_paper_account(account, ...)`` - flat, no orders, starting balance: every resting order is cancelled,
  every position is closed by a reduce-only market order at the current mark (a trade like any other, with its fee
  and realised P&L in the account log), then the collateral is set to the starting balance by one "paper reset"
  row. All of it or none of it: if a position cannot be closed (its market is suspended, marks cannot be read), the
  reset is refused with the reason and nothing changes.

Bad input raises ``PaperRefused`` (a ``ValueError``-like exception whose message is a sentence for the trader);
marks that cannot be read raise ``exchanges.errors.Unavailable``.

What a reset means for routes on the account: the positions it closes were closed outside the strategy, exactly as
a manual trade on Kraken would be, so reconciliation reports drift and freezes a route that held a position until
someone re-bases it. To start over cleanly, "flatten and pause" the account's routes first (their exits are then
the route's own orders) and reset afterwards; the reset then only restores the balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from exchanges.base import Side
from exchanges.connect import paper_market
from exchanges.paper.book import FUNDING, RESET, PaperBook, PaperRefused, Session, open_book
from exchanges.sim.model import SimOrderRequest
from exchanges.sim.vocabulary import OrderKind, Reason

# Paper money still has to fit the books: amounts are whole cents, at most this many USD.
MAX_BALANCE = Decimal("100000000")
CENT = Decimal("0.01")

__all__ = [
    "MAX_BALANCE",
    "PaperRefused",
    "ResetReport",
    "create_paper_account",
    "default_starting_balance",
    "fund_paper_account",
    "reset_paper_account",
]


@dataclass(frozen=True)
class ClosedPosition:
    symbol: str
    size: Decimal  # the signed size that was closed
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True)
class ResetReport:
    cancelled_orders: int
    closed: tuple[ClosedPosition, ...]
    balance_before: Decimal  # collateral after the closes, before the reset row
    balance: Decimal  # the starting balance it was set to


def default_starting_balance() -> Decimal:
    return Decimal(str(settings.PAPER_STARTING_BALANCE))


def amount(value: object, *, what: str = "The amount") -> Decimal:
    """A positive USD amount in whole cents, at most MAX_BALANCE; anything else is refused with a sentence."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PaperRefused(f"{what} must be a number of US dollars, e.g. 10000.") from None
    if not number.is_finite() or number <= 0:
        raise PaperRefused(f"{what} must be more than 0 USD.")
    if number > MAX_BALANCE:
        raise PaperRefused(f"{what} can be at most {MAX_BALANCE:,} USD.")
    if number != number.quantize(CENT):
        raise PaperRefused(f"{what} must be in whole cents (at most two decimal places).")
    return number.quantize(CENT)


def create_paper_account(
    owner: User,
    *,
    label: str = "Paper trading",
    starting_balance: Decimal | str | None = None,
    now: datetime | None = None,
) -> ExchangeAccount:
    """A new paper exchange account for ``owner``, funded with ``starting_balance`` (default PAPER_STARTING_BALANCE).
    No key is needed or stored; routes on it need no subscription."""
    now = now or timezone.now()
    balance = amount(
        default_starting_balance() if starting_balance is None else starting_balance, what="The starting balance"
    )
    label = (label or "").strip()[:80] or "Paper trading"
    with transaction.atomic():
        account = ExchangeAccount.objects.create(
            owner=owner,
            label=label,
            mode=ExchangeAccount.Mode.PAPER,
            connected=True,
            verified_at=now,
        )
        open_book(account.pk, balance, now=now)
    return account


def fund_paper_account(account: ExchangeAccount, value: Decimal | str, *, now: datetime | None = None) -> Decimal:
    """Add ``value`` USD of collateral; returns the new collateral balance."""
    added = amount(value)

    def act(s: Session) -> Decimal:
        return s.engine.fund(s.uid, added, now=s.now, info=FUNDING)

    # Funding needs no price: it goes ahead even while marks cannot be read (strict=False).
    return _book(account, now).write(act, strict=False)


def reset_paper_account(
    account: ExchangeAccount, *, starting_balance: Decimal | str | None = None, now: datetime | None = None
) -> ResetReport:
    """Cancel every order, close every position at the mark, and set the collateral to the starting balance (a new
    ``starting_balance`` replaces the old one for this and later resets)."""
    new_balance = None if starting_balance is None else amount(starting_balance, what="The starting balance")

    def act(s: Session) -> ResetReport:
        target = new_balance if new_balance is not None else s.row.starting_balance
        cancelled = s.engine.cancel_all(s.uid, now=s.now, reason=Reason.CANCELLED_BY_ADMIN)
        closed = []
        for held in list(s.engine.positions(s.uid)):
            request = SimOrderRequest(
                symbol=held.symbol,
                side=Side.SELL if held.size > 0 else Side.BUY,
                size=abs(held.size),
                kind=OrderKind.MARKET,
                reduce_only=True,
            )
            result = s.engine.submit(s.uid, request, now=s.now)
            if not result.accepted or s.engine.position(s.uid, held.symbol) != 0:
                # Raising rolls the whole reset back: cancels included.
                raise PaperRefused(
                    f"The paper account was not reset: its {held.symbol} position could not be closed "
                    f"({result.status}). Nothing was changed; try again when the market trades."
                )
            for fill in result.fills:
                closed.append(
                    ClosedPosition(
                        symbol=held.symbol,
                        size=held.size,
                        price=fill.price,
                        fee=fill.fee,
                        realized_pnl=fill.realized_pnl,
                    )
                )
        before = s.engine.margin(s.uid).collateral
        if target != before:
            s.engine.fund(s.uid, target - before, now=s.now, info=RESET)
        if new_balance is not None:
            s.row.starting_balance = new_balance
            type(s.row).objects.filter(pk=s.row.pk).update(starting_balance=new_balance)
        return ResetReport(cancelled_orders=len(cancelled), closed=tuple(closed), balance_before=before, balance=target)

    return _book(account, now).write(act)


def _book(account: ExchangeAccount, now: datetime | None) -> PaperBook:
    if account.mode != ExchangeAccount.Mode.PAPER:
        raise PaperRefused("This is a live exchange account; only paper accounts can be funded or reset here.")
    return PaperBook(
        account.pk,
        paper_market(),
        clock=(lambda: now) if now is not None else timezone.now,
        default_balance=default_starting_balance(),
    )
