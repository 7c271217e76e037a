"""The one path every inbound message takes: webhook, `puntada say` and the simulator."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import Connection, Engine, select
from sqlmodel import Session

import handlers
from bot import clock, flood, hotpath, store
from bot.db import together
from bot.models import Channel, Cooperative, InboundMessage
from bot.parsing import parse
from bot.phones import BadPhone, mask, split_address, to_e164
from bot.render import render

log = logging.getLogger(__name__)
MAX_BODY = 1600  # Twilio's limit for one message


@dataclass(frozen=True)
class Inbound:
    """One message as Twilio posts it."""

    sid: str
    sender: str  # Twilio's From: '+591…' or 'whatsapp:+591…'
    recipient: str  # Twilio's To
    body: str
    at: datetime | None = None  # aware; None means now


def receive(engine: Engine, message: Inbound) -> str:
    """Record and answer one message, exactly once per MessageSid; returns the reply.

    One transaction: the MessageSid is claimed first (its unique index keeps the first of
    two copies, even at the same moment), then the message is answered by the hot path
    or, for everything it declines, by the handlers. On SQLite, messages arriving at the
    same moment share the transaction (`bot.db.together`), each handled as if alone.
    """
    claimed, answer = together(engine, partial(_record, message=message))
    if claimed is None:
        # The same MessageSid again (Twilio retries, or two copies at once): answer as the
        # first was answered and record nothing.
        log.info("inbound %s repeated; first reply returned", message.sid)
        return _earlier_reply(engine, message.sid) or ""
    log.info("inbound %s from %s: %s", message.sid, mask(message.sender), answer.intent or "?")
    return answer.reply


def _record(connection: Connection, *, message: Inbound):
    """Claim and answer the message in the transaction of `connection`."""
    sender, channel = split_address(message.sender)
    recipient, _ = split_address(message.recipient)
    claimed = hotpath.claim(connection, sid=message.sid, sender=sender, recipient=recipient,
                            channel=str(channel), body=clean(message.body), at=message.at or clock.now())
    if claimed is None:
        return None, None
    answer = hotpath.answer(connection, claimed)
    if answer is not None:
        hotpath.finish(connection, claimed, answer)
        return claimed, answer
    return claimed, _answer_fully(connection, claimed.id)


def _answer_fully(connection: Connection, inbound_id: int) -> hotpath.Answer:
    """Answer through the handlers, in the claim's transaction."""
    with Session(bind=connection) as session:
        row = session.get(InboundMessage, inbound_id)
        row.reply = _answer(session, row)
        session.flush()
        return hotpath.Answer(row.reply, row.intent, row.understood, row.member_id)


def clean(body: str) -> str:
    """The body as stored and parsed: control characters (NUL …) as spaces, at most 1,600."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" and ch not in "\n\t" else ch for ch in body or "")
    return text[:MAX_BODY]


def _earlier_reply(engine: Engine, sid: str) -> str | None:
    with Session(engine) as session:
        query = select(InboundMessage.reply).where(InboundMessage.message_sid == sid)
        return session.scalars(query).first()


def _answer(session: Session, row: InboundMessage) -> str:
    cooperative = store.cooperative_by_number(session=session, number=row.recipient)
    if cooperative is None:
        row.intent, row.understood = "wrong_number", False
        return render("wrong_number", "es")
    row.cooperative_id = cooperative.id
    reply, member = _answer_member(session, row, cooperative)
    count = flood.recent(session=session, cooperative=cooperative, message=row)
    if count > cooperative.flood_limit:
        # A reply loop stops when we stop answering; what she reported is recorded all the same.
        name = member.name if member else ""
        flood.alert(session=session, cooperative=cooperative, message=row, count=count, name=name)
        return ""
    return reply


def _answer_member(session: Session, row: InboundMessage, cooperative: Cooperative):
    phone = _phone(row.sender, cooperative)
    with session.no_autoflush:  # the row's cooperative and sender go out in one UPDATE, later
        member = phone and store.member_by_phone(
            session=session, cooperative_id=cooperative.id, phone=phone, lock=True
        )
        contacts = [] if member or not phone else store.contacts_by_phone(session=session, phone=phone)
    if not member and not contacts:
        row.intent, row.understood = "unknown_sender", False
        return render("unknown_sender", cooperative.language, coop=cooperative.name), None
    if member:
        row.member_id = member.id
        if row.channel == Channel.WHATSAPP:
            member.last_inbound_at = row.received_at
    context = handlers.Context(
        session=session,
        cooperative=cooperative,
        member=member or None,
        contacts=contacts,
        inbound=row,
        now=row.received_at,
        today=clock.today(cooperative, row.received_at),
    )
    intent = parse(row.body, [o.code for o in context.active_orders()])
    reply = handlers.dispatch(context, intent)
    row.intent = str(reply.intent or intent.kind)
    row.understood = reply.understood
    return render(reply.template, context.language(), **reply.values), member or None


def _phone(sender: str, cooperative: Cooperative) -> str:
    try:
        return to_e164(sender, cooperative.country)
    except BadPhone:
        return ""

