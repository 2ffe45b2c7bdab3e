"""The status/error table: it covers every word in the reference, and each word maps to the right exception."""

from __future__ import annotations

import pytest

from exchanges.errors import (
    AmbiguousOutcome,
    AuthenticationFailed,
    ExchangeError,
    OrderRejected,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from exchanges.kraken.errors import TABLE, ClientOrderIdAlreadyExists, Kind, Source, classify, to_exception

# --- the words, copied from kraken-futures-rest.md, independently of the table -------------------------------

SPEC_SEND_STATUS = [
    "placed",
    "partiallyFilled",
    "filled",
    "cancelled",
    "edited",
    "marketSuspended",
    "marketInactive",
    "invalidPrice",
    "invalidSize",
    "tooManySmallOrders",
    "insufficientAvailableFunds",
    "wouldCauseLiquidation",
    "clientOrderIdAlreadyExist",
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
]
DESCRIPTION_ONLY_SEND_STATUS = ["invalidOrderType", "invalidSide", "clientOrderIdTooLong", "requiredArgumentMissing"]
MENTIONED_UNSOURCED = ["outsideMaxDeviation"]
ACCEPTED = ["placed", "partiallyFilled", "filled", "edited", "cancelled"]
EDIT_STATUS = [
    "edited",
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
]
CANCEL_STATUS = ["cancelled", "filled", "notFound", "noOrdersToCancel"]
CLASSIC_ERRORS = [
    "accountInactive",
    "apiLimitExceeded",
    "authenticationError",
    "insufficientFunds",
    "invalidAccount",
    "invalidAmount",
    "invalidArgument",
    "invalidUnit",
    "Json Parse Error",
    "marketUnavailable",
    "nonceBelowThreshold",
    "nonceDuplicate",
    "notFound",
    "requiredArgumentMissing",
    "Server Error",
    "Unavailable",
    "unknownError",
]
OBSERVED_ERRORS = ["insufficientPrivileges", "contractNotFound", "Bad Request"]
STRUCTURED = ["BAD_REQUEST", "INTERNAL_SERVER_ERROR", "TOO_MANY_REQUESTS", "UNAUTHORIZED"]
HTTP = ["400", "401", "404", "405", "429", "500", "502", "503", "504"]


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (Source.SEND_STATUS, SPEC_SEND_STATUS + DESCRIPTION_ONLY_SEND_STATUS + MENTIONED_UNSOURCED),
        (Source.EDIT_STATUS, EDIT_STATUS),
        (Source.CANCEL_STATUS, CANCEL_STATUS),
        (Source.ERROR, CLASSIC_ERRORS + OBSERVED_ERRORS),
        (Source.STRUCTURED, STRUCTURED),
        (Source.HTTP, HTTP),
    ],
)
def test_table_covers_every_word_in_the_reference(source: Source, words: list[str]) -> None:
    missing = [w for w in words if (source, w) not in TABLE]
    assert missing == []


def test_only_the_five_accepted_statuses_are_success() -> None:
    accepted = {w for (s, w), kind in TABLE.items() if s is Source.SEND_STATUS and kind is Kind.ACCEPTED}
    assert accepted == set(ACCEPTED)


# --- the mapping, spelled out per word (independent of the table's kinds) ------------------------------------

# What each word must become on an order call and on a read; None = success / definitive non-error answer.
EXPECTED: dict[tuple[Source, str], tuple[type[ExchangeError] | None, type[ExchangeError] | None]] = {}
for word in ACCEPTED:
    EXPECTED[(Source.SEND_STATUS, word)] = (None, None)
EXPECTED[(Source.SEND_STATUS, "clientOrderIdAlreadyExist")] = (ClientOrderIdAlreadyExists, ClientOrderIdAlreadyExists)
for word in SPEC_SEND_STATUS + DESCRIPTION_ONLY_SEND_STATUS + MENTIONED_UNSOURCED:
    EXPECTED.setdefault((Source.SEND_STATUS, word), (OrderRejected, Unavailable))
EXPECTED[(Source.EDIT_STATUS, "edited")] = (None, None)
for word in EDIT_STATUS[1:]:
    EXPECTED[(Source.EDIT_STATUS, word)] = (OrderRejected, Unavailable)
for word in CANCEL_STATUS:
    EXPECTED[(Source.CANCEL_STATUS, word)] = (None, None)
EXPECTED[(Source.CANCEL_STATUS, "wouldProcessAfterSpecifiedTime")] = (OrderRejected, Unavailable)
EXPECTED[(Source.EDIT_STATUS, "wouldProcessAfterSpecifiedTime")] = (OrderRejected, Unavailable)
for word, pair in {
    "accountInactive": (PermissionDenied, PermissionDenied),
    "apiLimitExceeded": (RateLimited, RateLimited),
    "authenticationError": (AuthenticationFailed, AuthenticationFailed),
    "insufficientFunds": (OrderRejected, Unavailable),
    "invalidAccount": (OrderRejected, Unavailable),
    "invalidAmount": (OrderRejected, Unavailable),
    "invalidArgument": (OrderRejected, Unavailable),
    "invalidUnit": (OrderRejected, Unavailable),
    "Json Parse Error": (OrderRejected, Unavailable),
    "marketUnavailable": (AmbiguousOutcome, Unavailable),
    "nonceBelowThreshold": (AuthenticationFailed, AuthenticationFailed),
    "nonceDuplicate": (AuthenticationFailed, AuthenticationFailed),
    "notFound": (OrderRejected, Unavailable),
    "requiredArgumentMissing": (OrderRejected, Unavailable),
    "Server Error": (AmbiguousOutcome, Unavailable),
    "Unavailable": (AmbiguousOutcome, Unavailable),
    "unknownError": (AmbiguousOutcome, Unavailable),
    "insufficientPrivileges": (PermissionDenied, PermissionDenied),
    "contractNotFound": (OrderRejected, Unavailable),
    "Bad Request": (OrderRejected, Unavailable),
}.items():
    EXPECTED[(Source.ERROR, word)] = pair
for word, pair in {
    "BAD_REQUEST": (OrderRejected, Unavailable),
    "INTERNAL_SERVER_ERROR": (AmbiguousOutcome, Unavailable),
    "TOO_MANY_REQUESTS": (RateLimited, RateLimited),
    "UNAUTHORIZED": (AuthenticationFailed, AuthenticationFailed),
}.items():
    EXPECTED[(Source.STRUCTURED, word)] = pair
for word, pair in {
    "400": (OrderRejected, Unavailable),
    "401": (AuthenticationFailed, AuthenticationFailed),
    "403": (PermissionDenied, PermissionDenied),
    "404": (OrderRejected, Unavailable),
    "405": (AmbiguousOutcome, Unavailable),
    "429": (RateLimited, RateLimited),
    "500": (AmbiguousOutcome, Unavailable),
    "502": (AmbiguousOutcome, Unavailable),
    "503": (AmbiguousOutcome, Unavailable),
    "504": (AmbiguousOutcome, Unavailable),
}.items():
    EXPECTED[(Source.HTTP, word)] = pair


def test_every_table_entry_has_an_expectation() -> None:
    assert set(TABLE) == set(EXPECTED)


@pytest.mark.parametrize(("key", "expected"), sorted(EXPECTED.items(), key=lambda kv: (kv[0][0], kv[0][1])))
def test_word_maps_to_the_taxonomy(key: tuple[Source, str], expected: tuple[type | None, type | None]) -> None:
    source, word = key
    kind = classify(source, word)
    for order_call, want in zip((True, False), expected, strict=True):
        if want is None:
            assert kind in (Kind.ACCEPTED, Kind.CANCEL_OUTCOME)
            continue
        exc = to_exception(kind, word, order_call=order_call, client_order_id="or-1")
        assert type(exc) is want, (word, order_call, type(exc))
        assert exc.venue_code == word or isinstance(exc, ClientOrderIdAlreadyExists)
        if want is OrderRejected:
            assert exc.status == word  # verbatim


def test_client_order_id_already_exists_means_it_landed_not_rejected() -> None:
    exc = to_exception(
        classify(Source.SEND_STATUS, "clientOrderIdAlreadyExist"), "x", order_call=True, client_order_id="or-7"
    )
    assert isinstance(exc, ClientOrderIdAlreadyExists)
    assert isinstance(exc, AmbiguousOutcome)
    assert not isinstance(exc, OrderRejected)
    assert exc.landed is True
    assert exc.client_order_id == "or-7"
    assert exc.venue_code == "clientOrderIdAlreadyExist"


def test_unknown_words_default_safely() -> None:
    assert classify(Source.SEND_STATUS, "somethingNew") is Kind.REJECTED  # everything not accepted is a no
    assert classify(Source.EDIT_STATUS, "somethingNew") is Kind.REJECTED
    for source in (Source.CANCEL_STATUS, Source.ERROR, Source.STRUCTURED, Source.HTTP):
        assert classify(source, "somethingNew") is Kind.UNAVAILABLE
    assert classify(Source.HTTP, "599") is Kind.UNAVAILABLE
    assert isinstance(to_exception(Kind.UNAVAILABLE, "x", order_call=True), AmbiguousOutcome)
    assert type(to_exception(Kind.UNAVAILABLE, "x", order_call=False)) is Unavailable


def test_rate_limited_carries_retry_after() -> None:
    exc = to_exception(Kind.RATE_LIMITED, "apiLimitExceeded", order_call=True, retry_after=3.5)
    assert isinstance(exc, RateLimited)
    assert exc.retry_after == 3.5
