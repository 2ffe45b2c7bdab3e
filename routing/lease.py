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
from django.db import connection

from orderrail.statements import update_where
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
        fence = _take(route_id, owner, now)
        if fence is not None:
            return Lease(route_id, owner, fence)
        # No row yet (a route made without save(), e.g. bulk_create): create it and try once more.
        _, created = RouteState.objects.get_or_create(route_id=route_id)
        if not created:
            return None
    return None


def _take(route_id: int, owner: str, now: datetime) -> int | None:
    """Free or expired -> ours, in one conditional UPDATE that returns the new fencing token (one statement per
    alert instead of an ORM update and a read, and no SQL to build: the engine takes a lease for every route job)."""
    table = connection.ops.quote_name(RouteState._meta.db_table)
    until = RouteState._meta.get_field("lease_until")
    params = [owner, until.get_db_prep_save(now + duration(), connection), route_id]
    params.append(until.get_db_prep_value(now, connection))
    sql = (
        f"UPDATE {table} SET lease_owner = %s, lease_until = %s, lease_fence = lease_fence + 1 "  # noqa: S608
        "WHERE route_id = %s AND (lease_until IS NULL OR lease_until < %s)"
    )
    returning = connection.features.can_return_columns_from_insert  # SQLite >= 3.35 and PostgreSQL: UPDATE too
    with connection.cursor() as cursor:
        cursor.execute(sql + (" RETURNING lease_fence" if returning else ""), params)
        if returning:
            row = cursor.fetchone()
            return None if row is None else int(row[0])
        if cursor.rowcount != 1:
            return None
    return RouteState.objects.filter(route_id=route_id, lease_owner=owner).values_list("lease_fence", flat=True).first()


def refresh(lease: Lease, now: datetime) -> bool:
    """Extend the lease; False when it was lost (expired and taken by someone else)."""
    return update_where(RouteState, _held_by(lease), {"lease_until": now + duration()}) == 1


def _held_by(lease: Lease) -> dict[str, object]:
    return {"route_id": lease.route_id, "lease_owner": lease.owner, "lease_fence": lease.fence}


def ensure(lease: Lease, now: datetime) -> None:
    if not refresh(lease, now):
        raise LeaseLost(f"route {lease.route_id}: lease lost")


def release(lease: Lease, *, hand_on: bool = True) -> None:
    update_where(RouteState, _held_by(lease), {"lease_owner": "", "lease_until": None})
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
