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

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import Connection, Date, bindparam, text
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

_MEMBER = """
    SELECT m.id, m.name, m.role, m.language, m.active,
           c.name AS coop, c.timezone, c.plausible_max, c.flood_limit,
           (SELECT max(r.at) FROM report r WHERE r.member_id = m.id AND r.status = 'held') AS held_at
    FROM member m JOIN cooperative c ON c.id = m.cooperative_id
    WHERE m.cooperative_id = :coop AND m.phone = :phone
"""
MEMBER = {
    # Her row stays locked to the end of the transaction: two of her messages at once are
    # answered one after the other (SQLite's single writer already does this).
    dialect: text(_MEMBER + suffix).columns(held_at=UTCDateTime())
    for dialect, suffix in (("sqlite", ""), ("postgresql", " FOR UPDATE OF m"))
}
ORDERS = text("""
    SELECT o.id, o.code, o.quantity, o.done, o.assign_all,
           EXISTS (SELECT 1 FROM assignment a WHERE a.order_id = o.id AND a.member_id = :member) AS assigned
    FROM orders o WHERE o.cooperative_id = :coop AND o.status = 'active' ORDER BY o.code
""")
REPORT = text("""
    INSERT INTO report (cooperative_id, member_id, order_id, pieces, status, at, local_date,
                        inbound_id, source)
    VALUES (:coop, :member, :order, :pieces, 'accepted', :at, :day, :inbound, 'sms')
""").bindparams(bindparam("at", type_=UTCDateTime()), bindparam("day", type_=Date()))
ADD = text("UPDATE orders SET done = done + :pieces WHERE id = :order RETURNING done")
TOTALS = text("""
    SELECT (SELECT coalesce(sum(pieces), 0) FROM report
            WHERE member_id = :member AND status = 'accepted'
              AND local_date >= :first AND local_date <= :today) AS month,
           (SELECT coalesce(sum(pieces), 0) FROM report
            WHERE member_id = :member AND status = 'accepted' AND local_date = :today) AS today,
           (SELECT count(*) FROM inbound_message
            WHERE received_at > :since AND received_at <= :at
              AND sender = :sender AND cooperative_id = :coop) AS recent
""").bindparams(
    bindparam("first", type_=Date()), bindparam("today", type_=Date()),
    bindparam("since", type_=UTCDateTime()), bindparam("at", type_=UTCDateTime()),
)
SEEN = text("UPDATE member SET last_inbound_at = :at WHERE id = :member").bindparams(
    bindparam("at", type_=UTCDateTime())
)
KINDS = (Kind.REPORT, Kind.STATUS, Kind.HELP, Kind.UNKNOWN)


@dataclass(frozen=True)
class Claimed:
    """The message's row as the claim inserted it."""

    id: int
    cooperative_id: int | None
    sender: str  # E.164 as Twilio sent it, without "whatsapp:"
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


def answer(connection: Connection, message: Claimed) -> Answer | None:
    """Answer a common message of an active embroiderer; None (nothing written) for the rest."""
    phone = _e164(message.sender)
    if message.cooperative_id is None or not phone:
        return None
    member = connection.execute(
        MEMBER[connection.dialect.name], {"coop": message.cooperative_id, "phone": phone}
    ).first()
    if member is None or not member.active or member.role != Role.EMBROIDERER:
        return None
    rows = connection.execute(ORDERS, {"coop": message.cooperative_id, "member": member.id})
    orders = [_Order(r.id, r.code, r.quantity, r.done, bool(r.assign_all or r.assigned)) for r in rows]
    intent = parse(message.body, [o.code for o in orders])
    if intent.kind not in KINDS:
        return None
    today = clock.today(member, message.at)  # the row carries the cooperative's time zone
    assigned = [o for o in orders if o.mine]
    lines: list[tuple[int, _Order]] = []
    if intent.kind == Kind.REPORT:
        held = member.held_at is not None and (message.at - member.held_at).total_seconds() <= HOLD_SECONDS
        if held or any(item.pieces > member.plausible_max for item in intent.items):
            return None  # a count to confirm, or her "si" to one: the full path holds and accepts
        chosen = choose(intent.items, orders, assigned)
        if not isinstance(chosen, Reply):
            lines = [(item.pieces, order) for item, order in chosen]
            lines = _record(connection, message, member.id, today, lines)
    totals = connection.execute(TOTALS, {
        "member": member.id, "first": today.replace(day=1), "today": today,
        "since": message.at - flood.WINDOW, "at": message.at, "sender": message.sender,
        "coop": message.cooperative_id,
    }).one()
    if intent.kind == Kind.REPORT:
        reply = chosen if isinstance(chosen, Reply) else recorded_reply(member, lines, month=totals.month)
    elif intent.kind == Kind.STATUS:
        reply = status_reply(member, month=totals.month, today=totals.today, orders=assigned or orders)
    elif intent.kind == Kind.HELP:
        reply = help_reply([o.code for o in orders])
    else:
        reply = not_understood_reply(intent, [o.code for o in orders])
    if message.channel == Channel.WHATSAPP:
        connection.execute(SEEN, {"at": message.at, "member": member.id})
    text_ = render(reply.template, member.language, **reply.values)
    if totals.recent > member.flood_limit:
        _flood(connection, message, count=totals.recent, name=member.name)
        text_ = ""
    return Answer(text_, str(reply.intent or intent.kind), reply.understood, member.id)


def _record(
    connection: Connection, message: Claimed, member_id: int, day: date, lines: list[tuple[int, _Order]]
) -> list[tuple[int, _Order]]:
    """Store her accepted reports and add them to the orders' running totals; the orders
    as they stand after her pieces, with milestones and completion queued when crossed."""
    after = []
    for pieces, order in lines:
        connection.execute(REPORT, {
            "coop": message.cooperative_id, "member": member_id, "order": order.id, "pieces": pieces,
            "at": message.at, "day": day, "inbound": message.id,
        })
        done = connection.execute(ADD, {"pieces": pieces, "order": order.id}).scalar_one()
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
