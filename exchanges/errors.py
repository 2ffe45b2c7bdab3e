"""The one error taxonomy every exchange adapter raises and every caller handles.

Grouped by what the caller must do, not by what the venue said:

* ``OrderRejected`` - a definitive "no" for this order; terminal, never retried. ``status`` is the venue's word.
* ``AmbiguousOutcome`` - we do not know whether an order call took effect (timeout, reset, 5xx, garbage).
  The order is *unknown* and must be looked up by client order id; never treated as a failure.
* ``RateLimited`` - back off for ``retry_after`` seconds; the request did not take effect.
* ``Unavailable`` - the venue could not answer a read (or refused an order call before acting on it);
  fail safe: no order on stale or missing state.
* ``AuthenticationFailed`` - the key, secret or nonce was refused.
* ``PermissionDenied`` - the key is valid but lacks the permission for this call.
"""

from __future__ import annotations


class ExchangeError(Exception):
    retryable: bool = False

    def __init__(self, message: str = "", *, venue_code: str = "") -> None:
        super().__init__(message or venue_code or self.__class__.__name__)
        self.message = message
        # The venue's own error string or status, verbatim, for the audit trail.
        self.venue_code = venue_code


class OrderRejected(ExchangeError):
    def __init__(self, status: str, message: str = "") -> None:
        super().__init__(message or status, venue_code=status)
        self.status = status


class AmbiguousOutcome(ExchangeError):
    retryable = True


class RateLimited(ExchangeError):
    retryable = True

    def __init__(
        self, message: str = "", *, retry_after: float = 1.0, venue_code: str = "", local: bool = False
    ) -> None:
        super().__init__(message, venue_code=venue_code)
        self.retry_after = retry_after
        # Refused by our own per-key budget before anything was sent: the exchange never saw it, so it says nothing
        # about the exchange's health (the circuit breaker does not count it).
        self.local = local


class Unavailable(ExchangeError):
    retryable = True


class AuthenticationFailed(ExchangeError):
    pass


class PermissionDenied(ExchangeError):
    pass
