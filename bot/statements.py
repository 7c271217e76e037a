"""The SQL a message costs, as SQLAlchemy Core statements; every row is read by name.

One inbound message is claimed, its sender and her orders are read, her reports are written
and the orders' running totals moved, her totals read back and the answer stored: each of
those is a statement here, and nowhere else. The handlers use them through their Context;
`puntada report add`, the coordinator's `anotar` and the dashboard's "record for her"
write their reports with `record_report` too, so a report is written one way only.

Statements are built once with SQLAlchemy Core and compiled once per dialect; `run` sends
each on the connection's DBAPI cursor with SQLAlchemy's own type processing (an aware UTC
datetime is stored and read back as SQLAlchemy stores it) and hands back rows read by name.
Going through `Connection.execute` cost more than the statement itself on this path (about
50 µs a statement of Python against 15 µs of SQLite). On PostgreSQL, statements run inside
`pipeline()` travel to the server together, in one round trip.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from bot import notices
from bot.models import (
    Assignment,
    Buyer,
    BuyerContact,
    Cooperative,
    InboundMedia,
    InboundMessage,
    Member,
    Order,
    OrderStatus,
    Report,
    ReportStatus,
    Role,
    Source,
)

cooperatives = Cooperative.__table__
members = Member.__table__
contacts_table = BuyerContact.__table__
orders_table = Order.__table__
assignments = Assignment.__table__
inbound = InboundMessage.__table__
media_table = InboundMedia.__table__
reports = Report.__table__
buyers = Buyer.__table__

# The cooperative a message was sent to, by its SMS or WhatsApp number.
_COOPERATIVE_BY_NUMBER = (
    select(cooperatives.c.id)
    .where(or_(cooperatives.c.sms_number == bindparam("recipient"),
               cooperatives.c.whatsapp_number == bindparam("recipient")))
    .order_by(cooperatives.c.id)
    .limit(1)
    .scalar_subquery()
)


def _claim(insert):
    return (
        insert(inbound)
        .values(message_sid=bindparam("sid"), cooperative_id=_COOPERATIVE_BY_NUMBER,
                sender=bindparam("sender"), recipient=bindparam("recipient"),
                channel=bindparam("channel"), body=bindparam("body"), intent="", understood=True,
                handled=False, for_coordinator=False, reply="", received_at=bindparam("at"),
                num_media=bindparam("num_media"), latitude=bindparam("latitude"),
                longitude=bindparam("longitude"), address=bindparam("address"))
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(inbound.c.id, inbound.c.cooperative_id, inbound.c.message_sid)
    )


_CLAIM = {"sqlite": _claim(sqlite.insert), "postgresql": _claim(postgresql.insert)}
# With the cooperative, how many messages this sender sent it in the last ten minutes (the
# flood check), this one included.
_RECENT = (select(func.count()).select_from(inbound)
           .where(inbound.c.received_at > bindparam("since"), inbound.c.received_at <= bindparam("at"),
                  inbound.c.sender == bindparam("sender"),
                  inbound.c.cooperative_id == cooperatives.c.id)
           .scalar_subquery())
_COOPERATIVE = select(cooperatives, _RECENT.label("recent")).where(cooperatives.c.id == bindparam("id"))
_MEMBER = select(members).where(members.c.cooperative_id == bindparam("cooperative_id"),
                                members.c.phone == bindparam("phone"))
_MEMBER_LOCKED = _MEMBER.with_for_update()
_CONTACTS = select(contacts_table).where(contacts_table.c.phone == bindparam("phone")).order_by(
    contacts_table.c.id)
_MINE = or_(
    and_(orders_table.c.assign_all, bindparam("embroiderer")),
    exists().where(assignments.c.order_id == orders_table.c.id,
                   assignments.c.member_id == bindparam("member_id")),
)
_BUYER_NAME = (select(buyers.c.name).where(buyers.c.id == orders_table.c.buyer_id)
               .scalar_subquery().label("buyer"))
_ORDERS = (
    select(orders_table, _MINE.label("mine"), _BUYER_NAME)
    .where(orders_table.c.cooperative_id == bindparam("cooperative_id"),
           orders_table.c.status == OrderStatus.ACTIVE)
    .order_by(orders_table.c.code)
)
_ORDERS_NOBODY = (
    select(orders_table, literal(False).label("mine"), _BUYER_NAME)
    .where(orders_table.c.cooperative_id == bindparam("cooperative_id"),
           orders_table.c.status == OrderStatus.ACTIVE)
    .order_by(orders_table.c.code)
)
_ORDER = select(orders_table, literal(False).label("mine"), _BUYER_NAME).where(
    orders_table.c.id == bindparam("id"))
_REPORT_COLUMNS = ("cooperative_id", "member_id", "order_id", "pieces", "status", "at", "local_date",
                   "inbound_id", "recorded_by_id", "replaces_id", "source")
_INSERT_REPORT = (reports.insert().values({name: bindparam(name) for name in _REPORT_COLUMNS})
                  .returning(reports.c.id))
_SEEN = update(members).where(members.c.id == bindparam("member_id")).values(
    last_inbound_at=bindparam("at"))
_ADD = (update(orders_table).where(orders_table.c.id == bindparam("order_id"))
        .values(done=orders_table.c.done + bindparam("pieces")).returning(orders_table.c.done))
_MOVE = (update(reports).where(reports.c.id == bindparam("report_id"), reports.c.status == bindparam("old"))
         .values(status=bindparam("new")).returning(reports.c.id))
_LATEST = (select(reports).where(reports.c.member_id == bindparam("member_id"),
                                 reports.c.status == bindparam("status"))
           .order_by(reports.c.at.desc(), reports.c.id.desc()).limit(1))
_LATEST_ON = _LATEST.where(reports.c.order_id == bindparam("order_id"))
_HELD_WITH = (select(reports).where(reports.c.member_id == bindparam("member_id"),
                                    reports.c.inbound_id == bindparam("inbound_id"),
                                    reports.c.status == ReportStatus.HELD).order_by(reports.c.id))
_REPORT = select(reports).where(reports.c.id == bindparam("id"))


def _pieces_between(first: str, last: str):
    return (select(func.coalesce(func.sum(reports.c.pieces), 0))
            .where(reports.c.member_id == bindparam("member_id"),
                   reports.c.status == ReportStatus.ACCEPTED,
                   reports.c.local_date >= bindparam(first), reports.c.local_date <= bindparam(last))
            .scalar_subquery())


# Her month's and today's pieces, read from one covering index (ix_report_member_status_day).
_TOTALS = select(_pieces_between("first", "today").label("month"),
                 _pieces_between("today", "today").label("today"))
_FINISH = (update(inbound).where(inbound.c.id == bindparam("inbound_id"))
           .values(member_id=bindparam("member_id"), intent=bindparam("intent"),
                   understood=bindparam("understood"), reply=bindparam("reply"),
                   for_coordinator=bindparam("for_coordinator")))
_MEDIA = media_table.insert().values(inbound_id=bindparam("inbound_id"), position=bindparam("position"),
                                     url=bindparam("url"), content_type=bindparam("content_type"))
_PENDING = update(members).where(members.c.id == bindparam("member_id")).values(pending=bindparam("pending"))
# Her reports of the last minutes, each with the text of the message it came in.
_RECENT_REPORTS = (
    select(reports, inbound.c.body)
    .select_from(reports.outerjoin(inbound, inbound.c.id == reports.c.inbound_id))
    .where(reports.c.member_id == bindparam("member_id"), reports.c.at >= bindparam("since"),
           reports.c.status != ReportStatus.CANCELLED)
    .order_by(reports.c.at.desc(), reports.c.id.desc())
)
# The reports of her latest message that recorded any (what a free-words correction corrects).
_LAST_MESSAGE_REPORTS = (
    select(reports).where(
        reports.c.member_id == bindparam("member_id"),
        reports.c.status != ReportStatus.CANCELLED,
        reports.c.inbound_id == (
            select(reports.c.inbound_id).where(reports.c.member_id == bindparam("member_id"),
                                               reports.c.inbound_id.is_not(None),
                                               reports.c.at >= bindparam("since"),
                                               reports.c.status != ReportStatus.CANCELLED)
            .order_by(reports.c.at.desc(), reports.c.id.desc()).limit(1).scalar_subquery()))
    .order_by(reports.c.id)
)
_COORDINATOR_NAME = (select(members.c.name)
                     .where(members.c.cooperative_id == bindparam("cooperative_id"),
                            members.c.role == Role.COORDINATOR, members.c.active.is_(True))
                     .order_by(members.c.id).limit(1))
_REPLY = select(inbound.c.reply).where(inbound.c.message_sid == bindparam("sid"))


# --- the message ------------------------------------------------------------------------


def claim(connection: Connection, *, sid: str, sender: str, recipient: str, channel: str, body: str,
          at: datetime, media: Sequence = (), location: tuple | None = None) -> Row | None:
    """Store the message and its media unless its MessageSid is stored already (then None):
    (id, cooperative_id, message_sid)."""
    statement = _CLAIM[connection.dialect.name]
    latitude, longitude, address = location or (None, None, None)
    claimed = run(connection, statement, {
        "sid": sid, "sender": sender, "recipient": recipient, "channel": channel, "body": body, "at": at,
        "num_media": len(media), "latitude": latitude, "longitude": longitude, "address": address,
    }).first()
    if claimed is not None:
        for position, item in enumerate(media):
            run(connection, _MEDIA, {"inbound_id": claimed.id, "position": position, "url": item.url,
                                     "content_type": item.content_type})
    return claimed


def finish(connection: Connection, inbound_id: int, *, member_id: int | None, intent: str,
           understood: bool, reply: str, for_coordinator: bool = False) -> None:
    """Store what the bot made of the message, whether it waits for the coordinator, and the reply."""
    run(connection, _FINISH, {"inbound_id": inbound_id, "member_id": member_id, "intent": intent,
                              "understood": understood, "reply": reply, "for_coordinator": for_coordinator})


def earlier_reply(connection: Connection, sid: str) -> str | None:
    """The reply stored with this MessageSid."""
    return run(connection, _REPLY, {"sid": sid}).scalar()


# --- who wrote, and her orders ------------------------------------------------------------


def cooperative(connection: Connection, cooperative_id: int, *, sender: str = "",
                since: datetime | None = None, at: datetime | None = None) -> Row:
    """The cooperative's row, with `recent`: the messages `sender` sent it after `since`, up to `at`."""
    return run(connection, _COOPERATIVE, {"id": cooperative_id, "sender": sender, "since": since,
                                          "at": at}).one()


def member(connection: Connection, *, cooperative_id: int, phone: str, lock: bool = False) -> Row | None:
    """The member of this cooperative with this E.164 phone.

    With `lock` her row stays locked to the end of the transaction, so that two of her
    messages at once ("si" sent twice) are answered one after the other (on SQLite the
    single writer already does this).
    """
    statement = _MEMBER_LOCKED if lock and connection.dialect.name == "postgresql" else _MEMBER
    return run(connection, statement, {"cooperative_id": cooperative_id, "phone": phone}).first()


def contacts(connection: Connection, phone: str) -> list[Row]:
    """Every buyer contact registered with this E.164 phone."""
    return run(connection, _CONTACTS, {"phone": phone}).all()


def seen(connection: Connection, member_id: int, at: datetime) -> None:
    """She wrote on WhatsApp at `at`: the 24-hour window for free-form messages opens."""
    run(connection, _SEEN, {"member_id": member_id, "at": at})


def set_pending(connection: Connection, member_id: int, pending: dict | None) -> None:
    """What the bot now waits for from her (None: nothing)."""
    run(connection, _PENDING, {"member_id": member_id, "pending": pending})


def coordinator_name(connection: Connection, cooperative_id: int) -> str:
    """The first active coordinator's name ('' when the cooperative has none)."""
    return run(connection, _COORDINATOR_NAME, {"cooperative_id": cooperative_id}).scalar() or ""


def set_member(connection: Connection, member_id: int, **values) -> None:
    """Change some of a member's fields (opted_out, language, last_inbound_at)."""
    connection.execute(update(members).where(members.c.id == member_id).values(**values))


def set_contacts(connection: Connection, contact_ids: Sequence[int], **values) -> None:
    """Change some of these buyer contacts' fields (opted_out, language)."""
    connection.execute(update(contacts_table).where(contacts_table.c.id.in_(contact_ids)).values(**values))


@dataclass
class OrderLine:
    """An order as a message sees it: its row, whether she works on it, its total as it moves."""

    id: int
    cooperative_id: int
    buyer_id: int
    code: str
    item: str
    quantity: int
    due_date: date
    piece_rate: Decimal | None
    assign_all: bool
    status: str
    done: int
    created_at: datetime
    closed_at: datetime | None
    mine: bool = False  # assigned to her, directly or (embroiderers) as an order for all
    buyer: str = ""

    @property
    def short(self) -> str:
        """What members call it: the first word of its item ('blusas' of 'blusas bordadas')."""
        return self.item.split()[0] if self.item.split() else self.code


def active_orders(connection: Connection, *, cooperative_id: int, member=None) -> list[OrderLine]:
    """The cooperative's active orders by code, each saying whether `member` works on it."""
    if member is None:
        rows = run(connection, _ORDERS_NOBODY, {"cooperative_id": cooperative_id})
    else:
        rows = run(connection, _ORDERS, {"cooperative_id": cooperative_id, "member_id": member.id,
                                         "embroiderer": member.role == Role.EMBROIDERER})
    return [OrderLine(**row._asdict()) for row in rows.all()]


def order(connection: Connection, order_id: int) -> OrderLine:
    """Any order, active or closed, by id."""
    return OrderLine(**run(connection, _ORDER, {"id": order_id}).one()._asdict())


# --- reports ------------------------------------------------------------------------------


def totals(connection: Connection, *, member_id: int, first: date, today: date) -> Row:
    """Her accepted pieces from `first` to `today`, and today's: (month, today)."""
    return run(connection, _TOTALS, {"member_id": member_id, "first": first, "today": today}).one()


def pieces_between(connection: Connection, *, member_id: int, first: date, last: date) -> int:
    """Her accepted pieces from day `first` to day `last`, both included."""
    return totals(connection, member_id=member_id, first=first, today=last).month


def latest_report(connection: Connection, *, member_id: int, status: str, order_id: int | None = None
                  ) -> Row | None:
    """Her most recent report with this status (on one order, when given)."""
    if order_id is None:
        return run(connection, _LATEST, {"member_id": member_id, "status": status}).first()
    return run(connection, _LATEST_ON, {"member_id": member_id, "status": status,
                                        "order_id": order_id}).first()


def recent_reports(connection: Connection, *, member_id: int, since: datetime) -> list[Row]:
    """Her accepted and held reports since `since`, newest first, each with its message's `body`."""
    return run(connection, _RECENT_REPORTS, {"member_id": member_id, "since": since}).all()


def last_message_reports(connection: Connection, *, member_id: int, since: datetime) -> list[Row]:
    """The accepted and held reports of her latest message since `since` that recorded any."""
    return run(connection, _LAST_MESSAGE_REPORTS, {"member_id": member_id, "since": since}).all()


def held_with(connection: Connection, report: Row) -> list[Row]:
    """The held reports that came in the same message as `report`."""
    if report.inbound_id is None:
        return [report]
    return run(connection, _HELD_WITH, {"member_id": report.member_id,
                                         "inbound_id": report.inbound_id}).all()


def report_by_id(connection: Connection, report_id: int) -> Row:
    """One report, as it is now."""
    return run(connection, _REPORT, {"id": report_id}).one()


@dataclass(frozen=True)
class Recorded:
    report_id: int
    done: int  # the order's running total afterwards


def record_report(connection: Connection, *, member, order: OrderLine, pieces: int, at: datetime,
                  day: date, source: Source, status: str = ReportStatus.ACCEPTED,
                  inbound_id: int | None = None, recorded_by_id: int | None = None,
                  replaces_id: int | None = None) -> Recorded:
    """Store a report; an accepted one adds to the order's running total (and queues the
    milestones and completion it crosses) in the same transaction."""
    report_id = run(connection, _INSERT_REPORT, {
        "cooperative_id": member.cooperative_id, "member_id": member.id, "order_id": order.id,
        "pieces": pieces, "status": status, "at": at, "local_date": day, "inbound_id": inbound_id,
        "recorded_by_id": recorded_by_id, "replaces_id": replaces_id, "source": source,
    }).scalar()
    if status == ReportStatus.ACCEPTED:
        add_to_order(connection, order, pieces)
    return Recorded(report_id, order.done)


def add_to_order(connection: Connection, order: OrderLine, pieces: int) -> None:
    """Move the order's running total by `pieces` in one atomic UPDATE (concurrent reports never
    lose each other's pieces); milestones and completion go out in this transaction or not at all."""
    order.done = run(connection, _ADD, {"order_id": order.id, "pieces": pieces}).scalar()
    notices.progress_changed(connection, order=order, before=order.done - pieces, after=order.done)


def move(connection: Connection, report_id: int, old: str, new: str) -> bool:
    """Change a report's status only from the status it had: of two transactions moving the
    same report, one moves it and the other sees nothing changed, so a total moves once."""
    moved = run(connection, _MOVE, {"report_id": report_id, "old": old, "new": new}).first()
    return moved is not None


def cancel(connection: Connection, report: Row, order: OrderLine) -> bool:
    """Cancel a report; an accepted one leaves the order's running total."""
    for status in (ReportStatus.ACCEPTED, ReportStatus.HELD):
        if move(connection, report.id, status, ReportStatus.CANCELLED):
            if status == ReportStatus.ACCEPTED:
                add_to_order(connection, order, -report.pieces)
            return True
    return False


def hold(connection: Connection, report: Row, order: OrderLine) -> bool:
    """Take an accepted report out of the totals until she confirms it again (her "si")."""
    if not move(connection, report.id, ReportStatus.ACCEPTED, ReportStatus.HELD):
        return False
    add_to_order(connection, order, -report.pieces)
    return True


def accept(connection: Connection, report: Row, order: OrderLine) -> bool:
    """Accept a held report (her "si"), cancelling the report it corrects (on the same order)."""
    if not move(connection, report.id, ReportStatus.HELD, ReportStatus.ACCEPTED):
        return False
    if report.replaces_id is not None:
        cancel(connection, report_by_id(connection, report.replaces_id), order)
    add_to_order(connection, order, report.pieces)
    return True


# --- running them -------------------------------------------------------------------------


class _Prepared:
    """One statement compiled for one dialect: its SQL, how each value is sent, how each
    column comes back, and the row type whose fields are the columns' names."""

    def __init__(self, statement: Executable, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        required = {name: None for name, bind in compiled.binds.items() if bind.required}
        self.fixed = compiled.construct_params(required)  # literal values in the statement
        processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                      for name, bind in compiled.binds.items()}
        names = compiled.positiontup if compiled.positional else list(self.fixed)
        self.plan = [(name, processors.get(name)) for name in names]
        self.positional = compiled.positional
        self.dialect = dialect
        self.columns = list(getattr(statement, "exported_columns", ()))
        self.row = namedtuple("Row", [c.key for c in self.columns], rename=True) if self.columns else None
        self.results: list | None = None  # known at the first rows: they depend on the driver's types

    def parameters(self, given: dict):
        values = self.fixed | given
        sent = [processor(values[name]) if processor else values[name] for name, processor in self.plan]
        return sent if self.positional else dict(zip((name for name, _ in self.plan), sent, strict=True))

    def read(self, raw: tuple | None, cursor):
        if raw is None:
            return None
        if self.results is None:
            found = [column.type.dialect_impl(self.dialect).result_processor(self.dialect, described[1])
                     for column, described in zip(self.columns, cursor.description, strict=True)]
            self.results = [(i, p) for i, p in enumerate(found) if p is not None]
        if not self.results:
            return self.row._make(raw)
        values = list(raw)
        for i, processor in self.results:
            values[i] = processor(values[i])
        return self.row._make(values)


@lru_cache(maxsize=256)
def _prepared(statement: Executable, dialect: Dialect) -> _Prepared:
    return _Prepared(statement, dialect)


class Result:
    """A statement's rows, read when asked for (inside `pipeline()`, after it)."""

    __slots__ = ("connection", "prepared", "cursor")

    def __init__(self, connection: Connection, prepared: _Prepared, cursor):
        self.connection, self.prepared, self.cursor = connection, prepared, cursor

    def first(self):
        try:
            return self.prepared.read(self.cursor.fetchone(), self.cursor)
        except self.connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(self.connection, error) from error

    def one(self):
        row = self.first()
        if row is None:
            raise LookupError("the statement found no row")
        return row

    def scalar(self):
        row = self.first()
        return None if row is None else row[0]

    def all(self) -> list:
        try:
            return [self.prepared.read(raw, self.cursor) for raw in self.cursor.fetchall()]
        except self.connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(self.connection, error) from error


def run(connection: Connection, statement: Executable, parameters: dict | None = None) -> Result:
    """Send `statement` on the connection's transaction; its rows are read from the Result."""
    prepared = _prepared(statement, connection.dialect)
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(prepared.sql, prepared.parameters(parameters or {}))
    except connection.dialect.loaded_dbapi.Error as error:
        raise _wrapped(connection, error) from error
    return Result(connection, prepared, cursor)


def _wrapped(connection: Connection, error: Exception) -> DBAPIError:
    # SQLAlchemy's classes: the webhook tells "database down" (spool it) from a bug by them.
    return DBAPIError.instance(None, None, error, connection.dialect.loaded_dbapi.Error,
                               hide_parameters=True, dialect=connection.dialect)


@contextmanager
def pipeline(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, the statements run inside go to the server at once and their results
    come back in one round trip (psycopg's pipeline mode); on SQLite each runs when sent."""
    if connection.dialect.name != "postgresql":
        yield
        return
    try:
        with connection.connection.dbapi_connection.pipeline():
            yield
    except connection.dialect.loaded_dbapi.Error as error:
        raise _wrapped(connection, error) from error
