"""The periodic paper task (a django-q2 schedule, see ``routing.schedules``): resting paper stops trigger when the
mark crosses them.

On Kraken a resting stop fires by itself; a paper book only moves when something touches it. Every operation on a
paper account applies the current marks first, and this task touches every paper account that has resting orders
once a period, so a stop fires within a period of the mark crossing it even when nothing else happens on the
account. It fills at the mark the task read - later than the crossing, as a stop's fill on a fast market is. The
fill and the stop's new state are in the book at once; reconciliation brings them into our records.
"""

from __future__ import annotations

import logging

from accounts.models import ExchangeAccount
from exchanges.errors import ExchangeError
from exchanges.paper.models import PaperAccount

log = logging.getLogger(__name__)


def trigger_stops() -> str:
    """Apply fresh marks to each paper account with resting orders; one account's failure never stops the rest."""
    from exchanges.connect import paper_exchange

    touched = moved = failed = 0
    accounts = ExchangeAccount.objects.filter(
        mode=ExchangeAccount.Mode.PAPER,
        pk__in=PaperAccount.objects.filter(live_orders__gt=0).values("pk"),
    ).order_by("pk")
    for account in accounts:
        try:
            moved += paper_exchange(account).book.touch()
            touched += 1
        except ExchangeError as exc:
            failed += 1
            log.warning("paper account %s: marks not applied (%s)", account.pk, type(exc).__name__)
        except Exception:
            failed += 1
            log.exception("paper account %s: marks not applied", account.pk)
    return f"paper accounts touched: {touched}, engine events: {moved}, failed: {failed}"
