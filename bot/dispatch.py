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
Twilio has no idempotency key for messages). Before each send a dispatcher refreshes
all its claims at once (see Claims); a row left "sending" for STALE_AFTER without a
refresh belongs to a dispatcher that died, and goes back to the queue.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select, true, update
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
)
from bot.models import Channel as Medium
from bot.phones import address_for

MAX_ATTEMPTS = 5
BACKOFF = timedelta(seconds=30)  # 30 s, 1, 2, 4 min between attempts, then failed
STALE_AFTER = timedelta(minutes=5)  # far above a send's bounded wait (timeouts, pacing)
LEASE = timedelta(seconds=30)
REFRESH_EVERY = timedelta(seconds=5)  # leases and claims renewed this often while sending
WHATSAPP_WINDOW = timedelta(hours=24)
WHATSAPP_WINDOW_CLOSED = 63016  # Twilio's error for a free-form WhatsApp message outside it
# Twilio counts messages per second; 20 ms more covers clock granularity.
PACE_WINDOW = timedelta(seconds=1.02)
# What she just asked for: a sign-in code answers what she is doing right now, a deferred
# reply (spool.py) what she texted. Quiet hours would lock her out (PRODUCT.md allows
# replies), and having asked, she gets it even if she opted out of notices since.
ASKED_FOR = frozenset({"code", "reply"})
QUIET_EXEMPT = ASKED_FOR
# "¿Cuántas piezas terminaste hoy?" is wrong on any other day: held past its day by quiet
# hours or retries, a reminder is dropped rather than sent the next morning.
DAY_BOUND = frozenset({"reminder"})
EXPIRED = "Expired: a reminder is only useful on its day"
MEMBER_OPTED_OUT = "The member opted out"
MEMBER_INACTIVE = "The member is no longer active"
CONTACT_OPTED_OUT = "The contact opted out"

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


@dataclass(frozen=True)
class Moments:
    """The moment dispatch judges the outbox at, on each cooperative's clock: an `at`
    without offset (CONTRACT.md's --at) is each cooperative's local time; rows without a
    cooperative read it as UTC."""

    default: datetime
    cooperatives: dict[int, datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, at: datetime | None, cooperatives: Iterable[Cooperative]) -> Moments:
        """`at` (now when None) for each cooperative."""
        if at is None or at.tzinfo is not None:
            return cls(at or clock.now())
        return cls(at.replace(tzinfo=UTC), {c.id: clock.instant(c, at) for c in cooperatives})

    def at(self, cooperative_id: int | None) -> datetime:
        """The aware moment on that cooperative's clock."""
        return self.cooperatives.get(cooperative_id, self.default)

    def due(self):
        """SQL: queued rows whose retry time (not_before) has come on their cooperative's clock."""
        by_moment: dict[datetime, list[int]] = defaultdict(list)
        for ident, moment in self.cooperatives.items():
            by_moment[moment].append(ident)
        ready = [and_(Outbox.cooperative_id.in_(ids), Outbox.not_before <= moment)
                 for moment, ids in by_moment.items()]
        if self.cooperatives:
            ready.append(and_(Outbox.cooperative_id.is_(None), Outbox.not_before <= self.default))
        else:  # one moment for every row
            ready.append(Outbox.not_before <= self.default)
        return Outbox.status == OutboxStatus.QUEUED, or_(Outbox.not_before.is_(None), *ready)


def dispatch(
    engine: Engine, settings: Settings, channel: Channel, *, at: datetime | None = None, limit: int = 200
) -> Dispatched:
    """Send what the outbox holds and quiet hours allow, at most `limit` messages.

    `at` is the moment the outbox is judged at (quiet hours, retry times, WhatsApp's
    window, a reminder's day); without an offset, it is each cooperative's local time.
    Claims and leases always use the real clock.
    """
    holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident()}"
    # A channel that says nothing of pacing is paced: the cap is the safe default.
    mps = settings.twilio_max_mps if getattr(channel, "paced", True) else None
    recover_stale(engine)
    with unit_of_work(engine) as session:
        cooperatives = {c.id: c for c in session.scalars(select(Cooperative))}
        moments = Moments.of(at, cooperatives.values())
        held = [c.id for c in cooperatives.values() if clock.in_quiet_hours(c, moments.at(c.id))]
        claims, unsendable = _claim(session, settings, cooperatives, moments=moments, held=held,
                                    holder=holder, limit=limit)
        held_count = _count_held(session, moments, held)
    counts = _send_all(engine, settings, channel, claims, moments=moments, mps=mps)
    return Dispatched(counts["sent"], counts["retried"], counts["failed"] + unsendable, held_count)


def recover_stale(engine: Engine) -> int:
    """Requeue messages a dead dispatcher left "sending"; returns how many."""
    cutoff = clock.now() - STALE_AFTER
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


def _count_held(session: Session, moments: Moments, held: list[int]) -> int:
    if not held:
        return 0
    query = select(func.count()).select_from(Outbox).where(
        *moments.due(), Outbox.cooperative_id.in_(held), Outbox.kind.not_in(QUIET_EXEMPT))
    return session.execute(query).scalar_one()


def _claim(session: Session, settings: Settings, cooperatives: dict[int, Cooperative], *, moments: Moments,
           held: list[int], holder: str, limit: int) -> tuple[Claims, int]:
    """Claim due rows whose sender's lease this dispatcher takes, grouped by sender; fail
    those that must not go out any more, or have no sender at all."""
    query = select(Outbox).where(*moments.due())
    if held:
        query = query.where(or_(Outbox.cooperative_id.is_(None), Outbox.cooperative_id.not_in(held),
                                Outbox.kind.in_(QUIET_EXEMPT)))
    rows = session.scalars(query.order_by(Outbox.id).limit(limit).with_for_update(skip_locked=True)).all()
    members, contacts_out = _recipients(session, rows)
    planned: dict[str, list[tuple[Outbox, Route]]] = {}
    unsendable = 0
    for row in rows:
        cooperative, at = cooperatives.get(row.cooperative_id), moments.at(row.cooperative_id)
        member = members.get((row.cooperative_id, row.recipient))
        plan = route(row, cooperative, member, at)
        sender = sender_for(settings, cooperative, plan.channel)
        reason = _unwanted(row, cooperative, member, row.recipient in contacts_out, at)
        if reason or sender is None:
            _fail(row, None, reason or "There is no number to send it from")
            unsendable += 1
            continue
        planned.setdefault(sender, []).append((row, plan))
    now = clock.now()
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
    return Claims(claimed, token=now, holder=holder), unsendable


def _recipients(session: Session, rows: Iterable[Outbox]) -> tuple[dict[tuple[int, str], Member], set[str]]:
    """The members the rows go to, by (cooperative, phone), and the opted-out buyer contacts' phones."""
    phones = {row.recipient for row in rows}
    cooperative_ids = {row.cooperative_id for row in rows if row.cooperative_id is not None}
    if not phones:
        return {}, set()
    members = {(m.cooperative_id, m.phone): m for m in session.scalars(select(Member).where(
        Member.cooperative_id.in_(cooperative_ids), Member.phone.in_(phones)))} if cooperative_ids else {}
    contacts_out = set(session.scalars(select(BuyerContact.phone).where(
        BuyerContact.phone.in_(phones), BuyerContact.opted_out.is_(True))))
    return members, contacts_out


def _unwanted(row: Outbox, cooperative: Cooperative | None, member: Member | None, contact_opted_out: bool,
              at: datetime) -> str | None:
    """Why a queued message must not go out any more, if it must not."""
    if row.kind in DAY_BOUND and _day(cooperative, row.created_at) < _day(cooperative, at):
        return EXPIRED
    if row.kind in ASKED_FOR:
        return None
    if member is not None:  # a member of this cooperative: her own state decides
        if member.opted_out:
            return MEMBER_OPTED_OUT
        return None if member.active else MEMBER_INACTIVE
    return CONTACT_OPTED_OUT if contact_opted_out else None


def _day(cooperative: Cooperative | None, moment: datetime) -> date:
    return clock.today(cooperative, moment) if cooperative else moment.astimezone(UTC).date()


def _take_lease(session: Session, sender: str, holder: str, now: datetime) -> bool:
    """Take the sender's lease if it is ours already or its holder let it go."""
    insert = _INSERTS[session.get_bind().dialect.name](SenderLease)
    statement = insert.values(sender=sender, holder=holder, until=now + LEASE).on_conflict_do_update(
        index_elements=["sender"],
        set_={"holder": holder, "until": now + LEASE},
        where=or_(SenderLease.until <= now, SenderLease.holder == holder),
    )
    return session.execute(statement.returning(SenderLease.sender)).first() is not None


class Claims:
    """This dispatcher's claimed rows per sender, and the claimed_at they all carry: its
    token. A row whose claimed_at is no longer the token is no longer ours (recovered as
    stale, claimed by another dispatcher). Every refresh renews all the claims, so a
    slow sender never lets another sender's claims go stale."""

    def __init__(self, queues: dict[str, deque[Outbox]], *, token: datetime, holder: str):
        self.queues, self.token, self.holder = queues, token, holder
        self.lock = threading.Lock()  # senders may be served by threads of their own
        self.renewed: dict[str, datetime] = {}  # when each sender's lease was last renewed

    def senders(self) -> list[str]:
        """The senders with messages still to send."""
        with self.lock:
            return [sender for sender, queue in self.queues.items() if queue]

    def next(self, engine: Engine, sender: str) -> Outbox | None:
        """Renew the sender's lease and every claim, then take the sender's next message."""
        with self.lock:
            now = clock.now()
            # Renewing costs a transaction; every REFRESH_EVERY is far inside the lease and
            # the stale-claim limit, so nothing lapses between renewals.
            last = self.renewed.get(sender)
            if last is None or now - last >= REFRESH_EVERY or now - self.token >= REFRESH_EVERY:
                self._refresh(engine, sender)
            queue = self.queues[sender]
            return queue.popleft() if queue else None

    def release(self, engine: Engine, paces: dict[str, Pace]) -> None:
        """Hand back what was not sent, and the leases, each free from the moment a
        newcomer may send from its number."""
        with self.lock, unit_of_work(engine) as session:
            _unclaim(session, self._ids(), self.token)
            for queue in self.queues.values():
                queue.clear()
            for sender, pace in paces.items():
                session.execute(update(SenderLease).where(SenderLease.sender == sender,
                                                          SenderLease.holder == self.holder)
                                .values(until=pace.free_at()))

    def _refresh(self, engine: Engine, sender: str) -> None:
        now = clock.now()
        with unit_of_work(engine) as session:
            renewed = session.execute(update(SenderLease).where(
                SenderLease.sender == sender, SenderLease.holder == self.holder).values(until=now + LEASE))
            if not renewed.rowcount:  # the lease lapsed and another dispatcher took it
                _unclaim(session, self._ids(sender), self.token)
                self.queues[sender].clear()
            ids = self._ids()
            ours = set(session.scalars(update(Outbox).where(
                Outbox.id.in_(ids), Outbox.status == OutboxStatus.SENDING, Outbox.claimed_at == self.token,
            ).values(claimed_at=now).returning(Outbox.id))) if ids else set()
        self.token = now
        self.renewed[sender] = now
        for queue in self.queues.values():
            kept = [m for m in queue if m.id in ours]
            queue.clear()
            queue.extend(kept)

    def _ids(self, sender: str | None = None) -> list[int]:
        queues = [self.queues[sender]] if sender else self.queues.values()
        return [m.id for queue in queues for m in queue]


class Pace:
    """When a sender may send next: at most `mps` requests in any second, counting each
    request as reaching Twilio anywhere between its sending and its answer."""

    def __init__(self, mps: int | None):
        self.answers: deque[datetime] = deque(maxlen=mps)  # the last `mps` answers' times

    def next_slot(self) -> datetime:
        """The earliest moment the next request may start."""
        full = self.answers.maxlen is not None and len(self.answers) == self.answers.maxlen
        return self.answers[0] + PACE_WINDOW if full else clock.now()

    def answered(self) -> None:
        if self.answers.maxlen is not None:
            self.answers.append(clock.now())

    def free_at(self) -> datetime:
        """When another dispatcher, who knows nothing of these requests, may start sending."""
        if self.answers.maxlen is None or not self.answers:
            return clock.now()
        return self.answers[-1] + PACE_WINDOW


def _pace(holder: str, sender: str, mps: int | None) -> Pace:
    pace = _paces.get((holder, sender))
    if pace is None or pace.answers.maxlen != mps:
        pace = _paces[(holder, sender)] = Pace(mps)
    return pace


def _send_all(engine: Engine, settings: Settings, channel: Channel, claims: Claims, *, moments: Moments,
              mps: int | None) -> Counter:
    """Send each sender's messages as fast as its pace allows: senders interleaved in this
    thread, or each in a thread of its own up to DISPATCH_CONCURRENCY at once."""
    counts: Counter = Counter()
    paces = {sender: _pace(claims.holder, sender, mps) for sender in claims.queues}
    workers = min(settings.dispatch_concurrency, len(claims.queues))
    try:
        if workers > 1:
            # One sender's messages stay in one thread, so its pace is kept as before.
            def send_from(sender: str) -> Counter:
                return _send_from(engine, settings, channel, claims, sender, pace=paces[sender],
                                  moments=moments)

            with ThreadPoolExecutor(workers, thread_name_prefix="dispatch") as pool:
                for done in pool.map(send_from, list(claims.queues)):
                    counts += done
            return counts
        while senders := claims.senders():
            sender = min(senders, key=lambda s: paces[s].next_slot())
            _sleep_until(paces[sender].next_slot())
            message = claims.next(engine, sender)
            if message is None:
                continue
            try:
                counts[_send_one(engine, settings, channel, message, moments)] += 1
            finally:
                paces[sender].answered()
    finally:
        claims.release(engine, paces)
    return counts


def _send_from(engine: Engine, settings: Settings, channel: Channel, claims: Claims, sender: str, *,
               pace: Pace, moments: Moments) -> Counter:
    """One sender's messages in order, at its pace."""
    counts: Counter = Counter()
    while True:
        _sleep_until(pace.next_slot())
        message = claims.next(engine, sender)
        if message is None:
            return counts
        try:
            counts[_send_one(engine, settings, channel, message, moments)] += 1
        finally:
            pace.answered()


def _sleep_until(moment: datetime) -> None:
    wait = (moment - clock.now()).total_seconds()
    if wait > 0:
        time.sleep(wait)


def status_callback(settings: Settings, message: Outbox) -> str | None:
    """Where Twilio reports on the message: its row id lets a callback that outruns our
    own record of the SID still find it (and Twilio signs the URL with its query)."""
    if not settings.public_base_url:
        return None
    return f"{settings.public_base_url}/twilio/status?id={message.id}"


def _send_one(engine: Engine, settings: Settings, channel: Channel, message: Outbox, moments: Moments) -> str:
    try:
        callback = status_callback(settings, message)
        result = channel.send(message, sender=message.sender, status_callback=callback)
    except SendError as error:
        return _record_failure(engine, message.id, error, moments.at(message.cooperative_id))
    with unit_of_work(engine) as session:
        # Unless Twilio's status callback came first (delivery.py found the row by its id and
        # stored this sid, or moved it to SMS after 63016), the row becomes "sent" here.
        sent = session.execute(
            update(Outbox)
            .where(Outbox.id == message.id, Outbox.channel == message.channel,
                   Outbox.twilio_sid.is_distinct_from(result.sid) if result.sid is not None else true())
            .values(status=OutboxStatus.SENT, twilio_sid=result.sid, twilio_status=result.status,
                    sent_at=clock.now(), claimed_at=None)  # an earlier error stays, as its history
            .execution_options(synchronize_session=False)
        )
        if not sent.rowcount:  # the callback came first: it already moved the row on
            row = session.get(Outbox, message.id, with_for_update=True)
            row.claimed_at = None
            if row.twilio_sid == result.sid and row.sent_at is None:
                row.sent_at = clock.now()
    return "sent"


def _record_failure(engine: Engine, message_id: int, error: SendError, at: datetime) -> str:
    with unit_of_work(engine) as session:
        row = session.get(Outbox, message_id, with_for_update=True)
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


def _unclaim(session: Session, ids: list[int], token: datetime) -> None:
    """Queue our unsent claims again; a row whose claimed_at is not our token is not ours."""
    if ids:
        session.execute(update(Outbox).where(
            Outbox.id.in_(ids), Outbox.status == OutboxStatus.SENDING, Outbox.claimed_at == token,
        ).values(status=OutboxStatus.QUEUED, claimed_at=None, attempts=Outbox.attempts - 1))
