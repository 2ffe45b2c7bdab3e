"""How the support desk (the Django admin) shows values: times to the second in UTC, and decimals normalised.

Django's admin shows a datetime to the minute ("Dec. 4, 2026, 6:03 p.m.") and a DecimalField with all its stored
places ("0.100000000000"). Support answers "why didn't my trade happen at 18:03:12?" - so every admin of ours mixes
in `PlainValues`: each datetime and decimal column of its model (list columns, read-only fields, inlines) is shown
through these, still sortable by the column.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import models

TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
EMPTY = "-"


def when(moment: datetime | None) -> str:
    """2026-12-04 18:03:12 UTC. Fractions of a second are cut, never rounded up into the next second."""
    if moment is None:
        return EMPTY
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def number(value: Decimal | None) -> str:
    """0.100000000000 → 0.1, 60000.000000000000 → 60000, 1E+3 → 1000: exact, plain, no exponent."""
    if value is None:
        return EMPTY
    if not value.is_finite():
        return str(value)
    if not value:
        return "0"
    return format(value.normalize(), "f")


def _column(field: models.Field[Any, Any], show: Callable[[Any], str]) -> Callable[[Any, Any], str]:
    def display(obj: Any) -> str:
        return show(getattr(obj, field.attname))

    display.short_description = field.verbose_name  # type: ignore[attr-defined]
    display.admin_order_field = field.name  # type: ignore[attr-defined]
    return display


class PlainValues:
    """Mix into a ModelAdmin or an inline. Django's admin shows a model field through its own formatting, so each
    datetime and decimal field named in the list columns or shown read-only is swapped for a same-labelled display
    column of ours (`plain_<name>`), sortable by the field. Editable fields keep their form widgets; for someone who
    may only view (the support group) every field is read-only, so every one is swapped."""

    model: type[models.Model]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: dict[str, str] = {}
        for field in self.model._meta.concrete_fields:
            if isinstance(field, models.DateTimeField):
                show: Callable[[Any], str] = when
            elif isinstance(field, models.DecimalField):
                show = number
            else:
                continue
            alias = f"plain_{field.name}"
            setattr(self, alias, _column(field, show))
            self._plain[field.name] = alias

    def _swap(self, names: Any, only: set[str] | None = None) -> list[Any]:
        swapped = [
            self._plain.get(name, name) if isinstance(name, str) and (only is None or name in only) else name
            for name in names
        ]
        return list(dict.fromkeys(swapped))  # a field and its alias both listed: shown once

    def get_list_display(self, request: Any) -> Any:
        return self._swap(super().get_list_display(request))  # type: ignore[misc]

    def get_list_display_links(self, request: Any, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)  # type: ignore[misc]
        return None if links is None else self._swap(links)

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return self._swap(super().get_readonly_fields(request, obj))  # type: ignore[misc]

    def get_fields(self, request: Any, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)  # type: ignore[misc]
        if not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            return self._swap(fields)
        originals = {name for name, alias in self._plain.items() if alias in self.get_readonly_fields(request, obj)}
        originals |= {name for name in getattr(self, "readonly_fields", ()) if isinstance(name, str)}
        return self._swap(fields, only=originals)
