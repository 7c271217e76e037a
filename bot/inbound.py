"""The one path every inbound message takes: webhook, `puntada say` and the simulator."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial

from sqlalchemy import Connection, Engine

import handlers
from bot import clock, flood, statements
from bot.db import together
from bot.models import Channel, Role, Source
from bot.parsing import Intent, Kind, OrderWords, parse
from bot.phones import BadPhone, mask, split_address, to_e164
from bot.render import render, segments

log = logging.getLogger(__name__)
MAX_BODY = 1600  # Twilio's limit for one message
# Each cooperative's active orders (code, item, buyer) as the last message read them, by the
# number written to. A message is read with them before its transaction starts (on SQLite the
# write lock is held for the whole transaction, and reading a message is its costliest step);
# inside it the orders are read again, and a message is read again if they changed.
_orders_seen: dict[str, tuple[OrderWords, ...]] = {}
# Twilio's OptOutType (Advanced Opt-Out): she is out, or back, whatever her words were.
OPT_OUT_TYPES = {"STOP": Kind.STOP, "START": Kind.START, "HELP": Kind.HELP}


@dataclass(frozen=True)
class Media:
    """One of a message's media: Twilio's MediaUrlN and MediaContentTypeN."""

    url: str
    content_type: str


@dataclass(frozen=True)
class Inbound:
    """One message as Twilio posts it."""

    sid: str
    sender: str  # Twilio's From: '+591…' or 'whatsapp:+591…'
    recipient: str  # Twilio's To
    body: str
    at: datetime | None = None  # aware; None means now
    media: tuple[Media, ...] | list[Media] = ()
    location: tuple[float, float, str | None] | None = None  # Latitude, Longitude, Address
    opt_out: str = ""  # Twilio's OptOutType: STOP, START or HELP


@dataclass(frozen=True)
class Answer:
    """What the message's row records once it is answered."""

    reply: str
    intent: str
    understood: bool
    member_id: int | None
    for_coordinator: bool = False


def receive(engine: Engine, message: Inbound) -> str:
    """Record and answer one message, exactly once per MessageSid; returns the reply.

    One transaction: the MessageSid is claimed first (its unique index keeps the first of
    two copies, even at the same moment), then the sender is read (her row locked), her
    message read and answered by the handler her role allows, and the answer stored with
    the message. On SQLite, messages arriving at the same moment share the transaction
    (`bot.db.together`), each handled as if alone.
    """
    recipient, _ = split_address(message.recipient)
    body = clean(message.body)
    orders = _orders_seen.get(recipient, ())
    guess = Guess(orders, parse(body, orders))
    answer = together(engine, partial(_receive, message=message, body=body, guess=guess))
    if answer is None:
        # The same MessageSid again (Twilio retries, or two copies at once): answer as the
        # first was answered and record nothing.
        log.info("inbound %s repeated; first reply returned", message.sid)
        with engine.connect() as connection:
            return statements.earlier_reply(connection, message.sid) or ""
    log.debug("inbound %s from %s: %s", message.sid, mask(message.sender), answer.intent or "?")
    return answer.reply


@dataclass(frozen=True)
class Guess:
    """How the message read with the orders seen last, before its transaction."""

    orders: tuple[OrderWords, ...]
    intent: Intent


def _receive(connection: Connection, *, message: Inbound, body: str, guess: Guess) -> Answer | None:
    sender, channel = split_address(message.sender)
    recipient, _ = split_address(message.recipient)
    at = (message.at or clock.now()).astimezone(UTC)
    claimed = statements.claim(connection, sid=message.sid, sender=sender, recipient=recipient,
                               channel=str(channel), body=body, at=at, media=message.media,
                               location=message.location)
    if claimed is None:
        return None
    answer = _answer(connection, claimed, message=message, sender=sender, recipient=recipient,
                     channel=channel, body=body, at=at, guess=guess)
    statements.finish(connection, claimed.id, member_id=answer.member_id, intent=answer.intent,
                      understood=answer.understood, reply=answer.reply,
                      for_coordinator=answer.for_coordinator)
    return answer


def _answer(connection: Connection, claimed, *, message: Inbound, sender: str, recipient: str,
            channel: Channel, body: str, at: datetime, guess: Guess) -> Answer:
    if claimed.cooperative_id is None:
        return Answer(render("wrong_number", "es"), "wrong_number", False, None)
    cooperative = statements.cooperative(connection, claimed.cooperative_id, sender=sender,
                                         since=at - flood.WINDOW, at=at)
    answer, name = _answer_sender(connection, claimed, cooperative, message=message, sender=sender,
                                  recipient=recipient, channel=channel, body=body, at=at, guess=guess)
    if cooperative.recent > cooperative.flood_limit:
        # A reply loop stops when we stop answering; what she reported is recorded all the same.
        flood.alert(connection, cooperative=cooperative, sender=sender, at=at, count=cooperative.recent,
                    name=name)
        return Answer("", answer.intent, answer.understood, answer.member_id, answer.for_coordinator)
    return answer


def _answer_sender(connection: Connection, claimed, cooperative, *, message: Inbound, sender: str,
                   recipient: str, channel: Channel, body: str, at: datetime,
                   guess: Guess) -> tuple[Answer, str]:
    """The answer to a member or buyer contact of this cooperative, or to a stranger; her name."""
    phone = _e164(sender, cooperative.country)
    member = phone and statements.member(connection, cooperative_id=cooperative.id, phone=phone, lock=True)
    contacts = [] if member or not phone else statements.contacts(connection, phone)
    if not member and not contacts:
        words = render("unknown_sender", cooperative.language, coop=cooperative.name)
        return Answer(words, "unknown_sender", False, None), ""
    if member and channel == Channel.WHATSAPP:
        statements.seen(connection, member.id, at)
    context = handlers.Context(
        connection=connection, cooperative=cooperative, member=member or None, contacts=contacts,
        inbound=claimed, now=at, today=clock.today(cooperative, at),
        source=Source.WHATSAPP if channel == Channel.WHATSAPP else Source.SMS,
        text=body, media=tuple(m.content_type for m in message.media), location=message.location is not None,
    )
    orders = tuple(OrderWords(o.code, o.item, o.buyer) for o in context.orders)
    _orders_seen[recipient] = orders
    intent = guess.intent if orders == guess.orders else parse(body, orders)
    if message.opt_out.upper() in OPT_OUT_TYPES:  # Twilio says STOP or START: that is what it is
        intent = Intent(OPT_OUT_TYPES[message.opt_out.upper()])
    reply = handlers.dispatch(context, intent)
    context.flush()
    language = reply.language or context.language()
    for_coordinator = reply.note or intent.note or bool(message.media) or message.location is not None
    words = render(reply.template, language, **reply.values)
    if for_coordinator and reply.understood and context.coordinator:
        # "… Le paso tu mensaje a Juana": said when it still fits the reply's segments.
        noted = render("with_note", language, reply=words, coordinator=context.coordinator)
        words = noted if segments(noted) <= segments(words) else words
    if member and member.role == Role.EMBROIDERER and segments(words) > 1:
        # Each segment costs the cooperative: member replies are written to fit one.
        log.warning("reply %s to a member takes %d SMS segments", reply.template, segments(words))
    member_id, name = (member.id, member.name) if member else (None, "")
    return Answer(words, str(reply.intent or intent.kind), reply.understood, member_id, for_coordinator), name


def clean(body: str) -> str:
    """The body as stored and parsed: control characters (NUL …) as spaces, at most 1,600."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" and ch not in "\n\t" else ch for ch in body or "")
    return text[:MAX_BODY]


@lru_cache(maxsize=65536)
def _e164(sender: str, country: str) -> str:
    """Twilio's From as stored in member.phone ('' when it is not a phone number)."""
    try:
        return to_e164(sender, country)
    except BadPhone:
        return ""
