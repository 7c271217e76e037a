"""One-time sign-in codes: sent through the outbox, kept only as a keyed hash, used once.

Limits are counted in the database (LoginAttempt), so they hold across web processes:
a few codes per phone and per address, and a few wrong codes, in a sliding window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, text, update
from sqlmodel import Session

from bot import outbox
from bot.models import (
    BuyerContact,
    Cooperative,
    LoginAttempt,
    LoginCode,
    Member,
    Order,
    Role,
)
from bot.phones import BadPhone, to_e164
from bot.render import render

CODE_LIFETIME = timedelta(minutes=10)
WINDOW = timedelta(minutes=15)
SENT_PER_PHONE = 3
SENT_PER_CLIENT = 10
FAILED_PER_PHONE = 5
FAILED_PER_CLIENT = 20
KEPT = timedelta(days=1)


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    LIMITED = "limited"


@dataclass(frozen=True)
class Identity:
    """Who a phone signs in as: a coordinator (member id) or a buyer contact (contact id)."""

    kind: str  # "coordinator" or "buyer"
    id: int


def phones_for(*, session: Session, typed: str, default_region: str) -> list[str]:
    """The E.164 numbers `typed` can mean: read with the default country and each cooperative's."""
    regions = dict.fromkeys([default_region, *session.scalars(select(Cooperative.country).distinct())])
    found = []
    for region in regions:
        try:
            found.append(to_e164(typed, region))
        except BadPhone:
            continue
    return list(dict.fromkeys(found))


def identity_for(*, session: Session, phone: str) -> Identity | None:
    """The dashboard identity of a phone: an active coordinator first, else a buyer contact."""
    coordinator = session.scalars(
        select(Member.id)
        .where(Member.phone == phone, Member.role == Role.COORDINATOR, Member.active)
        .order_by(Member.id)
    ).first()
    if coordinator is not None:
        return Identity("coordinator", coordinator)
    contact = session.scalars(
        select(BuyerContact.id).where(BuyerContact.phone == phone).order_by(BuyerContact.id)
    ).first()
    return Identity("buyer", contact) if contact is not None else None


def lock_phone(*, session: Session, phone: str) -> None:
    """Serialise sign-in work on one phone until this transaction ends.

    Checking a limit and counting an attempt must happen as one step, or concurrent guesses
    all read the count before any of them adds to it. SQLite's units of work already take
    the write lock up front (BEGIN IMMEDIATE); on PostgreSQL a transaction-level advisory lock
    keyed by the phone does it (a row lock would not do: an unknown phone has no rows).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:phone))"), {"phone": phone})


def limited(*, session: Session, kind: str, phone: str, client: str, now: datetime) -> bool:
    """Whether this phone or this address has used up its codes ("sent") or guesses ("failed")."""
    per_phone, per_client = (
        (SENT_PER_PHONE, SENT_PER_CLIENT) if kind == "sent" else (FAILED_PER_PHONE, FAILED_PER_CLIENT)
    )
    since = now - WINDOW
    return (
        _count(session, LoginAttempt.phone == phone, kind, since) >= per_phone
        or _count(session, LoginAttempt.client == client, kind, since) >= per_client
    )


def _count(session: Session, who, kind: str, since: datetime) -> int:
    query = select(func.count()).select_from(LoginAttempt).where(
        who, LoginAttempt.kind == kind, LoginAttempt.at >= since
    )
    return session.execute(query).scalar_one()


def send_code(*, session: Session, phone: str, client: str, secret: str, now: datetime) -> bool:
    """Queue a new code to `phone` if it may sign in; False when no code was sent.

    The attempt is counted either way, so that unknown numbers cannot be probed faster.
    """
    lock_phone(session=session, phone=phone)
    _forget_old(session, now)
    session.add(LoginAttempt(phone=phone, client=client, kind="sent", at=now))
    identity = identity_for(session=session, phone=phone)
    if identity is None:
        return False
    # Only the newest code is good: earlier ones (perhaps read over a shoulder) expire now.
    session.execute(
        update(LoginCode)
        .where(LoginCode.phone == phone, LoginCode.used_at.is_(None), LoginCode.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    row = LoginCode(phone=phone, code_hash=digest(secret, phone, code), expires_at=now + CODE_LIFETIME,
                    created_at=now)
    session.add(row)
    session.flush()
    recipient = _recipient(session, identity)
    outbox.queue(
        session=session,
        key=f"code:{row.id}",
        recipient=phone,
        body=_body(recipient.language, code),
        kind="code",
        channel=recipient.channel,
        cooperative_id=recipient.cooperative_id,
        variables={"1": code},
    )
    return True


@dataclass(frozen=True)
class _Recipient:
    language: str
    channel: str
    cooperative_id: int | None


def _recipient(session: Session, identity: Identity) -> _Recipient:
    if identity.kind == "coordinator":
        member = session.get(Member, identity.id)
        return _Recipient(member.language, member.channel, member.cooperative_id)
    contact = session.get(BuyerContact, identity.id)
    # A buyer has no number of its own: the code goes out from a club it buys from.
    cooperative_id = session.scalars(
        select(Order.cooperative_id).where(Order.buyer_id == contact.buyer_id).order_by(Order.id.desc())
    ).first()
    if cooperative_id is None:
        cooperative_id = session.scalars(select(Cooperative.id).order_by(Cooperative.id)).first()
    return _Recipient(contact.language, "sms", cooperative_id)


def _body(language: str, code: str) -> str:
    return render("login_code", language, code=code, minutes=int(CODE_LIFETIME.total_seconds() // 60))


def _forget_old(session: Session, now: datetime) -> None:
    # Attempts matter for WINDOW and codes for CODE_LIFETIME; a day later they are only clutter.
    cutoff = now - KEPT
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff))
    session.execute(delete(LoginCode).where(LoginCode.expires_at < cutoff))


def check_code(
    *, session: Session, phone: str, code: str, client: str, secret: str, now: datetime
) -> tuple[Outcome, int | None]:
    """Spend `code` for `phone`: OK once, with the spent code's id; every wrong guess counts.

    Call it in the unit of work that commits the attempt: the phone stays locked until then.
    The id names the session the code starts (see session_alive and sign_out).
    """
    lock_phone(session=session, phone=phone)
    if limited(session=session, kind="failed", phone=phone, client=client, now=now):
        return Outcome.LIMITED, None
    code = "".join(code.split())
    row = session.scalars(
        select(LoginCode)
        .where(LoginCode.phone == phone, LoginCode.code_hash == digest(secret, phone, code))
        .order_by(LoginCode.id.desc())
    ).first()
    if row is None:
        session.add(LoginAttempt(phone=phone, client=client, kind="failed", at=now))
        return Outcome.WRONG, None
    if row.used_at is not None:
        return Outcome.USED, None
    if row.expires_at <= now:
        return Outcome.EXPIRED, None
    # Conditional on being unused: of two requests racing with the same code, one wins.
    spent = session.execute(
        update(LoginCode)
        .where(LoginCode.id == row.id, LoginCode.used_at.is_(None))
        .values(used_at=now)
        .returning(LoginCode.id)
        .execution_options(synchronize_session=False)
    ).first()
    return (Outcome.OK, row.id) if spent else (Outcome.USED, None)


def session_alive(*, session: Session, code_id, phone: str) -> bool:
    """Whether the session this spent code started is still signed in.

    A code is spent before it expires (used_at < expires_at); signing out moves its expiry
    back to the moment it was spent, so a copy of the session cookie dies with it. Codes are
    forgotten a day after they expire, so a session lasts at most about a day.
    """
    if not isinstance(code_id, int):
        return False
    row = session.get(LoginCode, code_id)
    return row is not None and row.phone == phone and row.used_at is not None and row.used_at < row.expires_at


def sign_out(*, session: Session, code_id) -> None:
    """End the session that the spent code `code_id` started, wherever its cookie is."""
    if isinstance(code_id, int):
        session.execute(
            update(LoginCode).where(LoginCode.id == code_id, LoginCode.used_at.is_not(None))
            .values(expires_at=LoginCode.used_at)
            .execution_options(synchronize_session=False)
        )


def digest(secret: str, phone: str, code: str) -> str:
    """The stored form of a code: HMAC-SHA256 keyed with the app's secret, bound to the phone."""
    return hmac.new(secret.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()
