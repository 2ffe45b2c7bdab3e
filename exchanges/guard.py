"""Every caller's view of an account's exchange: rate-limit backoff with jitter, and a circuit breaker.

`RateLimited` means the request did not take effect (our own per-key budget refused it, or the venue answered
"too many requests" before acting), so waiting `retry_after` (plus jitter, so workers sharing a key do not retry
in lockstep) and trying again - with the same client order id for orders - is safe.

The breaker protects a struggling exchange from our orders, and nothing else:
- it counts only real exchange failures of trading calls (placing, editing, cancelling orders): not our own
  budget refusals (the exchange never saw those), not reads (a failing read already ends in a skip);
- five within a minute pause the account for a minute, and decisions say so;
- it never blocks a reduce-only order: an exit or the worst-case stop is always tried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ExchangeAccount
from exchanges.base import Exchange, OrderRequest
from exchanges.errors import AmbiguousOutcome, RateLimited, Unavailable

FAILURES_TO_OPEN = 5
FAILURE_WINDOW = timedelta(seconds=60)
PAUSE = timedelta(seconds=60)
RATE_LIMIT_RETRIES = 3
MAX_BACKOFF_SECONDS = 5.0
TRADING_CALLS = frozenset({"place_order", "edit_order", "cancel_order"})


class BreakerOpen(Unavailable):
    """The account is paused by the circuit breaker; nothing was sent."""


def breaker_open_until(account: ExchangeAccount, now: datetime) -> datetime | None:
    return account.paused_until if account.paused_until and account.paused_until > now else None


class GuardedExchange:
    def __init__(
        self,
        exchange: Exchange,
        account: ExchangeAccount,
        *,
        clock: Callable[[], datetime] = timezone.now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._exchange = exchange
        self._account = account
        self._clock = clock
        self._sleep = sleep
        self.capabilities = exchange.capabilities

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._exchange, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, target, *args, **kwargs)

        return call

    def _call(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        trading = name in TRADING_CALLS
        if name == "place_order" and not _reduce_only(args, kwargs):
            until = breaker_open_until(self._account, self._clock())
            if until is not None:
                raise BreakerOpen(f"circuit breaker open until {until:%H:%M:%S} UTC after repeated exchange failures")
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                result = fn(*args, **kwargs)
            except RateLimited as exc:
                if trading and not exc.local:
                    self._failed()
                if attempt == RATE_LIMIT_RETRIES:
                    raise
                delay = min(MAX_BACKOFF_SECONDS, max(exc.retry_after, 0.05) * (2**attempt))
                self._sleep(delay * random.uniform(1.0, 1.5))
                continue
            except (Unavailable, AmbiguousOutcome):
                if trading:
                    self._failed()
                raise
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self) -> None:
        # Failures are counted in a rolling window, not reset by the next success: an exchange whose order endpoint
        # fails every other call is still failing.
        now = self._clock()
        with transaction.atomic():
            account = (
                ExchangeAccount.objects.select_for_update()
                .only("failure_streak", "failures_since")
                .get(pk=self._account.pk)
            )
            if account.failures_since is None or now - account.failures_since > FAILURE_WINDOW:
                streak, since = 1, now
            else:
                streak, since = account.failure_streak + 1, account.failures_since
            paused_until = now + PAUSE if streak >= FAILURES_TO_OPEN else None
            ExchangeAccount.objects.filter(pk=self._account.pk).update(
                failure_streak=0 if paused_until else streak,
                failures_since=None if paused_until else since,
                **({"paused_until": paused_until} if paused_until else {}),
            )
        if paused_until:
            self._account.paused_until = paused_until


def _reduce_only(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    request = args[0] if args else kwargs.get("request")
    return isinstance(request, OrderRequest) and request.reduce_only
