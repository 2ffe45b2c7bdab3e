"""Position drift: the exchange's position of a route's instrument differs from what our books imply.

Checked by reconciliation (only with nothing in flight, inside the route's lease). Drift freezes the route for new
exposure - exits still go out - raises one attention item and e-mails the owner, naming fills no order of ours
made (a manual trade, a liquidation). It is never "fixed" by trading.

A person ends it by acknowledging: the route is re-based on the exchange's position at that moment, recorded with
who and when; from then on our books are that baseline plus our later fills.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.models import User
from audit.models import Attention, RouteEvent
from exchanges.connect import exchange_for
from routing import lease, selectors
from routing.attention import raise_attention
from routing.domain import number_text
from routing.models import Route, RouteState, engine_state
from routing.reconcile.report import Report
from routing.snapshot import position_of


class RouteBusy(Exception):
    """The route is being worked on (an alert, a reconciliation): try again in a moment."""


def check(route: Route, exchange_position: Decimal, report: Report, *, now: datetime) -> None:
    if selectors.in_flight_orders(route.pk).exists():
        # An order in flight makes a gap between the exchange position and our fills that is not drift; compare
        # again once nothing is in flight.
        report.deferred.append(f"route {route.pk}: position not compared, orders in flight")
        return
    state = engine_state(route)
    expected = selectors.implied_position(route, state)
    if expected == exchange_position:
        return
    foreign = selectors.foreign_fills(route, since=state.baseline_at)
    named = ""
    if foreign:
        shown = ", ".join(
            f"{'liquidation' if f.liquidity == 'other' else 'a trade not placed by OrderRail'} "
            f"({f.side} {number_text(f.size)} at {number_text(f.price)}, {f.filled_at:%Y-%m-%d %H:%M:%S} UTC)"
            for f in foreign[-3:]
        )
        named = f" Fills no OrderRail order made: {shown}."
    detail = (
        f"{route.symbol}: the exchange position is {number_text(exchange_position)}, our orders imply "
        f"{number_text(expected)}.{named} The route is frozen for new exposure (exits still go out) until the "
        "drift is acknowledged."
    )
    report.drifts.append(f"route {route.pk}: {detail}")
    frozen = RouteState.objects.filter(route_id=route.pk, frozen_reason="").update(
        frozen_reason=detail[:300], frozen_at=now
    )
    if frozen:
        RouteEvent.objects.create(route=route, at=now, kind=RouteEvent.Kind.FROZEN, detail=detail[:500])
    raise_attention(kind=Attention.Kind.POSITION_DRIFT, route=route, detail=detail, now=now)


def acknowledge(route: Route, *, actor: User | None, note: str, now: datetime) -> RouteEvent:
    """Re-base the route on the exchange's position now and lift the freeze, recorded with who, when and why.

    Inside the route's lease (nothing is being sent for it meanwhile). Raises RouteBusy when the route is being
    worked on, and the exchange's errors when its position cannot be read - nothing changes then."""
    if route.exchange_account is None:
        raise ValueError("the route has no exchange account to re-base on")
    with lease.held(route.pk, now) as held:
        if held is None:
            raise RouteBusy(f"route {route.pk} is busy; try again in a moment")
        exchange_position = position_of(exchange_for(route.exchange_account), route.symbol)
        implied = selectors.implied_position(route)
        who = actor.email if actor is not None else "OrderRail"
        detail = (
            f"Re-based on the exchange position {number_text(exchange_position)} (our books implied "
            f"{number_text(implied)}) by {who}: {note or 'no note'}"
        )
        with transaction.atomic():
            RouteState.objects.filter(route_id=route.pk).update(
                baseline_position=exchange_position, baseline_at=now, frozen_reason="", frozen_at=None
            )
            Attention.objects.filter(route=route, kind=Attention.Kind.POSITION_DRIFT, resolved_at__isnull=True).update(
                resolved_at=now, resolved_by=actor, resolution_note=(note or "drift acknowledged")[:300]
            )
            return RouteEvent.objects.create(
                route=route, at=now, actor=actor, kind=RouteEvent.Kind.DRIFT_ACKNOWLEDGED, detail=detail[:500]
            )
