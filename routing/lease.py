"""The route lease: one holder at a time per route, for everything that sends orders for it or compares its
position (the pipeline, re-sends, stop upkeep, drift checks, flatten).

- `acquire` is a conditional UPDATE (free or expired → ours) on the route's engine state, so it works the same on
  SQLite and PostgreSQL and across any number of worker hosts; it expires by itself if the holder dies.
- Every acquisition bumps a fencing token. `refresh` reports loss: a holder that was too slow and lost the lease to
  someone else stops instead of acting on a stale view. Order placement claims its attempt under the same token
  (`routing.orders.submit`), so a holder that lost the lease can never send.
- `release` hands on: if alerts of the route queued up while it was held, it wakes their processing at once, so an
  alert that arrived during a reconciliation is not left for the sweeper.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q

from routing.models import RouteState


@dataclass(frozen=True)
class Lease:
    route_id: int
    owner: str
    fence: int


class LeaseLost(Exception):
    """The lease expired and someone else took the route; the former holder must stop."""


def duration() -> timedelta:
    return timedelta(seconds=settings.ROUTE_LEASE_SECONDS)


def acquire(route_id: int, now: datetime) -> Lease | None:
    owner = uuid.uuid4().hex
    for _ in range(2):
        taken = (
            RouteState.objects.filter(route_id=route_id)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_owner=owner, lease_until=now + duration(), lease_fence=F("lease_fence") + 1)
        )
        if taken == 1:
            fence = RouteState.objects.filter(route_id=route_id, lease_owner=owner).values_list(
                "lease_fence", flat=True
            )
            value = fence.first()
            return Lease(route_id, owner, value) if value is not None else None
        # No row yet (a route made without save(), e.g. bulk_create): create it and try once more.
        _, created = RouteState.objects.get_or_create(route_id=route_id)
        if not created:
            return None
    return None


def refresh(lease: Lease, now: datetime) -> bool:
    """Extend the lease; False when it was lost (expired and taken by someone else)."""
    return (
        RouteState.objects.filter(route_id=lease.route_id, lease_owner=lease.owner, lease_fence=lease.fence).update(
            lease_until=now + duration()
        )
        == 1
    )


def ensure(lease: Lease, now: datetime) -> None:
    if not refresh(lease, now):
        raise LeaseLost(f"route {lease.route_id}: lease lost")


def release(lease: Lease, *, hand_on: bool = True) -> None:
    RouteState.objects.filter(route_id=lease.route_id, lease_owner=lease.owner, lease_fence=lease.fence).update(
        lease_owner="", lease_until=None
    )
    if hand_on:
        from routing import dispatch

        dispatch.wake_route(lease.route_id)


@contextmanager
def held(route_id: int, now: datetime) -> Iterator[Lease | None]:
    """`with held(route_id, now) as lease:` - None when the route is busy; released (and handed on) afterwards."""
    lease = acquire(route_id, now)
    try:
        yield lease
    finally:
        if lease is not None:
            release(lease)
