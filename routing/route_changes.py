"""What a person does to a route - create, change its settings, enable, pause, rotate its secret - each recorded
as a `RouteEvent` with who and when. The engine's own state (`RouteState`) is never written here."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import User
from audit.models import RouteEvent
from routing.models import Route

# Fields whose change is worth naming in the route's history (all the settings a trader edits).
SETTINGS = (
    "name",
    "exchange_account",
    "symbol",
    "tv_alias",
    "sizing_mode",
    "multiplier",
    "fixed_size",
    "side_policy",
    "max_order_size",
    "max_position",
    "max_notional",
    "max_leverage",
    "orders_per_hour",
    "daily_loss_limit",
    "max_alert_age_seconds",
    "future_skew_seconds",
    "price_deviation_pct",
    "worst_case_stop_pct",
    "email_alerts",
)


CONFLICT = (
    "Another enabled route already trades this instrument on this exchange account. Pause it first, or use a "
    "sub-account to run two strategies on one instrument."
)


class RouteConflict(Exception):
    """Another enabled route already trades this instrument on this account (the database's constraint)."""


@dataclass(frozen=True)
class NewSecret:
    route: Route
    secret: str  # shown once to the trader, then gone: only its salted hash is stored


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def record(route: Route, kind: str, *, actor: User | None, now: datetime, detail: str = "") -> RouteEvent:
    return RouteEvent.objects.create(route=route, kind=kind, actor=actor, at=now, detail=detail[:500])


def create_route(*, route: Route, actor: User, now: datetime) -> NewSecret:
    secret = new_secret()
    route.set_secret(secret)
    with transaction.atomic():
        route.save()
        record(
            route, RouteEvent.Kind.CREATED, actor=actor, now=now, detail=f"{route.symbol}, {route.sizing_mode} sizing"
        )
    return NewSecret(route=route, secret=secret)


def save_settings(*, route: Route, changed: list[str], actor: User, now: datetime) -> None:
    named = [name for name in changed if name in SETTINGS]
    with transaction.atomic():
        route.save()
        if named:
            record(route, RouteEvent.Kind.EDITED, actor=actor, now=now, detail="changed: " + ", ".join(named))


def set_enabled(*, route: Route, enabled: bool, actor: User | None, now: datetime, detail: str = "") -> bool:
    """Enable or pause. Returns False when nothing changed. Raises RouteConflict when enabling would make two
    enabled routes trade one instrument on one account (the database refuses it too)."""
    try:
        with transaction.atomic():
            changed = Route.objects.filter(pk=route.pk, enabled=not enabled).update(enabled=enabled, updated_at=now)
            if changed:
                kind = RouteEvent.Kind.ENABLED if enabled else RouteEvent.Kind.DISABLED
                record(route, kind, actor=actor, now=now, detail=detail)
    except IntegrityError:
        raise RouteConflict(CONFLICT) from None
    route.enabled = enabled
    return bool(changed)


def rotate_secret(*, route: Route, actor: User, now: datetime) -> NewSecret:
    """A new secret at once; alerts still carrying the old one are refused (`invalid_secret`) from now on."""
    secret = new_secret()
    route.set_secret(secret)
    with transaction.atomic():
        route.save()  # through the model, so whatever set_secret keeps besides the hash is written with it
        record(
            route,
            RouteEvent.Kind.SECRET_ROTATED,
            actor=actor,
            now=now,
            detail="the old secret stopped working; update the TradingView alert message",
        )
    return NewSecret(route=route, secret=secret)
