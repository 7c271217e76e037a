"""Dispatch: claim what the outbox holds, send it paced per sender, record what Twilio said.

Several dispatchers may run at once (processes, machines). Each message goes out once:
a dispatcher claims rows in one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
SQLite's write lock serialises claims), marks them "sending", commits, and only then
talks to Twilio. Only the holder of a sender's lease (SenderLease) sends from that
number, never more than TWILIO_MAX_MPS requests in any second (see Pace), so the cap
holds across processes. A dispatcher (a thread of a process) keeps its lease and its
recent requests between runs; another may take the lease one second after the holder's
last answer, so a newcomer's requests never share a second with the old holder's.

When can a message go out twice? Only when Twilio accepted it and the dispatcher could
not record that: it died between Twilio's answer and its own commit (milliseconds), or
Twilio's answer never reached it (a read timeout counts as temporary and is retried;
Twilio has no idempotency key for messages). A dispatcher refreshes its claims before
each send; a row left "sending" for STALE_AFTER without a refresh belongs to a
dispatcher that died, and goes back to the queue.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot import clock
from bot.channels import Channel, Failure, SendError, reason_for
from bot.config import Settings
from bot.db import unit_of_work
from bot.models import (
    BuyerContact,
    Cooperative,
    Member,
    Outbox,
    OutboxStatus,
    SenderLease,
    utcnow,
)
from bot.models import Channel as Medium
from bot.phones import address_for

MAX_ATTEMPTS = 5
BACKOFF = timedelta(seconds=30)  # 30 s, 1, 2, 4 min between attempts, then failed
STALE_AFTER = timedelta(minutes=5)  # far above a send's bounded wait (timeouts, pacing)
LEASE = timedelta(seconds=30)  # renewed before each send
WHATSAPP_WINDOW = timedelta(hours=24)
WHATSAPP_WINDOW_CLOSED = 63016  # Twilio's error for a free-form WhatsApp message outside it
# Twilio counts messages per second; 20 ms more covers clock granularity.
PACE_WINDOW = timedelta(seconds=1.02)
# A sign-in code answers what someone is doing right now; quiet hours would lock her out.
QUIET_EXEMPT = frozenset({"code"})

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# Each dispatcher's recent requests per sender, kept between its runs: a scheduler that
# dispatches every few seconds keeps its lease and its pace instead of waiting a second.
_paces: dict[tuple[str, str], Pace] = {}


@dataclass(frozen=True)
class Dispatched:
    """What one dispatch run did."""

    sent: int = 0
    retried: int = 0  # temporary failures, queued again for later
    failed: int = 0
    held: int = 0  # due, but their cooperative is inside its quiet hours


@dataclass(frozen=True)
class Route:
    """How a message goes out: its channel, WhatsApp template, and whether it fell back to SMS."""

    channel: str
    content_sid: str | None
    fell_back: bool


def dispatch(
    engine: Engine, settings: Settings, channel: Channel, *, at: datetime | None = None, limit: int = 200
) -> Dispatched:
    """Send what the outbox holds and quiet hours allow, at most `limit` messages.

    `at` is the moment the outbox is judged at (quiet hours, retry times, WhatsApp's
    window); claims and leases always use the real clock.
    """
    at = at or utcnow()
    holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident()}"
    # A channel that says nothing of pacing is paced: the cap is the safe default.
    mps = settings.twilio_max_mps if getattr(channel, "paced", True) else None
    recover_stale(engine)
    with unit_of_work(engine) as session:
        held = _quiet_cooperatives(session, at)
        claimed, token, unsendable = _claim(session, settings, at=at, held=held, holder=holder, limit=limit)
        held_count = _count_held(session, at, held)
    counts = _send_all(engine, settings, channel, claimed, holder=holder, token=token, at=at, mps=mps)
    return Dispatched(counts["sent"], counts["retried"], counts["failed"] + unsendable, held_count)


def recover_stale(engine: Engine) -> int:
    """Requeue messages a dead dispatcher left "sending"; returns how many."""
    cutoff = utcnow() - STALE_AFTER
    stale = (Outbox.status == OutboxStatus.SENDING,
             or_(Outbox.claimed_at.is_(None), Outbox.claimed_at < cutoff))
    with unit_of_work(engine) as session:
        gave_up = session.execute(
            update(Outbox).where(*stale, Outbox.attempts >= MAX_ATTEMPTS).values(
                status=OutboxStatus.FAILED, claimed_at=None,
                error="The dispatcher stopped while sending it, too many times"))
        requeued = session.execute(
            update(Outbox).where(*stale).values(status=OutboxStatus.QUEUED, claimed_at=None))
    return gave_up.rowcount + requeued.rowcount


def route(message: Outbox, cooperative: Cooperative | None, member: Member | None, at: datetime) -> Route:
    """WhatsApp outside the member's 24-hour window needs a template, or goes by SMS."""
    unchanged = Route(message.channel, message.content_sid, message.fell_back)
    if message.channel != Medium.WHATSAPP or message.content_sid:
        return unchanged
    last = member.last_inbound_at if member else None
    if last is not None and at - last < WHATSAPP_WINDOW:
        return unchanged
    template = (cooperative.whatsapp_templates or {}).get(message.kind) if cooperative else None
    if template:
        return Route(Medium.WHATSAPP, template, message.fell_back)
    return Route(Medium.SMS, None, True)


def sender_for(settings: Settings, cooperative: Cooperative | None, channel: str) -> str | None:
    """The From address (or Messaging Service SID) a message goes out with."""
    if settings.twilio_messaging_service_sid:
        return settings.twilio_messaging_service_sid
    if cooperative is None:
        return None
    if channel == Medium.WHATSAPP:
        return address_for(cooperative.whatsapp_number, Medium.WHATSAPP)
    return cooperative.sms_number


def _quiet_cooperatives(session: Session, at: datetime) -> list[int]:
    return [c.id for c in session.scalars(select(Cooperative)) if clock.in_quiet_hours(c, at)]


def _due(at: datetime):
    return (Outbox.status == OutboxStatus.QUEUED,
            or_(Outbox.not_before.is_(None), Outbox.not_before <= at))


def _count_held(session: Session, at: datetime, held: list[int]) -> int:
    if not held:
        return 0
    query = select(func.count()).select_from(Outbox).where(
        *_due(at), Outbox.cooperative_id.in_(held), Outbox.kind.not_in(QUIET_EXEMPT))
    return session.execute(query).scalar_one()


def _claim(session: Session, settings: Settings, *, at: datetime, held: list[int], holder: str,
           limit: int) -> tuple[dict[str, deque[Outbox]], datetime, int]:
    """Claim due rows whose sender's lease this dispatcher takes, grouped by sender; fail
    those with no sender at all."""
    query = select(Outbox).where(*_due(at))
    if held:
        query = query.where(or_(Outbox.cooperative_id.is_(None), Outbox.cooperative_id.not_in(held),
                                Outbox.kind.in_(QUIET_EXEMPT)))
    rows = session.scalars(query.order_by(Outbox.id).limit(limit).with_for_update(skip_locked=True)).all()
    cooperatives = {c.id: c for c in session.scalars(select(Cooperative))}
    planned: dict[str, list[tuple[Outbox, Route]]] = {}
    unsendable = 0
    for row in rows:
        cooperative = cooperatives.get(row.cooperative_id)
        plan = route(row, cooperative, _member(session, row), at)
        sender = sender_for(settings, cooperative, plan.channel)
        if sender is None:
            _fail(row, None, "There is no number to send it from")
            unsendable += 1
            continue
        planned.setdefault(sender, []).append((row, plan))
    now = utcnow()
    claimed: dict[str, deque[Outbox]] = {}
    for sender in sorted(planned):  # one order for every dispatcher: no lock cycles
        if not _take_lease(session, sender, holder, now):
            continue  # another dispatcher sends from this number now
        for row, plan in planned[sender]:
            row.channel, row.content_sid, row.fell_back = plan.channel, plan.content_sid, plan.fell_back
            row.status, row.claimed_at, row.sender = OutboxStatus.SENDING, now, sender
            row.attempts += 1
        claimed[sender] = deque(row for row, _ in planned[sender])
    session.flush()
    return claimed, now, unsendable


def _member(session: Session, message: Outbox) -> Member | None:
    if message.channel != Medium.WHATSAPP or message.cooperative_id is None:
        return None
    query = select(Member).where(Member.cooperative_id == message.cooperative_id,
                                 Member.phone == message.recipient)
    return session.scalars(query).first()


def _take_lease(session: Session, sender: str, holder: str, now: datetime) -> bool:
    """Take the sender's lease if it is ours already or its holder let it go."""
    insert = _INSERTS[session.get_bind().dialect.name](SenderLease)
    statement = insert.values(sender=sender, holder=holder, until=now + LEASE).on_conflict_do_update(
        index_elements=["sender"],
        set_={"holder": holder, "until": now + LEASE},
        where=or_(SenderLease.until <= now, SenderLease.holder == holder),
    )
    return session.execute(statement.returning(SenderLease.sender)).first() is not None


class Pace:
    """When a sender may send next: at most `mps` requests in any second, counting each
    request as reaching Twilio anywhere between its sending and its answer."""

    def __init__(self, mps: int | None):
        self.answers: deque[datetime] = deque(maxlen=mps)  # the last `mps` answers' times

    def next_slot(self) -> datetime:
        """The earliest moment the next request may start."""
        full = self.answers.maxlen is not None and len(self.answers) == self.answers.maxlen
        return self.answers[0] + PACE_WINDOW if full else utcnow()

    def answered(self) -> None:
        if self.answers.maxlen is not None:
            self.answers.append(utcnow())

    def free_at(self) -> datetime:
        """When another dispatcher, who knows nothing of these requests, may start sending."""
        if self.answers.maxlen is None or not self.answers:
            return utcnow()
        return self.answers[-1] + PACE_WINDOW


def _pace(holder: str, sender: str, mps: int | None) -> Pace:
    pace = _paces.get((holder, sender))
    if pace is None or pace.answers.maxlen != mps:
        pace = _paces[(holder, sender)] = Pace(mps)
    return pace


def _send_all(engine: Engine, settings: Settings, channel: Channel, claimed: dict[str, deque[Outbox]],
              *, holder: str, token: datetime, at: datetime, mps: int | None) -> Counter:
    """Send each sender's messages as fast as its pace allows, senders interleaved."""
    counts: Counter = Counter()
    tokens = dict.fromkeys(claimed, token)
    paces = {sender: _pace(holder, sender, mps) for sender in claimed}
    try:
        while claimed:
            sender = min(claimed, key=lambda s: paces[s].next_slot())
            _sleep_until(paces[sender].next_slot())
            tokens[sender] = _refresh(engine, sender, holder, claimed[sender], tokens[sender])
            if not claimed[sender]:
                del claimed[sender]
                continue
            message = claimed[sender].popleft()
            try:
                counts[_send_one(engine, settings, channel, message, at)] += 1
            finally:
                paces[sender].answered()
    finally:
        _release(engine, holder, paces, [m.id for queue in claimed.values() for m in queue])
    return counts


def _sleep_until(moment: datetime) -> None:
    wait = (moment - utcnow()).total_seconds()
    if wait > 0:
        time.sleep(wait)


def _refresh(engine: Engine, sender: str, holder: str, queue: deque[Outbox], token: datetime) -> datetime:
    """Renew the lease and our claims; drop rows that are no longer ours to send."""
    now = utcnow()
    ids = [m.id for m in queue]
    with unit_of_work(engine) as session:
        renewed = session.execute(update(SenderLease).where(
            SenderLease.sender == sender, SenderLease.holder == holder).values(until=now + LEASE))
        ours: set[int] = set()
        if renewed.rowcount:
            ours = set(session.scalars(update(Outbox).where(
                Outbox.id.in_(ids), Outbox.status == OutboxStatus.SENDING, Outbox.claimed_at == token,
            ).values(claimed_at=now).returning(Outbox.id)))
        else:  # the lease lapsed and another dispatcher took it: hand our claims back
            _unclaim(session, ids)
    kept = [m for m in queue if m.id in ours]
    queue.clear()
    queue.extend(kept)
    return now


def _send_one(engine: Engine, settings: Settings, channel: Channel, message: Outbox, at: datetime) -> str:
    callback = f"{settings.public_base_url}/twilio/status" if settings.public_base_url else None
    try:
        result = channel.send(message, sender=message.sender, status_callback=callback)
    except SendError as error:
        return _record_failure(engine, message.id, error, at)
    with unit_of_work(engine) as session:
        row = session.get(Outbox, message.id)
        row.status, row.twilio_sid, row.twilio_status = OutboxStatus.SENT, result.sid, result.status
        row.sent_at, row.claimed_at = utcnow(), None  # an earlier error stays, as its history
    return "sent"


def _record_failure(engine: Engine, message_id: int, error: SendError, at: datetime) -> str:
    with unit_of_work(engine) as session:
        row = session.get(Outbox, message_id)
        if error.failure is Failure.TEMPORARY and row.attempts < MAX_ATTEMPTS:
            row.status, row.claimed_at = OutboxStatus.QUEUED, None
            row.not_before = at + BACKOFF * 2 ** (row.attempts - 1)
            row.error_code, row.error = _code(error.code), error.reason[:300]
            return "retried"
        if error.code == WHATSAPP_WINDOW_CLOSED and row.channel == Medium.WHATSAPP and not row.fell_back:
            fall_back_to_sms(row)
            return "retried"
        _fail(row, error.code, error.reason)
        if error.failure is Failure.OPTED_OUT:
            opt_out(session, cooperative_id=row.cooperative_id, phone=row.recipient)
    return "failed"


def _fail(row: Outbox, code: int | None, reason: str) -> None:
    row.status, row.claimed_at = OutboxStatus.FAILED, None
    row.error_code, row.error = _code(code), reason[:300]


def _code(code: int | str | None) -> str | None:
    return str(code) if code is not None else None


def opt_out(session: Session, *, cooperative_id: int | None, phone: str) -> None:
    """The number replied STOP to Twilio: no reminders or notices to it any more."""
    session.execute(update(Member).where(Member.cooperative_id == cooperative_id, Member.phone == phone)
                    .values(opted_out=True))
    session.execute(update(BuyerContact).where(BuyerContact.phone == phone).values(opted_out=True))


def fall_back_to_sms(row: Outbox) -> None:
    """Queue a WhatsApp message again, once, as an SMS from the cooperative's SMS number."""
    row.channel, row.fell_back, row.content_sid = Medium.SMS, True, None
    row.status, row.not_before, row.claimed_at, row.sender = OutboxStatus.QUEUED, None, None, None
    # The WhatsApp message's SID is let go: its later callbacks must not touch the SMS.
    row.twilio_sid, row.twilio_status = None, None
    row.error_code, row.error = str(WHATSAPP_WINDOW_CLOSED), reason_for(WHATSAPP_WINDOW_CLOSED)


def _unclaim(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.status == OutboxStatus.SENDING)
                        .values(status=OutboxStatus.QUEUED, claimed_at=None,
                                attempts=Outbox.attempts - 1))


def _release(engine: Engine, holder: str, paces: dict[str, Pace], unsent: list[int]) -> None:
    """Hand leases on, each free from the moment a newcomer may send from its number."""
    with unit_of_work(engine) as session:
        _unclaim(session, unsent)
        for sender, pace in paces.items():
            session.execute(update(SenderLease).where(
                SenderLease.sender == sender, SenderLease.holder == holder).values(until=pace.free_at()))
