"""The evening's common messages in a few SQL statements: "20", "A 5", "hice 12", "total".

At 18:00 hundreds of embroiderers report at once, and every message waits for the one
before it (SQLite has one writer; on PostgreSQL each takes her row's lock). Going through
the ORM, one report cost about fifteen statements and six milliseconds of Python. Here an
active embroiderer's report, status, help or unreadable message takes five to seven plain
statements in the transaction `bot.inbound.receive` opened, with replies built by the
same functions and templates the handlers use.

Anything else is declined before anything is written (`None`), and the full path of
`handlers/` answers it in the same transaction: coordinators, buyers, unknown numbers,
corrections, a count above the plausibility limit, a held count waiting for her "si".
The two paths are held to the same replies, rows and queued notices by
tests/test_hotpath.py, which sends the same messages through both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
from handlers.report import HOLD_SECONDS, choose, recorded_reply
from handlers.status import status_reply

# Plain SQL with :named parameters (converted once to psycopg's style), run on the DBAPI
# cursor: SQLAlchemy's execution costs more than the statement itself on this path.
CLAIM = """
    INSERT INTO inbound_message (message_sid, cooperative_id, sender, recipient, channel, body,
                                 intent, understood, handled, reply, received_at)
    VALUES (:sid,
            (SELECT id FROM cooperative WHERE sms_number = :recipient OR whatsapp_number = :recipient
             ORDER BY id LIMIT 1),
            :sender, :recipient, :channel, :body, '', :yes, :no, '', :at)
    ON CONFLICT (message_sid) DO NOTHING
    RETURNING id, cooperative_id
"""
MEMBER = """
    SELECT m.id, m.name, m.role, m.language, m.active,
           c.timezone, c.plausible_max, c.flood_limit,
           (SELECT max(r.at) FROM report r WHERE r.member_id = m.id AND r.status = 'held')
    FROM member m JOIN cooperative c ON c.id = m.cooperative_id
    WHERE m.cooperative_id = :coop AND m.phone = :phone
"""
# Her row stays locked to the end of the transaction: two of her messages at once are
# answered one after the other (SQLite's single writer already does this).
LOCK = " FOR UPDATE OF m"
ORDERS = """
    SELECT o.id, o.code, o.quantity, o.done,
           o.assign_all OR EXISTS (SELECT 1 FROM assignment a
                                   WHERE a.order_id = o.id AND a.member_id = :member)
    FROM orders o WHERE o.cooperative_id = :coop AND o.status = 'active' ORDER BY o.code
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
class Claimed:
    """The message's row as the claim inserted it."""

    id: int
    cooperative_id: int | None
    sender: str  # as Twilio sent it, without "whatsapp:"
    channel: str
    body: str
    at: datetime


@dataclass(frozen=True)
class Answer:
    """What the message's row records once it is answered."""

    reply: str
    intent: str
    understood: bool
    member_id: int | None


@dataclass(frozen=True)
class _Order:
    id: int
    code: str
    quantity: int
    done: int
    mine: bool  # assigned to her, directly or as an order for all embroiderers


class _Sql:
    """The statements above on one connection's DBAPI cursor, in its dialect's forms:
    parameter style, stored date and time, and SQLAlchemy's exceptions on failure."""

    def __init__(self, connection: Connection):
        self.dialect = connection.dialect
        self.cursor = connection.connection.dbapi_connection.cursor()
        self.postgresql = self.dialect.name == "postgresql"
        self.at, self.day = _processors(self.dialect)

    def run(self, sql: str, params: dict):
        statement = _pyformat(sql) if self.postgresql else sql
        try:
            self.cursor.execute(statement, params)
        except self.dialect.loaded_dbapi.Error as error:
            # The webhook tells "database down" (spool it) from a bug by these classes.
            raise DBAPIError.instance(statement, None, error, self.dialect.loaded_dbapi.Error,
                                      hide_parameters=True, dialect=self.dialect) from error
        return self.cursor

    def moment(self, value) -> datetime | None:
        """A time read back: SQLite keeps UTC text, PostgreSQL an aware datetime."""
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value


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
    """Insert the message's row unless its MessageSid is already stored (then None)."""
    sql = _Sql(connection)
    row = sql.run(CLAIM, {"sid": sid, "sender": sender, "recipient": recipient, "channel": channel,
                          "body": body, "yes": True, "no": False, "at": sql.at(at)}).fetchone()
    return None if row is None else Claimed(row[0], row[1], sender, channel, body, at)


def finish(connection: Connection, message: Claimed, answer: Answer) -> None:
    """Store what the hot path made of the message."""
    _Sql(connection).run(FINISH, {"id": message.id, "member": answer.member_id, "intent": answer.intent,
                                  "understood": answer.understood, "reply": answer.reply})


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


def answer(connection: Connection, message: Claimed) -> Answer | None:
    """Answer a common message of an active embroiderer; None (nothing written) for the rest."""
    phone = _e164(message.sender)
    if message.cooperative_id is None or not phone:
        return None
    sql = _Sql(connection)
    found = sql.run(MEMBER + (LOCK if sql.postgresql else ""),
                    {"coop": message.cooperative_id, "phone": phone}).fetchone()
    if found is None:
        return None
    member = _Member(*found[:-1], held_at=sql.moment(found[-1]))
    if not member.active or member.role != Role.EMBROIDERER:
        return None
    rows = sql.run(ORDERS, {"coop": message.cooperative_id, "member": member.id}).fetchall()
    orders = [_Order(*row[:4], mine=bool(row[4])) for row in rows]
    intent = parse(message.body, [o.code for o in orders])
    if intent.kind not in KINDS:
        return None
    today = clock.today(member, message.at)  # she carries her cooperative's time zone
    assigned = [o for o in orders if o.mine]
    if intent.kind == Kind.REPORT:
        held = member.held_at is not None and (message.at - member.held_at).total_seconds() <= HOLD_SECONDS
        if held or any(item.pieces > member.plausible_max for item in intent.items):
            return None  # a count to confirm, or her "si" to one: the full path holds and accepts
        chosen = choose(intent.items, orders, assigned)
        if not isinstance(chosen, Reply):
            lines = _record(connection, sql, message, member.id, today,
                            [(item.pieces, order) for item, order in chosen])
    month, today_total, recent = sql.run(TOTALS, {
        "member": member.id, "first": sql.day(today.replace(day=1)), "today": sql.day(today),
        "since": sql.at(message.at - flood.WINDOW), "at": sql.at(message.at), "sender": message.sender,
        "coop": message.cooperative_id,
    }).fetchone()
    if intent.kind == Kind.REPORT:
        reply = chosen if isinstance(chosen, Reply) else recorded_reply(member, lines, month=month)
    elif intent.kind == Kind.STATUS:
        reply = status_reply(member, month=month, today=today_total, orders=assigned or orders)
    elif intent.kind == Kind.HELP:
        reply = help_reply([o.code for o in orders])
    else:
        reply = not_understood_reply(intent, [o.code for o in orders])
    if message.channel == Channel.WHATSAPP:
        sql.run(SEEN, {"at": sql.at(message.at), "member": member.id})
    words = render(reply.template, member.language, **reply.values)
    if recent > member.flood_limit:
        _flood(connection, message, count=recent, name=member.name)
        words = ""
    return Answer(words, str(reply.intent or intent.kind), reply.understood, member.id)


def _record(
    connection: Connection, sql: _Sql, message: Claimed, member_id: int, day: date,
    lines: list[tuple[int, _Order]],
) -> list[tuple[int, _Order]]:
    """Store her accepted reports and add them to the orders' running totals; the orders
    as they stand after her pieces, with milestones and completion queued when crossed."""
    after = []
    for pieces, order in lines:
        sql.run(REPORT, {
            "coop": message.cooperative_id, "member": member_id, "order": order.id, "pieces": pieces,
            "at": sql.at(message.at), "day": sql.day(day), "inbound": message.id,
        })
        done = sql.run(ADD, {"pieces": pieces, "order": order.id}).fetchone()[0]
        if notices.crossed(done - pieces, done, order.quantity):
            with Session(bind=connection) as session:
                row = session.get(Order, order.id)
                notices.progress_changed(session=session, order=row, before=done - pieces, after=done)
                session.flush()
        after.append((pieces, _Order(order.id, order.code, order.quantity, done, order.mine)))
    return after


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
