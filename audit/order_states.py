"""The one transition table for our orders. Every state change goes through `check_transition`.

pending_submit → open → partially_filled → filled | cancelled
pending_submit → rejected, open → rejected (a resting stop whose triggered order the venue refused)
pending_submit → unknown → (resolved to one of the above)
any non-terminal → needs_attention (a person looks at it)
"""

from __future__ import annotations

from django.db import models


class OrderState(models.TextChoices):
    PENDING_SUBMIT = "pending_submit", "Pending submit"
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    UNKNOWN = "unknown", "Unknown"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"


S = OrderState
TERMINAL = frozenset({S.FILLED, S.CANCELLED, S.REJECTED})

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    # Cancelled: it landed and was cancelled (a superseded stop) before we saw its acknowledgement.
    S.PENDING_SUBMIT: frozenset(
        {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.UNKNOWN, S.NEEDS_ATTENTION}
    ),
    # An unknown order is resolved by lookup to whatever the exchange says it is - or, with no trace after the
    # lookup window, re-sent once with the same client order id (back to pending_submit).
    S.UNKNOWN: frozenset(
        {S.PENDING_SUBMIT, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.NEEDS_ATTENTION}
    ),
    # Rejected after it rested: a stop whose trigger fired but whose order then failed the venue's checks (Kraken's
    # TRIGGER_ACTIVATION_FAILURE). Nothing of it was filled.
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.NEEDS_ATTENTION}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.NEEDS_ATTENTION}),
    # A person (or reconciliation with definitive exchange data) settles it.
    S.NEEDS_ATTENTION: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}),
    # Real world: a fill can arrive after we saw a cancel (the cancel raced an execution).
    S.CANCELLED: frozenset({S.FILLED, S.PARTIALLY_FILLED}),
    S.FILLED: frozenset(),
    S.REJECTED: frozenset(),
}


class InvalidTransition(Exception):
    pass


def check_transition(old: str, new: str) -> None:
    if OrderState(new) not in TRANSITIONS[OrderState(old)]:
        raise InvalidTransition(f"order state {old} → {new} is not allowed")
