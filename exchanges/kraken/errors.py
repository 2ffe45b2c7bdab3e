"""Every Kraken Futures status and error string, mapped once to the venue-neutral taxonomy.

The one table, ``TABLE``, is keyed by (where the word appears, the word). Each entry names a ``Kind`` - what the
word means for the caller - and ``to_exception`` turns a kind into the exception for the kind of call:

* an **order call** (sendorder, editorder, cancelorder, batchorder: anything that may change exchange state)
  must never turn uncertainty into a rejection, so "the venue is down / said something unknown" becomes
  ``AmbiguousOutcome`` (look the order up, do not assume either way);
* a **read** that cannot be answered is ``Unavailable`` (fail safe: no order on missing state), including a read
  the venue refused as malformed - that is our bug, but the caller's answer is the same: no snapshot.

``clientOrderIdAlreadyExist`` means "an order with this client id already landed". It is raised as
``ClientOrderIdAlreadyExists``, a subclass of ``AmbiguousOutcome``: every caller that handles ambiguity already
does the right thing (look the order up by client id and reconcile), and it can never be mistaken for an
``OrderRejected``. ``landed = True`` lets a caller that cares tell it apart from a plain timeout.

Words not in the table: an unknown ``sendStatus``/``editStatus`` is a rejection (reference §4: everything not
accepted is a rejection) - the adapter additionally treats it as ambiguous if the same response carries a
PLACE or EXECUTION event; an unknown cancel status, classic error, structured status or HTTP code is
``UNAVAILABLE`` (ambiguous on order calls, unavailable on reads).
"""

from __future__ import annotations

from enum import StrEnum

from exchanges.errors import (
    AmbiguousOutcome,
    AuthenticationFailed,
    ExchangeError,
    OrderRejected,
    PermissionDenied,
    RateLimited,
    Unavailable,
)


class Source(StrEnum):
    """Where a word appears on the wire."""

    SEND_STATUS = "sendStatus"  # sendorder and batchorder elements
    EDIT_STATUS = "editStatus"
    CANCEL_STATUS = "cancelStatus"  # cancelorder and cancelallorders
    ERROR = "error"  # classic envelope {"result":"error","error":"<word>"}
    STRUCTURED = "errors"  # newer envelope {"status":"<WORD>","result":"error","errors":[{code,message}]}
    HTTP = "http"  # the HTTP status code, as a string


class Kind(StrEnum):
    ACCEPTED = "accepted"  # the call did what was asked
    CANCEL_OUTCOME = "cancel_outcome"  # definitive answer to a cancel that cancelled nothing (filled, notFound)
    REJECTED = "rejected"  # definitive no: OrderRejected on order calls, Unavailable on reads
    ALREADY_EXISTS = "already_exists"  # the client order id has landed before: reconcile
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"  # venue down or answer unknown: Unavailable on reads, AmbiguousOutcome on orders


_SEND_REJECTIONS = (
    # SPEC SendOrderJson enum (everything that is not an acceptance)
    "marketSuspended",
    "marketInactive",
    "invalidPrice",
    "invalidSize",
    "tooManySmallOrders",
    "insufficientAvailableFunds",
    "wouldCauseLiquidation",
    "clientOrderIdTooBig",
    "maxPositionViolation",
    "outsidePriceCollar",
    "wouldIncreasePriceDislocation",
    "notFound",
    "orderForEditNotAStop",
    "orderForEditNotFound",
    "postWouldExecute",
    "iocWouldNotExecute",
    "selfFill",
    "wouldNotReducePosition",
    "marketIsPostOnly",
    "tooManyOrders",
    "fixedLeverageTooHigh",
    "clientOrderIdInvalid",
    "cannotEditTriggerPriceOfTrailingStop",
    "cannotEditLimitPriceOfTrailingStop",
    "wouldProcessAfterSpecifiedTime",
    # found only in SPEC descriptions / batchStatus (reference §4)
    "invalidOrderType",
    "invalidSide",
    "clientOrderIdTooLong",
    "requiredArgumentMissing",
    # named by the reference as "not in any source found"; listed so it is a rejection on purpose, not by default
    "outsideMaxDeviation",
)

_EDIT_REJECTIONS = (
    "invalidSize",
    "invalidPrice",
    "insufficientAvailableFunds",
    "selfFill",
    "tooManySmallOrders",
    "outsidePriceCollar",
    "postWouldExecute",
    "wouldNotReducePosition",
    "orderForEditNotFound",
    "orderForEditNotAStop",
    # Not in SPEC's editStatus enum, but editorder takes processBefore and a late one is refused with this word.
    "wouldProcessAfterSpecifiedTime",
)

TABLE: dict[tuple[Source, str], Kind] = {
    # --- sendStatus.status (sendorder, batchorder) ---
    **{(Source.SEND_STATUS, s): Kind.ACCEPTED for s in ("placed", "partiallyFilled", "filled", "cancelled", "edited")},
    (Source.SEND_STATUS, "clientOrderIdAlreadyExist"): Kind.ALREADY_EXISTS,
    **{(Source.SEND_STATUS, s): Kind.REJECTED for s in _SEND_REJECTIONS},
    # --- editStatus.status ---
    (Source.EDIT_STATUS, "edited"): Kind.ACCEPTED,
    **{(Source.EDIT_STATUS, s): Kind.REJECTED for s in _EDIT_REJECTIONS},
    # --- cancelStatus.status: a cancel that found nothing to cancel is an answer, not an error ---
    (Source.CANCEL_STATUS, "cancelled"): Kind.ACCEPTED,
    (Source.CANCEL_STATUS, "filled"): Kind.CANCEL_OUTCOME,
    (Source.CANCEL_STATUS, "notFound"): Kind.CANCEL_OUTCOME,
    (Source.CANCEL_STATUS, "noOrdersToCancel"): Kind.CANCEL_OUTCOME,
    # With processBefore in the past Kraken refuses to act at all: a definitive no for the cancel.
    (Source.CANCEL_STATUS, "wouldProcessAfterSpecifiedTime"): Kind.REJECTED,
    # --- classic {"result":"error","error":...} (SPEC ErrorResponse enum + observed) ---
    (Source.ERROR, "accountInactive"): Kind.PERMISSION,  # the account cannot act; a person must look, never retry
    (Source.ERROR, "apiLimitExceeded"): Kind.RATE_LIMITED,
    (Source.ERROR, "authenticationError"): Kind.AUTHENTICATION,
    (Source.ERROR, "insufficientFunds"): Kind.REJECTED,
    (Source.ERROR, "invalidAccount"): Kind.REJECTED,
    (Source.ERROR, "invalidAmount"): Kind.REJECTED,
    (Source.ERROR, "invalidArgument"): Kind.REJECTED,
    (Source.ERROR, "invalidUnit"): Kind.REJECTED,
    (Source.ERROR, "Json Parse Error"): Kind.REJECTED,  # the venue could not parse our request: nothing done
    (Source.ERROR, "marketUnavailable"): Kind.UNAVAILABLE,
    (Source.ERROR, "nonceBelowThreshold"): Kind.AUTHENTICATION,
    (Source.ERROR, "nonceDuplicate"): Kind.AUTHENTICATION,
    (Source.ERROR, "notFound"): Kind.REJECTED,
    (Source.ERROR, "requiredArgumentMissing"): Kind.REJECTED,
    (Source.ERROR, "Server Error"): Kind.UNAVAILABLE,
    (Source.ERROR, "Unavailable"): Kind.UNAVAILABLE,
    (Source.ERROR, "unknownError"): Kind.UNAVAILABLE,  # "unknown" must never read as a definitive no
    (Source.ERROR, "insufficientPrivileges"): Kind.PERMISSION,  # observed (CLI errors.rs)
    (Source.ERROR, "contractNotFound"): Kind.REJECTED,  # observed (CCXT)
    (Source.ERROR, "Bad Request"): Kind.REJECTED,  # observed (CCXT): URL had characters the venue refused
    # --- structured {"status":...,"errors":[...]} (ROQ, CCXT, SPEC _responses.yml) ---
    (Source.STRUCTURED, "BAD_REQUEST"): Kind.REJECTED,
    (Source.STRUCTURED, "INTERNAL_SERVER_ERROR"): Kind.UNAVAILABLE,
    (Source.STRUCTURED, "TOO_MANY_REQUESTS"): Kind.RATE_LIMITED,
    (Source.STRUCTURED, "UNAUTHORIZED"): Kind.AUTHENTICATION,
    # --- HTTP codes, used when the body carries no recognised envelope ---
    (Source.HTTP, "400"): Kind.REJECTED,
    (Source.HTTP, "401"): Kind.AUTHENTICATION,  # history/auth paths with a bad signature
    (Source.HTTP, "403"): Kind.PERMISSION,
    (Source.HTTP, "404"): Kind.REJECTED,  # malformed path (Spring JSON body); e.g. a NaN formatted into it
    (Source.HTTP, "405"): Kind.UNAVAILABLE,  # nginx HTML page seen during an incident
    (Source.HTTP, "429"): Kind.RATE_LIMITED,
    (Source.HTTP, "500"): Kind.UNAVAILABLE,
    (Source.HTTP, "502"): Kind.UNAVAILABLE,
    (Source.HTTP, "503"): Kind.UNAVAILABLE,
    (Source.HTTP, "504"): Kind.UNAVAILABLE,
}

# Kinds that a non-JSON (HTML, truncated) error page cannot establish: an intermediary's 400/403/404 page says
# nothing definitive about whether Kraken acted, so on an order call it is downgraded to UNAVAILABLE.
DEFINITIVE_ONLY_WITH_VENUE_BODY = frozenset({Kind.REJECTED, Kind.PERMISSION})


def classify(source: Source, word: str) -> Kind:
    """The kind of one word; the defaults for words not in the table are explained in the module docstring."""
    kind = TABLE.get((source, word))
    if kind is not None:
        return kind
    if source in (Source.SEND_STATUS, Source.EDIT_STATUS):
        return Kind.REJECTED
    # Unknown cancel statuses, error strings and HTTP codes (any other 5xx included): we do not know.
    return Kind.UNAVAILABLE


def is_known(source: Source, word: str) -> bool:
    return (source, word) in TABLE


class ClientOrderIdAlreadyExists(AmbiguousOutcome):
    """Kraken answered ``clientOrderIdAlreadyExist``: an order with this client id has landed before.

    Not a rejection. The order must be looked up by client id and reconciled; never re-sent under a new id.
    """

    landed = True

    def __init__(self, client_order_id: str | None = None, message: str = "") -> None:
        super().__init__(
            message or f"client order id {client_order_id!r} already exists on Kraken (the order landed)",
            venue_code="clientOrderIdAlreadyExist",
        )
        self.client_order_id = client_order_id


class MalformedResponse(Exception):
    """A response that parsed but lacks what we need. Internal: the adapter turns it into the taxonomy."""


def to_exception(
    kind: Kind,
    word: str,
    *,
    order_call: bool,
    message: str = "",
    retry_after: float = 1.0,
    client_order_id: str | None = None,
) -> ExchangeError:
    """The taxonomy exception for a non-accepted kind. ``word`` is the venue's string, kept verbatim."""
    text = message or word
    if kind is Kind.ALREADY_EXISTS:
        return ClientOrderIdAlreadyExists(client_order_id)
    if kind is Kind.REJECTED:
        return OrderRejected(word, text) if order_call else Unavailable(text, venue_code=word)
    if kind is Kind.AUTHENTICATION:
        return AuthenticationFailed(text, venue_code=word)
    if kind is Kind.PERMISSION:
        return PermissionDenied(text, venue_code=word)
    if kind is Kind.RATE_LIMITED:
        return RateLimited(text, retry_after=retry_after, venue_code=word)
    if kind in (Kind.ACCEPTED, Kind.CANCEL_OUTCOME):
        # Never called for these in practice; if it is, the safe reading is "we do not know".
        text = f"unexpected success word {word!r} where an error was expected"
    return AmbiguousOutcome(text, venue_code=word) if order_call else Unavailable(text, venue_code=word)
