"""orderrail/statements.py writes and finds rows exactly as the ORM would - the same stored values, read back by the
ORM, and the same errors - on SQLite and PostgreSQL (make test runs both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from audit.models import Alert, Decision, Order
from audit.order_states import OrderState
from orderrail.statements import first_id, insert, insert_pair, statement_scope, update_where

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 4, 21, 0, 0, 123456, tzinfo=UTC)


def _order(route, **fields) -> Order:
    values = {
        "route": route,
        "client_order_id": "st-0000000000001",
        "symbol": "PF_XBTUSD",
        "side": "buy",
        "order_type": "mkt",
        "size": Decimal("0.0012"),
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Order(**values)


def test_an_inserted_row_reads_back_through_the_orm_exactly_as_saved(make_route):
    route = make_route()
    body = {"action": "buy", "comment": "naïve ✓", "nested": {"n": [1, "2"]}}
    alert = insert(
        Alert(
            route_id=route.pk,
            received_at=T0,
            status=Alert.Status.QUEUED,
            body=body,
            remote_ip="2001:db8::1",
            fired_at=T0 - timedelta(seconds=1),
            dedupe_key="k1",
            intent={"size": "0.001"},
        )
    )
    assert alert.pk is not None and not alert._state.adding
    stored = Alert.objects.get(pk=alert.pk)
    assert stored.body == body and stored.intent == {"size": "0.001"}
    assert (stored.received_at, stored.fired_at) == (T0, T0 - timedelta(seconds=1))
    assert (stored.remote_ip, stored.duplicates, stored.raw_excerpt) == ("2001:db8::1", 0, "")
    # Another zone's clock reads back as the same instant (PostgreSQL takes an aware datetime as it is).
    from zoneinfo import ZoneInfo

    paris = T0.astimezone(ZoneInfo("Europe/Paris"))
    order = insert(_order(route, stop_price=Decimal("61234.5"), created_at=paris, leg=True))
    again = Order.objects.get(pk=order.pk)
    assert (again.size, again.stop_price, again.limit_price) == (Decimal("0.0012"), Decimal("61234.5"), None)
    assert (again.state, again.filled_size, again.reduce_only) == (OrderState.PENDING_SUBMIT, Decimal(0), False)
    assert again.created_at == T0 and again.leg == 1  # a bool given for a number is stored as the ORM stores it


def test_a_unique_constraint_still_refuses_a_second_row(make_route):
    route = make_route()
    insert(_order(route))
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(_order(route))
    assert Order.objects.count() == 1


def test_update_where_is_a_compare_and_set(make_route):
    route = make_route()
    order = insert(_order(route))
    later = T0 + timedelta(seconds=2)
    changes = {"state": OrderState.FILLED, "updated_at": later, "filled_size": Decimal("0.0012")}
    assert update_where(Order, {"id": order.pk, "state": OrderState.PENDING_SUBMIT}, changes) == 1
    # Seen in a state it is no longer in: nothing changes.
    assert update_where(Order, {"id": order.pk, "state": OrderState.PENDING_SUBMIT}, {"state": "rejected"}) == 0
    order.refresh_from_db()
    assert (order.state, order.updated_at, order.filled_size) == (OrderState.FILLED, later, Decimal("0.0012"))
    assert update_where(Order, {"route_id": route.pk, "state__in": (OrderState.FILLED, OrderState.OPEN)}, {"leg": 3})
    order.refresh_from_db()
    assert order.leg == 3


def test_first_id_follows_the_conditions_and_the_order(make_route):
    route = make_route()
    older = insert(_order(route, client_order_id="st-a", created_at=T0, state=OrderState.UNKNOWN))
    newer = insert(_order(route, client_order_id="st-b", created_at=T0 + timedelta(seconds=1)))
    insert(_order(route, client_order_id="st-c", state=OrderState.FILLED))
    in_flight = {"route_id": route.pk, "state__in": (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN)}
    assert first_id(Order, in_flight, ("created_at", "id")) == older.pk
    assert first_id(Order, {**in_flight, "state__in": (OrderState.PENDING_SUBMIT,)}) == newer.pk
    assert first_id(Order, {"route_id": route.pk, "state": OrderState.CANCELLED}) is None


def test_by_pk_returns_what_get_returns_with_its_related_rows(make_route):
    """The alert as the engine reads it: ByPk's one compiled SELECT gives the same objects, related rows included,
    as the ORM's .get() - and None for a missing key."""
    from orderrail.statements import ByPk

    route = make_route()
    alert = insert(
        Alert(
            route_id=route.pk,
            received_at=T0,
            status=Alert.Status.QUEUED,
            body={"a": 1},
            fired_at=T0,
            dedupe_key="bypk",
            intent={"size": "0.001"},
        )
    )
    by_pk = ByPk(
        lambda pk: Alert.objects.select_related("route", "route__exchange_account", "route__engine").filter(pk=pk)
    )
    got = by_pk(alert.pk)
    want = Alert.objects.select_related("route", "route__exchange_account", "route__engine").get(pk=alert.pk)
    assert got is not None and got.pk == alert.pk
    assert (got.body, got.intent, got.received_at) == (want.body, want.intent, want.received_at)
    assert got.route.config() == want.route.config()
    assert got.route.exchange_account.credentials() == want.route.exchange_account.credentials()
    assert got.route.engine.lease_fence == want.route.engine.lease_fence
    assert by_pk(alert.pk + 1000) is None


def test_the_engine_reads_routes_without_decrypting_their_secrets(make_route):
    """The decision's and the stop upkeep's reads leave every encrypted column unread (deferred), and what they do
    read is what .get() reads; the key is still there for the adapter's own query."""
    from accounts.models import SECRET_FIELDS
    from routing import pipeline

    route = make_route()
    alert = insert(
        Alert(route_id=route.pk, received_at=T0, status=Alert.Status.QUEUED, body={}, fired_at=T0, dedupe_key="d")
    )
    decided = pipeline._alert_to_decide.get(alert.pk).route
    upkept = pipeline._route_of_stop.get(route.pk)
    for got in (decided, upkept):
        assert "secret_sealed" in got.get_deferred_fields()
        assert set(SECRET_FIELDS) <= got.exchange_account.get_deferred_fields()
        assert got.config() == route.config()
        assert got.exchange_account.label == route.exchange_account.label
        assert got.exchange_account.credentials() == route.exchange_account.credentials()


def _rejected(route) -> Alert:
    return Alert(route_id=route.pk, received_at=T0, status=Alert.Status.REJECTED, reject_reason="invalid_secret")


def _reject_decision(route, **fields) -> Decision:
    values = {"route_id": route.pk, "created_at": T0, "action": Decision.Action.REJECT, "reason": "invalid_secret"}
    values.update(fields)
    return Decision(**values)


def test_insert_pair_writes_both_rows_linked(make_route):
    route = make_route()
    alert = insert_pair(_rejected(route), _reject_decision(route, message="secret does not match"), "alert")
    decision = Decision.objects.select_related("alert").get(alert_id=alert.pk)
    assert decision.alert.status == Alert.Status.REJECTED and decision.message == "secret does not match"
    assert alert.decision.pk == decision.pk  # the caller's objects carry both keys and the link
    assert not alert._state.adding and not alert.decision._state.adding


def test_insert_pair_writes_neither_row_when_the_second_is_refused(make_route):
    route = make_route()
    first = insert_pair(_rejected(route), _reject_decision(route), "alert")
    # The decision is refused (its reason is NOT NULL, checked as the statement runs, on both databases): the alert
    # written with it must not stay behind without its decision.
    broken = _reject_decision(route)
    broken.reason = None
    with pytest.raises(IntegrityError):
        insert_pair(_rejected(route), broken, "alert")
    assert list(Alert.objects.values_list("pk", flat=True)) == [first.pk]
    assert Decision.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no notifications")
def test_insert_with_notify_tells_listeners_when_the_row_commits_and_never_for_a_refused_row(make_route):
    import psycopg

    route = make_route()
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        autocommit=True,
    ) as listener:
        listener.execute("LISTEN statements_test")

        def heard() -> int:
            return sum(1 for _ in listener.notifies(timeout=0.5))

        row = Alert(route_id=route.pk, received_at=T0, status=Alert.Status.QUEUED, dedupe_key="n1")
        with statement_scope():
            insert(row, notify="statements_test")
        assert heard() == 1
        with pytest.raises(IntegrityError), statement_scope():  # the same dedupe key: refused, so nothing is told
            insert(
                Alert(route_id=route.pk, received_at=T0, status=Alert.Status.QUEUED, dedupe_key="n1"),
                notify="statements_test",
            )
        assert heard() == 0
        with transaction.atomic():  # inside a transaction: told at its commit, not before
            insert(
                Alert(route_id=route.pk, received_at=T0, status=Alert.Status.QUEUED, dedupe_key="n2"),
                notify="statements_test",
            )
            assert heard() == 0
        assert heard() == 1
