"""A paper account's book: load the simulation engine from the database, bring it to the current marks, act, and
save - one transaction per operation, under the account row's lock.

How an operation runs:

1. Marks are read first (``exchanges.paper.market``, cached for a few seconds per process), before any lock is
   taken: no network call ever happens while the row is locked.
2. The account row is loaded: ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction itself takes the
   write lock at BEGIN (``transaction_mode: IMMEDIATE`` in settings). Two workers on one paper account therefore
   run one after the other, each on the other's result.
3. The marks are applied to every symbol the account uses: resting stops whose trigger the mark crossed fire and
   fill at that mark, crossed limits fill - "whenever the account is touched". A mark older than the one the book
   already holds is not applied (another process read later than we did). If a symbol in use has no mark, the
   operation fails with ``Unavailable``: a paper fill or an equity figure at a guessed price would be a lie.
4. The operation runs on the engine; what finished (orders, fills, account-log rows) moves to the append-only
   tables, and the snapshot is written back with ``version = version + 1`` only where the version is still the one
   loaded - a compare-and-set on top of the lock, so a lost update cannot happen even if a lock were not honoured
   (the operation is then redone from the start; nothing of it was committed).

Reads that find nothing for the marks to do are answered from an unlocked load and write nothing; when the marks
did move something (a stop triggered), the read is redone as a write so the fill is saved before anyone sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, transaction

from accounts.models import ExchangeAccount
from exchanges.errors import AmbiguousOutcome, ExchangeError, Unavailable
from exchanges.paper.market import CachedMarket, MarketView
from exchanges.paper.models import PaperAccount, PaperFill, PaperLedgerRow, PaperOrder, new_uid
from exchanges.sim import codec
from exchanges.sim.engine import SimEngine
from exchanges.sim.model import EngineConfig, EngineState, LedgerRow, SimEvent, SimFill, SimOrder
from exchanges.sim.vocabulary import SimOrderState

log = logging.getLogger(__name__)

T = TypeVar("T")
ZERO = Decimal(0)
# The account-log words of paper-only money movements (Kraken's own words are used for trades).
FUNDING = "paper funding"
RESET = "paper reset"
SAVE_ATTEMPTS = 3


class PaperRefused(Exception):
    """An operation on a paper account refused, with a sentence a trader can read. Nothing was changed."""


class _Conflict(Exception):
    """The row's version moved under us: redo the operation from the start."""


def engine_config(uid: str) -> EngineConfig:
    # Kraken's published base fees (maker 0.02 %, taker 0.05 %), fills at the mark; ids seeded per paper account.
    return EngineConfig(id_seed=f"paper:{uid}")


@dataclass
class Session:
    """One operation's view of the book: the locked (or freshly read) row, its engine and the operation's time."""

    row: PaperAccount
    engine: SimEngine
    now: datetime
    events: list[SimEvent] = field(default_factory=list)

    @property
    def uid(self) -> str:
        return self.row.uid

    def archived_order(self, *, order_id: str | None = None, client_order_id: str | None = None) -> SimOrder | None:
        """A finished order from the archive: by exchange id, or by client id (the accepted one first, then the
        latest rejected attempt - the engine's own rule for live orders)."""
        rows = PaperOrder.objects.filter(paper_id=self.row.pk)
        if order_id is not None:
            rows = rows.filter(order_id=order_id)
        elif client_order_id:
            rows = rows.filter(client_order_id=client_order_id)
        else:
            return None
        data = rows.order_by("-accepted", "-seq").values_list("data", flat=True).first()
        return codec.from_dict(SimOrder, data) if data is not None else None

    def client_order_id_taken(self, client_order_id: str) -> bool:
        """An accepted order - live or finished - carried this id: Kraken calls client ids "globally unique"."""
        if client_order_id in self.engine.state.accounts[self.uid].client_order_ids:
            return True
        return PaperOrder.objects.filter(paper_id=self.row.pk, client_order_id=client_order_id, accepted=True).exists()

    def fills_since(self, since: datetime) -> list[SimFill]:
        stored = PaperFill.objects.filter(paper_id=self.row.pk, time__gte=since).order_by("time", "fill_id")
        found = [codec.from_dict(SimFill, data) for data in stored.values_list("data", flat=True)]
        found += [f for f in self.engine.state.fills if f.time >= since]  # not yet archived (inside a write)
        return sorted(found, key=lambda f: (f.time, f.fill_id))

    def ledger_since(self, since: datetime) -> list[LedgerRow]:
        rows = []
        for pk, data in (
            PaperLedgerRow.objects.filter(paper_id=self.row.pk, time__gte=since)
            .order_by("time", "pk")
            .values_list("pk", "data")
        ):
            row = codec.from_dict(LedgerRow, data)
            row.id = pk  # the archive's key is the entry id: ascending and never reused
            rows.append(row)
        return rows


class PaperBook:
    """Operations on one paper account (the ``ExchangeAccount`` with this primary key)."""

    def __init__(
        self,
        account_pk: int,
        market: CachedMarket | None,
        *,
        clock: Callable[[], datetime],
        default_balance: Decimal = ZERO,
    ) -> None:
        self.account_pk = account_pk
        self.market = market
        self.clock = clock
        self.default_balance = default_balance

    # -- the two ways in -----------------------------------------------------------------------------------------

    def read(self, query: Callable[[Session], T]) -> T:
        """Answer ``query`` from the current book. Marks are applied first; if they moved anything, that is saved
        (under the lock) before the answer is given."""
        try:
            now = self.clock()
            row = self._row()
            engine = load_engine(row)
            in_use = symbols_in_use(engine, row.uid)
            view = self._view() if in_use else None
            events = apply_market(engine, row.uid, view, now=now, strict=True)
            if not events:
                return query(Session(row, engine, now))
        except (ExchangeError, PaperRefused):
            raise
        except DatabaseError as exc:
            raise Unavailable(f"paper book: database error {type(exc).__name__}", venue_code="paperDatabase") from None
        return self.write(lambda session: None, then=query)

    def write(
        self,
        action: Callable[[Session], T],
        *,
        then: Callable[[Session], Any] | None = None,
        symbols: Iterable[str] = (),
        order_call: bool = False,
        strict: bool = True,
    ) -> Any:
        """Run ``action`` on the locked book and save it; returns ``then(session)`` (after the save) if given, else
        what ``action`` returned. ``symbols`` are priced besides those in use (the one an order is for).

        ``strict``: a mark that cannot be read fails the operation (Unavailable). Funding passes False: it needs no
        price, so it applies the marks it can get and goes ahead without the others.
        """
        wanted = {s.upper() for s in symbols}
        # Read the marks before taking the lock. A failure is kept: it only matters if the book needs a price.
        view: MarketView | None = None
        failure: ExchangeError | None = None
        if self.market is not None:
            try:
                view = self.market.view()
            except ExchangeError as exc:
                failure = exc
        for _attempt in range(SAVE_ATTEMPTS):
            committing = False
            try:
                with transaction.atomic():
                    row = self._row(lock=True)
                    now = self.clock()  # after the lock: the moment the book acts (process_before is judged by it)
                    engine = load_engine(row)
                    needed = symbols_in_use(engine, row.uid) | wanted
                    if strict and needed and view is None:
                        raise failure or Unavailable("no market data for a paper account", venue_code="noMarket")
                    session = Session(row, engine, now)
                    session.events = apply_market(engine, row.uid, view, now=now, strict=strict, extra=wanted)
                    result = action(session)
                    save(row, engine, now)
                    if then is not None:
                        result = then(session)
                    committing = True
                return result
            except _Conflict:
                log.warning("paper account %s: version moved under an operation; redoing it", self.account_pk)
                continue
            except (ExchangeError, PaperRefused):
                raise
            except DatabaseError as exc:
                if committing and order_call:
                    # The commit itself failed: we cannot tell whether the order is in the book. Look it up.
                    raise AmbiguousOutcome(
                        f"paper book: commit failed ({type(exc).__name__})", venue_code="paperCommitUnknown"
                    ) from None
                raise Unavailable(
                    f"paper book: database error {type(exc).__name__}", venue_code="paperDatabase"
                ) from None
        raise Unavailable("paper book: too many concurrent updates, try again", venue_code="paperBusy")

    def touch(self) -> int:
        """Apply the current marks (stops trigger, crossed limits fill) and save what they did; returns how many
        engine events that was. Writes nothing when the marks moved nothing."""
        return self.read(lambda session: len(session.events))

    # -- loading ------------------------------------------------------------------------------------------------

    def _view(self) -> MarketView:
        if self.market is None:
            raise Unavailable("no market data for a paper account", venue_code="noMarket")
        return self.market.view()

    def _row(self, *, lock: bool = False) -> PaperAccount:
        rows = PaperAccount.objects.select_for_update() if lock else PaperAccount.objects
        row = rows.filter(pk=self.account_pk).first()
        if row is not None:
            return row
        # Created on first use: an exchange account switched to paper mode gets a book with the default balance.
        if not ExchangeAccount.objects.filter(pk=self.account_pk, mode=ExchangeAccount.Mode.PAPER).exists():
            raise Unavailable(f"exchange account {self.account_pk} is not a paper account", venue_code="notPaper")
        open_book(self.account_pk, self.default_balance, now=self.clock())
        return rows.get(pk=self.account_pk)


# -- the snapshot --------------------------------------------------------------------------------------------------


def open_book(account_pk: int, balance: Decimal, *, now: datetime) -> PaperAccount | None:
    """Create the paper book of a paper exchange account, funded with ``balance``. None if it exists already."""
    uid = new_uid()
    engine = SimEngine(engine_config(uid))
    engine.add_account(uid, ZERO, now=now)
    try:
        with transaction.atomic():
            row = PaperAccount.objects.create(
                account_id=account_pk, uid=uid, state={}, starting_balance=balance, created_at=now, updated_at=now
            )
            if balance:
                engine.fund(uid, balance, now=now, info=FUNDING)
            save(row, engine, now)
    except IntegrityError:
        return None  # another process created it first; theirs stands
    return row


def load_engine(row: PaperAccount) -> SimEngine:
    state = codec.from_dict(EngineState, dict(row.state))
    state.config = engine_config(row.uid)
    return SimEngine(state=state)


def symbols_in_use(engine: SimEngine, uid: str) -> set[str]:
    """Symbols whose price matters to the book: held positions and resting orders."""
    held = {p.symbol for p in engine.positions(uid)}
    return held | {o.symbol for o in engine.open_orders(uid)}


def apply_market(
    engine: SimEngine,
    uid: str,
    view: MarketView | None,
    *,
    now: datetime,
    strict: bool,
    extra: Iterable[str] = (),
) -> list[SimEvent]:
    """Bring the book to the marks in ``view`` for the symbols in use (and ``extra``); returns what that did."""
    in_use = symbols_in_use(engine, uid)
    wanted = in_use | set(extra)
    if view is None:
        if strict and wanted:
            raise Unavailable("no market data for a paper account", venue_code="noMarket")
        return []
    events: list[SimEvent] = []
    for symbol in sorted(wanted):
        spec = view.spec(symbol)
        ticker = view.tickers.get(symbol)
        mark = ticker.mark_price if ticker is not None else None
        if spec is None or ticker is None or mark is None or not (mark.is_finite() and mark > 0):
            # Listed but without a usable mark, or held: no price to act at. Not listed at all and only asked for
            # (an order on it): the engine refuses it as an unknown market.
            if strict and (symbol in in_use or spec is not None):
                raise Unavailable(f"no mark price for {symbol}", venue_code="tickerNotFound")
            continue
        index = _positive(ticker.index_price)
        last = _positive(ticker.last_price)
        at = view.mark_time(symbol)
        if symbol not in engine.state.instruments:
            engine.add_instrument(spec, mark, index=index, last=last, now=at)
            continue
        engine.state.instruments[symbol] = spec
        held = engine.state.prices.get(symbol)
        if held is not None and held.time is not None and at < held.time:
            continue  # the book already holds a newer mark than this read
        events.extend(engine.set_price(symbol, mark, index, last, now=now))
        engine.state.prices[symbol].time = at
    return events


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value.is_finite() and value > 0 else None


def save(row: PaperAccount, engine: SimEngine, now: datetime) -> None:
    """Move what finished to the archive tables and write the snapshot back (compare-and-set on ``version``)."""
    state = engine.state
    account = state.accounts[row.uid]
    finished = [o for o in state.orders.values() if not o.state.is_live]
    if finished:
        PaperOrder.objects.bulk_create(
            [
                PaperOrder(
                    paper=row,
                    order_id=o.order_id,
                    client_order_id=o.client_order_id or "",
                    seq=o.seq,
                    accepted=o.state is not SimOrderState.REJECTED,
                    state=o.state.value,
                    finished_at=o.last_update_time,
                    data=codec.encode(o),
                )
                for o in finished
            ]
        )
        for o in finished:
            del state.orders[o.order_id]
            if o.client_order_id and account.client_order_ids.get(o.client_order_id) == o.order_id:
                del account.client_order_ids[o.client_order_id]
    if state.fills:
        PaperFill.objects.bulk_create(
            [PaperFill(paper=row, fill_id=f.fill_id, time=f.time, data=codec.encode(f)) for f in state.fills]
        )
        state.fills.clear()
    for ledger_row in account.ledger:
        # One by one, in order: each row's primary key is its entry id, so it must follow the row before it.
        PaperLedgerRow.objects.create(paper=row, time=ledger_row.time, data=codec.encode(ledger_row))
    account.ledger.clear()
    # Specs and marks are kept only for symbols still in use; the rest is read fresh when next needed.
    in_use = symbols_in_use(engine, row.uid)
    for table in (state.instruments, state.prices, state.liquidity):
        for symbol in [s for s in table if s not in in_use]:
            del table[symbol]
    raw = codec.encode(state)
    raw.pop("config", None)  # rebuilt from the uid on load, so a change of defaults reaches every account
    live = len(state.orders)
    moved = PaperAccount.objects.filter(pk=row.pk, version=row.version).update(
        state=raw, version=row.version + 1, live_orders=live, updated_at=now
    )
    if moved != 1:
        raise _Conflict
    row.state, row.version, row.live_orders, row.updated_at = raw, row.version + 1, live, now
