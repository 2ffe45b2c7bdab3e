"""The hot path's statements, their SQL built once per shape instead of on every call.

`Model.save()`, `QuerySet.update()` and `.get()` build their SQL afresh each time: on the webhook and in the engine
that building was a third of the CPU an alert costs (issue 11's profile), more than running the statements. The
rows written and read on those paths go through here instead: the same statements Django would send, each value
prepared by its own field (`pre_save`, `get_db_prep_save`, so JSON, datetimes, decimals and IP addresses are written
exactly as the ORM writes them), and the same errors (a unique constraint still raises IntegrityError). Only for
models without save() overrides or save signals: nothing here calls them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.options import Options
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)


# Fields whose stored value is the Python value itself when it already has the right type: for these the ORM's
# preparation (to_python, get_prep_value, the backend's adapt_*) returns its input, so it is skipped for such values
# (a tenth of the webhook's CPU); anything else - another type, and every other field class - takes the field's own.
_AS_IS: dict[type[Field], tuple[type, ...]] = {
    models.BooleanField: (bool,),
    models.IntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.BigIntegerField: (int,),
}


def _preparer(field: Field, vendor: str) -> Callable[[Model], object]:
    attname = field.attname
    slow = field.get_db_prep_save

    def prepared(obj: Model) -> object:
        return slow(field.pre_save(obj, True), connection)

    if type(field) in (models.CharField, models.TextField):
        # CharField.to_python hands any str back unchanged - choices' members included, as the ORM sends them.
        def text(obj: Model) -> object:
            value = obj.__dict__.get(attname)
            return value if value is None or isinstance(value, str) else prepared(obj)

        return text
    if type(field) is models.DateTimeField and not (field.auto_now or field.auto_now_add) and vendor == "postgresql":
        # PostgreSQL's adapt_datetimefield_value returns an aware datetime unchanged (SQLite's formats it).
        def moment(obj: Model) -> object:
            value = obj.__dict__.get(attname)
            return value if value is None or (type(value) is datetime and value.tzinfo is not None) else prepared(obj)

        return moment
    kinds = _AS_IS.get(type(field))
    if kinds is None and isinstance(field, models.ForeignKey):
        kinds = _AS_IS.get(type(field.target_field)) or (
            (int,) if isinstance(field.target_field, models.AutoField | models.BigAutoField) else None
        )
    if kinds is None:
        return prepared

    def as_is(obj: Model) -> object:
        value = obj.__dict__.get(attname)
        # type() is, not isinstance: a bool is an int.
        return value if value is None or type(value) in kinds else prepared(obj)

    return as_is


@cache
def _insert_sql(
    model: type[Model], vendor: str, returning: bool, notify: bool = False
) -> tuple[str, tuple[Callable[[Model], object], ...]]:
    # Keyed by vendor too: the tests run SQLite and PostgreSQL in turn, and quoting is the connection's.
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608 - names from the model
    if returning:
        sql += f" RETURNING {quote(meta.pk.column)}"
        if notify:
            sql += ", pg_notify(%s, '')"
    return sql, tuple(_preparer(f, vendor) for f in fields)


def insert(obj: M, *, notify: str | None = None) -> M:
    """Write `obj` (new, its primary key unset) as a new row; returns it saved, its primary key set.

    `notify`: a channel to tell when the row commits. On PostgreSQL the statement itself carries it (pg_notify in
    its RETURNING, delivered at commit like NOTIFY, and not at all on rollback), so a row and its wake-up cost one
    round trip; databases without notifications ignore it (their readers poll)."""
    returning = connection.features.can_return_columns_from_insert
    notify = notify if connection.vendor == "postgresql" else None
    sql, preparers = _insert_sql(type(obj), connection.vendor, returning, notify is not None)
    params = [prepare(obj) for prepare in preparers]
    if notify is not None:
        params.append(notify)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    return _saved(obj, pk)


def _saved(obj: M, pk: object) -> M:
    """Mark `obj` as the row just written, as `Model.save()` leaves it."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


@cache
def _pair_sql(
    parent: type[Model], child: type[Model], link: str, vendor: str
) -> tuple[str, tuple[Callable[[Model], object], ...], tuple[Callable[[Model], object], ...]]:
    quote = connection.ops.quote_name
    parent_sql, parent_preparers = _insert_sql(parent, vendor, True)  # INSERT … RETURNING its primary key
    meta = child._meta
    link_field = meta.get_field(link)
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key and f is not link_field)
    columns = ", ".join([quote(link_field.column)] + [quote(f.column) for f in fields])
    marks = ", ".join(["%s"] * len(fields))
    sql = (
        f"WITH parent AS ({parent_sql}) "  # noqa: S608 - names from the models
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        f"VALUES ((SELECT {quote(parent._meta.pk.column)} FROM parent), {marks}) "
        f"RETURNING {quote(link_field.column)}, {quote(meta.pk.column)}"
    )
    return sql, parent_preparers, tuple(_preparer(f, vendor) for f in fields)


def insert_pair(parent: M, child: Model, link: str) -> M:
    """Write `parent` and `child` - whose foreign key `link` is to point at `parent` - as new rows, both or neither;
    returns `parent` saved, and sets both primary keys and the link.

    On PostgreSQL one statement (an INSERT inside a WITH), its own transaction: one round trip where BEGIN, two
    INSERTs and COMMIT took four. Elsewhere the two INSERTs in a transaction."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            insert(parent)
            setattr(child, link, parent)
            insert(child)
        return parent
    sql, p_preparers, c_preparers = _pair_sql(type(parent), type(child), link, connection.vendor)
    params = [prepare(parent) for prepare in p_preparers] + [prepare(child) for prepare in c_preparers]
    with statement_scope(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        parent_pk, child_pk = cursor.fetchone()
    _saved(child, child_pk)
    setattr(child, link, _saved(parent, parent_pk))
    return parent


@contextmanager
def statement_scope() -> Iterator[None]:
    """Around a statement that is a transaction of its own: nothing at the top level (autocommit commits it - no
    BEGIN and COMMIT round trips), a savepoint inside a caller's transaction (a test's, or a larger unit of work), so
    that its failure - a unique constraint firing - leaves the outer transaction usable."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


Where = Mapping[str, object]
# What a `name__in` condition takes: its values, expanded into one placeholder each.
_VALUES = tuple | list | frozenset | set


def _shape(where: Where) -> tuple[tuple[str, int | None], ...]:
    """The SQL's shape: each condition's name, and for `name__in` how many values it lists."""
    shape = []
    for name, value in where.items():
        if name.endswith("__in"):
            assert isinstance(value, _VALUES) and value, f"{name} needs values"
            shape.append((name, len(value)))
        else:
            assert value is not None, f"{name}: SQL's = never matches NULL"
            shape.append((name, None))
    return tuple(shape)


def _conditions(meta: Options, shape: tuple[tuple[str, int | None], ...]) -> tuple[str, tuple[Field, ...]]:
    quote = connection.ops.quote_name
    parts, fields = [], []
    for name, count in shape:
        field = meta.get_field(name.removesuffix("__in"))
        if count is None:
            parts.append(f"{quote(field.column)} = %s")
            fields.append(field)
        else:
            parts.append(f"{quote(field.column)} IN ({', '.join(['%s'] * count)})")
            fields.extend([field] * count)
    return " AND ".join(parts), tuple(fields)


def _where_params(fields: tuple[Field, ...], where: Where) -> list[object]:
    values = [v for value in where.values() for v in (value if isinstance(value, _VALUES) else (value,))]
    return [f.get_db_prep_value(v, connection) for f, v in zip(fields, values, strict=True)]


@cache
def _update_sql(
    model: type[Model], vendor: str, sets: tuple[str, ...], shape: tuple[tuple[str, int | None], ...]
) -> tuple[str, tuple[Field, ...], tuple[Field, ...]]:
    meta = model._meta
    quote = connection.ops.quote_name
    set_fields = tuple(meta.get_field(name) for name in sets)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in set_fields)
    conditions, where_fields = _conditions(meta, shape)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {conditions}"  # noqa: S608 - names from the model
    return sql, set_fields, where_fields


def update_where(model: type[Model], where: Where, values: Mapping[str, object]) -> int:
    """`UPDATE … SET values WHERE every condition holds` - a compare-and-set when `where` holds the state the caller
    last saw. Returns the number of rows changed. Names are field names (`route`, `state`) or attnames (`route_id`);
    `name__in` takes a tuple of values; no condition is None (SQL's = never matches NULL)."""
    assert where and values
    sql, set_fields, where_fields = _update_sql(model, connection.vendor, tuple(values), _shape(where))
    params = [f.get_db_prep_save(v, connection) for f, v in zip(set_fields, values.values(), strict=True)]
    params += _where_params(where_fields, where)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@cache
def _first_id_sql(
    model: type[Model], vendor: str, shape: tuple[tuple[str, int | None], ...], order_by: tuple[str, ...]
) -> tuple[str, tuple[Field, ...]]:
    meta = model._meta
    quote = connection.ops.quote_name
    conditions, where_fields = _conditions(meta, shape)
    sql = f"SELECT {quote(meta.pk.column)} FROM {quote(meta.db_table)} WHERE {conditions}"  # noqa: S608 - names from the model
    if order_by:
        sql += " ORDER BY " + ", ".join(quote(meta.get_field(name).column) for name in order_by)
    return sql + " LIMIT 1", where_fields


def first_id(model: type[Model], where: Where, order_by: tuple[str, ...] = ()) -> int | None:
    """The primary key of the first row (by `order_by`, ascending) where every condition holds; None when none does.
    Conditions as for `update_where`."""
    sql, where_fields = _first_id_sql(model, connection.vendor, _shape(where), order_by)
    with connection.cursor() as cursor:
        cursor.execute(sql, _where_params(where_fields, where))
        row = cursor.fetchone()
    return None if row is None else int(row[0])


class ByPk(Generic[M]):
    """One row by primary key, with the rows `select_related` joins to it, its SELECT built once.

    `ByPk(lambda pk: Alert.objects.select_related("route").filter(pk=pk))` compiles the queryset once (per
    connection) and then only runs it: the engine reads an alert with its route, account and route state for every
    decision, and compiling that four-table SELECT cost more than running it. The rows are built as Django's own
    ModelIterable builds them (the same converters, `from_db` and related populators), so what comes back is what
    `.get()` returns."""

    def __init__(self, queryset: Callable[[int], QuerySet[M]]) -> None:
        self._queryset = queryset
        # Per connection (each thread has its own): the compiler's converters are bound to the connection it
        # compiled for, and the tests switch databases between runs.
        self._compiled: weakref.WeakKeyDictionary[Any, tuple[str, Any, list[Any], list[str], int, int, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def _compile(self) -> tuple[str, Any, list[Any], list[str], int, int, Any]:
        wrapper = connections[DEFAULT_DB_ALIAS]
        compiled = self._compiled.get(wrapper)
        if compiled is None:
            probe = 2_147_483_000  # any integer: it becomes the statement's one parameter
            compiler = self._queryset(probe).query.get_compiler(connection=wrapper)
            sql, params = compiler.as_sql()
            assert list(params) == [probe], "ByPk needs a queryset whose only parameter is the primary key"
            select, klass_info = compiler.select, compiler.klass_info
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            init_list = [column[0].target.attname for column in select[start:end]]
            compiled = (
                sql,
                compiler.get_converters([column[0] for column in select]),
                get_related_populators(klass_info, select, connection.alias),
                init_list,
                start,
                end,
                klass_info["model"],
            )
            self._compiled[wrapper] = compiled
        return compiled

    def get(self, pk: int) -> M:
        """As `.get()`: the row, or the model's DoesNotExist."""
        obj = self(pk)
        if obj is None:
            raise self._compile()[-1].DoesNotExist(f"no row with primary key {pk}")
        return obj

    def __call__(self, pk: int) -> M | None:
        sql, converters, populators, init_list, start, end, model = self._compile()
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            rows = cursor.fetchall()
        if not rows:
            return None
        (row,) = rows
        if converters:  # as SQLCompiler.apply_converters does, for the one row
            row = list(row)
            for pos, (convs, expression) in converters.items():
                value = row[pos]
                for converter in convs:
                    value = converter(value, expression, connection)
                row[pos] = value
        obj = model.from_db(connection.alias, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        return obj
