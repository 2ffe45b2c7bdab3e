"""A new row in one INSERT … RETURNING, its SQL built once per model instead of on every save.

`Model.save()` compiles its INSERT afresh each time: on the webhook and in the engine that compile was a quarter of
the CPU an alert costs (bench/README.md). The rows written on those hot paths go through `insert()` instead: the
same statement Django would send, with each value prepared by its own field (`pre_save`, `get_db_prep_save`, so
JSON, datetimes and IP addresses are written exactly as the ORM writes them), and the same errors (the unique
constraints still raise IntegrityError). Only for models without save() overrides or save signals: nothing here
calls them.
"""

from __future__ import annotations

from functools import cache
from typing import TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


@cache
def _statement(model: type[Model], vendor: str, returning: bool) -> tuple[str, tuple[Field, ...]]:
    # Keyed by vendor too: the tests run SQLite and PostgreSQL in turn, and quoting is the connection's.
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608 - names from the model
    if returning:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, fields


def insert(obj: M) -> M:
    """Write `obj` (new, its primary key unset) as a new row; returns it saved, its primary key set."""
    returning = connection.features.can_return_columns_from_insert
    sql, fields = _statement(type(obj), connection.vendor, returning)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
