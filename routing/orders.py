"""Our orders: created before the exchange hears of them, changed only through the transition table, each change
recorded with its time and cause."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.models import Decision, Fill, LedgerEntry, Order, OrderEvent
from audit.order_states import OrderState, check_transition
from exchanges.base import Exchange, OrderAck, OrderRequest, OrderType, Side, TriggerSignal
from exchanges.errors import AmbiguousOutcome, ExchangeError, OrderRejected
from orderrail.statements import first_id, insert, update_where
from routing.crashpoints import crashpoint
from routing.lease import Lease
from routing.models import Route, RouteState


class SubmitRaced(Exception):
    """Another process claimed this placement attempt first; nothing was sent by us."""


CLIENT_ORDER_ID_LENGTH = 18  # the shortest limit of our transports: the Unified WebSocket's free-text cl_ord_id
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_client_order_id() -> str:
    """Minted before the row is written, so the id exists before anything can leave the process.

    `<installation prefix>-<random>`, 18 characters of [a-z0-9-] and the prefix's: the prefix (ORDER_ID_PREFIX)
    keeps two installations on one exchange account apart, and the random part (≥ 11 characters, ≥ 56 bits) keeps
    a restored database - whose primary keys start again from the backup - from ever minting the id of an order
    placed after the backup was taken (it would adopt a stranger's order). Uniqueness is also a database
    constraint. 18 characters fit Kraken Futures REST (100) and the Unified WebSocket (18).
    """
    prefix = settings.ORDER_ID_PREFIX
    size = CLIENT_ORDER_ID_LENGTH - len(prefix) - 1
    return f"{prefix}-{''.join(secrets.choice(_ID_ALPHABET) for _ in range(size))}"


def deadline(attempt_at: datetime) -> datetime:
    """The exchange must act on an attempt before this, or refuse it (Kraken's processBefore). A first attempt that
    is delayed in transit can therefore never land after its re-send, which only happens once the lookup window -
    longer than this - has passed: the re-send's safety does not rest on the venue refusing a reused client id."""
    return attempt_at + timedelta(seconds=settings.ORDER_DEADLINE_SECONDS)


def create_order(
    *,
    route: Route,
    decision: Decision | None,
    leg: int,
    request: OrderRequest,
    now: datetime,
    purpose: str = Order.Purpose.STRATEGY,
) -> Order:
    order = insert(
        Order(
            client_order_id=new_client_order_id(),
            route=route,
            decision=decision,
            leg=leg,
            purpose=purpose,
            symbol=request.symbol,
            side=request.side.value,
            order_type=request.order_type.value,
            size=request.size,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            trigger_signal=request.trigger_signal.value if request.trigger_signal else "",
            reduce_only=request.reduce_only,
            state=OrderState.PENDING_SUBMIT,
            created_at=now,
            updated_at=now,
        )
    )
    insert(OrderEvent(order=order, at=now, from_state="", to_state=OrderState.PENDING_SUBMIT, cause="created"))
    return order


def transition(order: Order, new_state: OrderState, *, cause: str, now: datetime, **fields: object) -> bool:
    """Move an order to `new_state` if it is still in the state we last saw. Returns False if someone else moved it."""
    check_transition(order.state, new_state)
    # No savepoint when a caller's transaction is open (record_ack's): the two statements commit or fail with it.
    with transaction.atomic(savepoint=False):
        moved = update_where(
            Order, {"id": order.pk, "state": order.state}, {"state": new_state, "updated_at": now, **fields}
        )
        if moved != 1:
            return False
        insert(OrderEvent(order=order, at=now, from_state=order.state, to_state=new_state, cause=cause[:300]))
    order.state = new_state
    for name, value in fields.items():
        setattr(order, name, value)
    return True


def request_for(order: Order, *, process_before: datetime | None = None) -> OrderRequest:
    assert order.client_order_id, "orders are created with their client order id"
    return OrderRequest(
        symbol=order.symbol,
        side=Side(order.side),
        size=order.size,
        order_type=OrderType(order.order_type),
        client_order_id=order.client_order_id,
        process_before=process_before,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        trigger_signal=TriggerSignal(order.trigger_signal) if order.trigger_signal else None,
        reduce_only=order.reduce_only,
    )


def submit(order: Order, exchange: Exchange, *, lease: Lease, clock: Callable[[], datetime] = timezone.now) -> OrderAck:
    """One placement attempt, made only while `lease` on the order's route is still ours. Raises what the exchange
    raised, after recording what it means for the order.

    The outcome is stamped with the time the answer arrived, not when the decision was made, so the order's
    history shows how long the exchange took."""
    attempt_at = clock()
    request = request_for(order, process_before=deadline(attempt_at))
    # Compare-and-set on the attempt counter, fenced by the route lease: of two processes that decided to send (a
    # sweeper and a restarted worker, say), exactly one wins, and a holder whose lease expired and was taken over
    # sends nothing at all.
    if _claim_attempt(order, lease, attempt_at) != 1:
        raise SubmitRaced(f"order {order.client_order_id} is being sent by another process (or the lease was lost)")
    order.submit_attempts += 1
    order.last_attempt_at = attempt_at
    crashpoint("before_send")
    try:
        ack = exchange.place_order(request)
        crashpoint("after_accept")
        now = clock()
    except OrderRejected as exc:
        now = clock()
        transition(
            order, OrderState.REJECTED, cause=f"exchange rejected: {exc.status}", now=now, venue_status=exc.status
        )
        raise
    except AmbiguousOutcome as exc:
        now = clock()
        transition(
            order,
            OrderState.UNKNOWN,
            cause=f"no clear answer ({exc.venue_code or type(exc).__name__}); look up by client order id",
            now=now,
            venue_status=(exc.venue_code or "")[:80],
        )
        raise
    except ExchangeError as exc:
        # Refused before it was acted on (our rate budget, a definitive "unavailable"): it was not placed.
        now = clock()
        transition(
            order,
            OrderState.REJECTED,
            cause=f"not sent: {type(exc).__name__} {exc.venue_code}",
            now=now,
            venue_status=(exc.venue_code or type(exc).__name__)[:80],
        )
        raise
    record_ack(order, ack, exchange_account_id=order.route.exchange_account_id, now=now)
    return ack


def _claim_attempt(order: Order, lease: Lease, attempt_at: datetime) -> int:
    """The attempt's compare-and-set, fenced: one plain UPDATE (the ORM's form of this join, built for every order,
    cost more than the round trip)."""
    orders = connection.ops.quote_name(Order._meta.db_table)
    states = connection.ops.quote_name(RouteState._meta.db_table)
    at = Order._meta.get_field("last_attempt_at").get_db_prep_save(attempt_at, connection)
    sql = (
        f"UPDATE {orders} SET submit_attempts = %s, last_attempt_at = %s "  # noqa: S608 - names from the models
        "WHERE id = %s AND state = %s AND submit_attempts = %s AND EXISTS ("
        f"SELECT 1 FROM {states} WHERE {states}.route_id = {orders}.route_id "
        f"AND {states}.lease_owner = %s AND {states}.lease_fence = %s)"
    )
    params = [order.submit_attempts + 1, at, order.pk, OrderState.PENDING_SUBMIT.value, order.submit_attempts]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, lease.owner, lease.fence])
        return cursor.rowcount


def record_ack(order: Order, ack: OrderAck, *, exchange_account_id: int | None, now: datetime) -> None:
    filled = ack.filled_size
    # Kraken's reducedQuantity is not documented precisely enough to size against; a shrunk reduce-only order
    # reads as partially filled here and the lookup in reconciliation settles it.
    size = order.size
    if filled >= size:
        state = OrderState.FILLED
    elif filled > 0:
        state = OrderState.PARTIALLY_FILLED
    else:
        state = OrderState.OPEN
    average = sum((f.size * f.price for f in ack.fills), Decimal(0)) / filled if filled else None
    # The fills and the state change commit together, fills first: no reader ever sees a filled order whose fills
    # are missing (reconciliation would take that gap for position drift).
    with transaction.atomic():
        if exchange_account_id is not None and ack.fills:
            # One statement; a fill reconciliation imported first keeps its row (the unique constraint decides).
            Fill.objects.bulk_create(
                [
                    Fill(
                        exchange_account_id=exchange_account_id,
                        fill_id=f.fill_id,
                        order=order,
                        route_id=order.route_id,
                        exchange_order_id=f.exchange_order_id,
                        client_order_id=f.client_order_id or "",
                        symbol=f.symbol,
                        side=f.side.value,
                        size=f.size,
                        price=f.price,
                        liquidity=f.liquidity.value,
                        filled_at=f.time,
                    )
                    for f in ack.fills
                ],
                ignore_conflicts=True,
            )
        if exchange_account_id is not None and ack.fills:
            attach_fees(exchange_account_id, [f.fill_id for f in ack.fills])
        transition(
            order,
            state,
            cause=f"exchange accepted ({ack.status}), filled {filled} of {size}",
            now=now,
            exchange_order_id=ack.exchange_order_id,
            venue_status=ack.status[:80],
            filled_size=filled,
            average_fill_price=average,
        )


def attach_fees(exchange_account_id: int, execution_ids: list[str]) -> None:
    """A fill's fee and realised P&L are the sums of the account-log rows of its execution (a trade writes several:
    the cash leg with the fee, the position leg with the P&L). Called whenever either side arrives - the fill or a
    log row - so whichever comes second completes the pair: a log row seen before its fill never loses its money."""
    if not execution_ids:
        return
    # Usually the fill comes first (at the order's answer) and its log rows later: one plain look saves building the
    # sums when there is nothing to sum.
    if (
        first_id(LedgerEntry, {"exchange_account_id": exchange_account_id, "execution_id__in": tuple(execution_ids)})
        is None
    ):
        return
    sums = (
        LedgerEntry.objects.filter(exchange_account_id=exchange_account_id, execution_id__in=execution_ids)
        .values("execution_id")
        .annotate(fee=Sum("fee"), pnl=Sum("realized_pnl"))
    )
    for row in sums:
        Fill.objects.filter(exchange_account_id=exchange_account_id, fill_id=row["execution_id"]).update(
            fee=row["fee"], realized_pnl=row["pnl"]
        )


def abandon_pending(legs: list[Order], *, cause: str, now: datetime) -> None:
    """Later legs of a decision whose earlier leg failed are never sent; they were never placed, so they end
    rejected by us, with the cause on record."""
    for order in legs:
        if order.state == OrderState.PENDING_SUBMIT:
            transition(order, OrderState.REJECTED, cause=f"not sent: {cause}", now=now, venue_status="not_sent")
