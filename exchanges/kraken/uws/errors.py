"""Every Unified WebSocket error text, mapped once to the venue-neutral taxonomy.

UWS answers a refused request with ``success: false`` and ``error`` as free text - no codes, no ``E...:`` prefix
(reference §4.1). Derivatives rejection strings for ``add_order`` are not documented (§10 item 3), so ``TABLE`` is
an ordered list of case-insensitive substring rules: the first rule that matches decides the ``Kind`` (the same
kinds the REST table uses, ``exchanges.kraken.errors.Kind``), and ``exchanges.kraken.errors.to_exception`` turns it
into the exception for the kind of call. The texts the rules were written from are assumptions, listed in
``assumptions.py``; the probe prints what the real venue says.

Defaults: a text no rule matches is ``UNAVAILABLE`` - on an order call that is ``AmbiguousOutcome`` (look it up:
an unknown "no" must never be taken for a definitive one), on a read ``Unavailable``.
"""

from __future__ import annotations

from exchanges.errors import ExchangeError, OrderRejected
from exchanges.kraken.errors import ClientOrderIdAlreadyExists, Kind, to_exception
from exchanges.kraken.uws import assumptions as A

LATE = "wouldProcessAfterSpecifiedTime"

# (substring, kind) - order matters: the first match wins, so specific texts come before general ones.
TABLE: tuple[tuple[str, Kind], ...] = (
    *((text, Kind.AUTHENTICATION) for text in A.TOKEN_ERRORS),
    ("invalid signature", Kind.AUTHENTICATION),
    ("permission denied", Kind.PERMISSION),
    ("not permitted", Kind.PERMISSION),
    *((text, Kind.RATE_LIMITED) for text in A.RATE_LIMIT_ERRORS),
    ("duplicate cl_ord_id", Kind.ALREADY_EXISTS),
    *((text, Kind.ALREADY_EXISTS) for text in A.DUPLICATE_CLIENT_ID),
    *((text, Kind.CANCEL_OUTCOME) for text in A.CANCEL_NOT_FOUND),
    # definitive refusals of an order (texts the fake speaks; reference §4.2 lists the categories, not the words)
    ("insufficient", Kind.REJECTED),
    ("would cause liquidation", Kind.REJECTED),
    ("would not reduce", Kind.REJECTED),
    ("invalid", Kind.REJECTED),
    ("unknown symbol", Kind.REJECTED),
    ("unknown 'params", Kind.REJECTED),
    ("market suspended", Kind.REJECTED),
    ("market inactive", Kind.REJECTED),
    ("post only", Kind.REJECTED),
    ("would not execute", Kind.REJECTED),
    ("max position", Kind.REJECTED),
    ("too many", Kind.REJECTED),
    ("self fill", Kind.REJECTED),
    ("collar", Kind.REJECTED),
    ("deadline", Kind.REJECTED),
    ("not supported", Kind.REJECTED),
    ("leverage", Kind.REJECTED),  # the set_preference texts of §3.7
    ("already subscribed", Kind.REJECTED),
    # the venue says it cannot act right now: ambiguous on orders, unavailable on reads
    ("internal", Kind.UNAVAILABLE),
    ("unavailable", Kind.UNAVAILABLE),
    ("maintenance", Kind.UNAVAILABLE),
    ("cancel_only", Kind.UNAVAILABLE),
    ("try again", Kind.UNAVAILABLE),
)


def classify(text: str) -> Kind:
    lowered = text.lower()
    for needle, kind in TABLE:
        if needle.lower() in lowered:
            return kind
    return Kind.UNAVAILABLE


def error_for(text: str, *, order_call: bool, client_order_id: str | None = None) -> ExchangeError:
    """The taxonomy exception for a ``success: false`` answer; the venue's text is kept verbatim as venue_code."""
    kind = classify(text)
    if kind is Kind.REJECTED and order_call and "deadline" in text.lower():
        # The protocol's one word for "refused for lateness: nothing placed, nothing will be" (the text rides along).
        return OrderRejected(LATE, f"{text} (the order's deadline passed before it reached the engine)")
    if kind is Kind.ALREADY_EXISTS:
        return ClientOrderIdAlreadyExists(client_order_id, f"{text} (an order with this client id landed)")
    error = to_exception(kind, text, order_call=order_call, message=text)
    error.venue_code = text
    return error


def is_token_error(text: str) -> bool:
    lowered = text.lower()
    return any(t.lower() in lowered for t in A.TOKEN_ERRORS)
