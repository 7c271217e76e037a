"""The evening's common messages in a few SQL statements: "20", "A 5", "hice 12", "total".

At 18:00 hundreds of embroiderers report at once, and every message waits for the one
before it (SQLite has one writer; on PostgreSQL each takes her row's lock). Going through
the ORM, one report cost about fifteen statements and six milliseconds of Python. Here an
active embroiderer's report, status, help or unreadable message takes five to seven plain
statements on the DBAPI cursor (three round trips on PostgreSQL) in the transaction
`bot.inbound.receive` opened, with replies built by the same functions and templates the
handlers use.

Anything else is declined before anything is written (`None`), and the full path of
`handlers/` answers it in the same transaction: coordinators, buyers, unknown numbers,
corrections, a count above the plausibility limit, a held count waiting for her "si".
The two paths are held to the same replies, rows and queued notices by
tests/test_hotpath.py, which sends the same messages through both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache

from sqlalchemy import Connection, Date, Dialect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from bot import clock, flood, notices
from bot.models import Channel, Cooperative, InboundMessage, Order, Role
from bot.parsing import Kind, parse
from bot.phones import BadPhone, to_e164
from bot.render import render
from handlers.context import Reply
from handlers.help import help_reply, not_understood_reply
from handlers.report import HOLD_SECONDS, choose, in_lock_order, recorded_reply
from handlers.status import status_reply

# Plain SQL with :named parameters (converted once to psycopg's style), run on the DBAPI
# cursor: SQLAlchemy's execution costs more than the statement itself on this path.
# The cooperative the message was sent to, by its SMS or WhatsApp number.
COOPERATIVE = """(SELECT id FROM cooperative WHERE sms_number = :recipient OR whatsapp_number = :recipient
                 ORDER BY id LIMIT 1)"""
CLAIM = f"""
    INSERT INTO inbound_message (message_sid, cooperative_id, sender, recipient, channel, body,
                                 intent, understood, handled, reply, received_at)
    VALUES (:sid, {COOPERATIVE}, :sender, :recipient, :channel, :body, '', :yes, :no, '', :at)
    ON CONFLICT (message_sid) DO NOTHING
    RETURNING id, cooperative_id
"""
MEMBER = f"""
    SELECT m.id, m.name, m.role, m.language, m.active, c.timezone, c.plausible_max, c.flood_limit
    FROM member m JOIN cooperative c ON c.id = m.cooperative_id
    WHERE m.cooperative_id = {COOPERATIVE} AND m.phone = :phone
"""
# Read after her row is locked, in a statement of its own: on PostgreSQL a statement that
# waited for the lock still sees what was committed before it began, so her held count
# of a moment ago ("350", then "20" at once) would be missed if read with the lock.
HELD = f"""
    SELECT max(r.at) FROM report r
    WHERE r.member_id = (SELECT id FROM member WHERE cooperative_id = {COOPERATIVE} AND phone = :phone)
      AND r.status = 'held'
"""
# Her row stays locked to the end of the transaction: two of her messages at once are
# answered one after the other (SQLite's single writer already does this).
LOCK = " FOR UPDATE OF m"
ORDERS = f"""
    SELECT o.id, o.code, o.quantity, o.done,
           o.assign_all OR EXISTS (SELECT 1 FROM assignment a JOIN member m ON m.id = a.member_id
                                   WHERE a.order_id = o.id AND m.cooperative_id = o.cooperative_id
                                     AND m.phone = :phone)
    FROM orders o WHERE o.cooperative_id = {COOPERATIVE} AND o.status = 'active' ORDER BY o.code
"""
REPORT = """
    INSERT INTO report (cooperative_id, member_id, order_id, pieces, status, at, local_date,
                        inbound_id, source)
    VALUES (:coop, :member, :order, :pieces, 'accepted', :at, :day, :inbound, 'sms')
"""
ADD = "UPDATE orders SET done = done + :pieces WHERE id = :order RETURNING done"
TOTALS = """
    SELECT (SELECT coalesce(sum(pieces), 0) FROM report
            WHERE member_id = :member AND status = 'accepted'
              AND local_date >= :first AND local_date <= :today),
           (SELECT coalesce(sum(pieces), 0) FROM report
            WHERE member_id = :member AND status = 'accepted' AND local_date = :today),
           (SELECT count(*) FROM inbound_message
            WHERE received_at > :since AND received_at <= :at
              AND sender = :sender AND cooperative_id = :coop)
"""
SEEN = "UPDATE member SET last_inbound_at = :at WHERE id = :member"
FINISH = """
    UPDATE inbound_message SET member_id = :member, intent = :intent, understood = :understood,
                               reply = :reply
    WHERE id = :id
"""
KINDS = (Kind.REPORT, Kind.STATUS, Kind.HELP, Kind.UNKNOWN)


@dataclass(frozen=True)
class _Member:
    id: int
    name: str
    role: str
    language: str
    active: bool
    timezone: str  # her cooperative's
    plausible_max: int
    flood_limit: int
    held_at: datetime | None  # her latest count waiting for a "si"


@dataclass(frozen=True)
class _Order:
    id: int
    code: str
    quantity: int
    done: int
    mine: bool  # assigned to her, directly or as an order for all embroiderers


@dataclass(frozen=True)
class Claimed:
    """The message's row as the claim inserted it, with the sender and her orders as read then."""

    id: int
    cooperative_id: int | None
    sender: str  # as Twilio sent it, without "whatsapp:"
    channel: str
    body: str
    at: datetime
    member: _Member | None = None  # an embroiderer or coordinator of that cooperative, locked
    orders: tuple[_Order, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What the message's row records once it is answered."""

    reply: str
    intent: str
    understood: bool
    member_id: int | None


class _Sql:
    """The statements above on one connection's DBAPI cursors, in its dialect's forms:
    parameter style, stored date and time, and SQLAlchemy's exceptions on failure.

    On PostgreSQL, statements sent inside `together()` go to the server at once (psycopg's
    pipeline mode) and their results come back in one round trip; on SQLite, which runs
    in this process, each runs when sent.
    """

    def __init__(self, connection: Connection):
        self.dialect = connection.dialect
        self.dbapi = connection.connection.dbapi_connection
        self.postgresql = self.dialect.name == "postgresql"
        self.at, self.day = _processors(self.dialect)

    @contextmanager
    def together(self) -> Iterator[None]:
        with self.errors(), (self.dbapi.pipeline() if self.postgresql else nullcontext()):
            yield

    def send(self, sql: str, params: dict) -> _Result:
        """Run (or, inside `together`, queue) a statement; its result is read later."""
        cursor = self.dbapi.cursor()
        with self.errors():
            cursor.execute(_pyformat(sql) if self.postgresql else sql, params)
        return _Result(self, cursor)

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except self.dialect.loaded_dbapi.Error as error:
            # The webhook tells "database down" (spool it) from a bug by these classes.
            raise DBAPIError.instance(None, None, error, self.dialect.loaded_dbapi.Error,
                                      hide_parameters=True, dialect=self.dialect) from error

    def moment(self, value) -> datetime | None:
        """A time read back: SQLite keeps UTC text, PostgreSQL an aware datetime."""
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value


class _Result:
    """A statement's rows: SQLite reads them from the file while they are fetched, so a
    failure there is turned into SQLAlchemy's class too."""

    def __init__(self, sql: _Sql, cursor):
        self.sql, self.cursor = sql, cursor

    def fetchone(self):
        with self.sql.errors():
            return self.cursor.fetchone()

    def fetchall(self):
        with self.sql.errors():
            return self.cursor.fetchall()


def _same(value):
    return value


@cache
def _processors(dialect: Dialect) -> tuple[Callable, Callable]:
    """How the ORM stores an aware datetime and a date on this dialect."""
    return UTCDateTime().bind_processor(dialect) or _same, Date().bind_processor(dialect) or _same


@cache
def _pyformat(sql: str) -> str:
    return re.sub(r":(\w+)", r"%(\1)s", sql)


def claim(connection: Connection, *, sid: str, sender: str, recipient: str, channel: str, body: str,
          at: datetime) -> Claimed | None:
    """Insert the message's row unless its MessageSid is already stored (then None); with it,
    read the sender as a member of that cooperative (locking her row) and its active orders."""
    sql = _Sql(connection)
    phone = _e164(sender)
    with sql.together():
        claimed = sql.send(CLAIM, {"sid": sid, "sender": sender, "recipient": recipient, "channel": channel,
                                   "body": body, "yes": True, "no": False, "at": sql.at(at)})
        if phone:
            who = {"recipient": recipient, "phone": phone}
            found = sql.send(MEMBER + (LOCK if sql.postgresql else ""), who)
            held = sql.send(HELD, who)
            orders = sql.send(ORDERS, who)
    row = claimed.fetchone()
    if row is None:
        return None
    if not phone or (member := found.fetchone()) is None:
        return Claimed(row[0], row[1], sender, channel, body, at)
    return Claimed(
        row[0], row[1], sender, channel, body, at,
        member=_Member(*member, held_at=sql.moment(held.fetchone()[0])),
        orders=tuple(_Order(*order[:4], mine=bool(order[4])) for order in orders.fetchall()),
    )


def finish(connection: Connection, message: Claimed, answer: Answer) -> None:
    """Store what the hot path made of the message."""
    sql = _Sql(connection)
    with sql.together():
        if message.channel == Channel.WHATSAPP:
            sql.send(SEEN, {"at": sql.at(message.at), "member": answer.member_id})
        sql.send(FINISH, {"id": message.id, "member": answer.member_id, "intent": answer.intent,
                          "understood": answer.understood, "reply": answer.reply})


def answer(connection: Connection, message: Claimed) -> Answer | None:
    """Answer a common message of an active embroiderer; None (nothing written) for the rest."""
    member, orders = message.member, list(message.orders)
    if member is None or not member.active or member.role != Role.EMBROIDERER:
        return None
    intent = parse(message.body, [o.code for o in orders])
    if intent.kind not in KINDS:
        return None
    today = clock.today(member, message.at)  # she carries her cooperative's time zone
    assigned = [o for o in orders if o.mine]
    chosen: list | Reply = []
    if intent.kind == Kind.REPORT:
        held = member.held_at is not None and (message.at - member.held_at).total_seconds() <= HOLD_SECONDS
        if held or any(item.pieces > member.plausible_max for item in intent.items):
            return None  # a count to confirm, or her "si" to one: the full path holds and accepts
        chosen = choose(intent.items, orders, assigned)
    sql = _Sql(connection)
    with sql.together():
        added = {} if isinstance(chosen, Reply) else _record(sql, message, member.id, today, chosen)
        totals = sql.send(TOTALS, {
            "member": member.id, "first": sql.day(today.replace(day=1)), "today": sql.day(today),
            "since": sql.at(message.at - flood.WINDOW), "at": sql.at(message.at), "sender": message.sender,
            "coop": message.cooperative_id,
        })
    lines = []
    for item, order in chosen if added else []:
        done = added[order.id].fetchone()[0]
        if notices.crossed(done - item.pieces, done, order.quantity):
            _milestones(connection, order.id, before=done - item.pieces, after=done)
        lines.append((item.pieces, _Order(order.id, order.code, order.quantity, done, order.mine)))
    month, today_total, recent = totals.fetchone()
    if intent.kind == Kind.REPORT:
        reply = chosen if isinstance(chosen, Reply) else recorded_reply(member, lines, month=month)
    elif intent.kind == Kind.STATUS:
        reply = status_reply(member, month=month, today=today_total, orders=assigned or orders)
    elif intent.kind == Kind.HELP:
        reply = help_reply([o.code for o in orders])
    else:
        reply = not_understood_reply(intent, [o.code for o in orders])
    words = render(reply.template, member.language, **reply.values)
    if recent > member.flood_limit:
        _flood(connection, message, count=recent, name=member.name)
        words = ""
    return Answer(words, str(reply.intent or intent.kind), reply.understood, member.id)


def _record(sql: _Sql, message: Claimed, member_id: int, day: date, chosen: list) -> dict[int, _Result]:
    """Send her accepted reports and their additions to the orders' running totals; by
    order id, the results that will hold each order's total after her pieces."""
    totals = {}
    for item, order in in_lock_order(chosen):
        sql.send(REPORT, {
            "coop": message.cooperative_id, "member": member_id, "order": order.id, "pieces": item.pieces,
            "at": sql.at(message.at), "day": sql.day(day), "inbound": message.id,
        })
        totals[order.id] = sql.send(ADD, {"pieces": item.pieces, "order": order.id})
    return totals


def _milestones(connection: Connection, order_id: int, *, before: int, after: int) -> None:
    """Queue the milestone and completion notices her pieces crossed, in this transaction."""
    with Session(bind=connection) as session:
        order = session.get(Order, order_id)
        notices.progress_changed(session=session, order=order, before=before, after=after)
        session.flush()


def _flood(connection: Connection, message: Claimed, *, count: int, name: str) -> None:
    with Session(bind=connection) as session:
        flood.alert(
            session=session, cooperative=session.get(Cooperative, message.cooperative_id),
            message=session.get(InboundMessage, message.id), count=count, name=name,
        )
        session.flush()


@lru_cache(maxsize=65536)
def _e164(sender: str) -> str:
    """Twilio's From as stored in member.phone ('' when it is not an international number)."""
    if not sender.startswith("+"):
        return ""  # the full path reads it with the cooperative's country
    try:
        return to_e164(sender, "ZZ")
    except BadPhone:
        return ""
