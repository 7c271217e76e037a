"""Twilio's status callbacks: what became of each message we sent."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from flask import Blueprint, Response, request
from sqlalchemy import Engine, select
from sqlmodel import Session

from bot import clock, puntada
from bot.channels import reason_for
from bot.db import unit_of_work
from bot.dispatch import WHATSAPP_WINDOW_CLOSED, fall_back_to_sms
from bot.models import Channel, Outbox, OutboxStatus
from bot.phones import address_for
from bot.webhook import plain, signed_by_twilio

log = logging.getLogger(__name__)
blueprint = Blueprint("delivery", __name__)

# Twilio's words, in the order a message passes through them. Callbacks arrive out of
# order and repeated; a status only ever moves to a higher rank.
RANKS = {
    "accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, "sent": 2,
    "delivered": 3, "undelivered": 3, "failed": 3, "canceled": 3, "read": 4,
}
FINAL = frozenset({"undelivered", "failed", "canceled"})
# What we keep of a callback's fields: Twilio's error codes are a few digits (the column
# holds 16); a SID is 34 characters (64 kept); a row id fits PostgreSQL's integer.
ERROR_CODE = re.compile(r"[0-9]{1,16}")
ROW_ID = re.compile(r"[1-9][0-9]{0,9}")
MAX_FIELD = 64
MAX_ROW_ID = 2**31 - 1
OUTBOX_STATUS = {
    "delivered": OutboxStatus.DELIVERED, "read": OutboxStatus.DELIVERED,
    "undelivered": OutboxStatus.FAILED, "failed": OutboxStatus.FAILED, "canceled": OutboxStatus.FAILED,
}


@blueprint.post("/twilio/status")
def status() -> Response:
    """Record one status callback for an outbound message."""
    if not signed_by_twilio():
        log.warning("status callback refused: bad or missing X-Twilio-Signature")
        return plain("invalid signature", 403)
    sid, word = request.form.get("MessageSid", ""), request.form.get("MessageStatus", "")
    if not (sid and word):
        return plain("MessageSid and MessageStatus are required", 400)
    if not all(len(value) <= MAX_FIELD and value.isprintable() for value in (sid, word)):
        return plain("MessageSid or MessageStatus is too long or has control characters", 400)
    code = _error_code(request.form.get("ErrorCode"))
    record_status(puntada().engine, sid=sid, status=word, error_code=code,
                  message_id=_row_id(request.args.get("id")), to=request.form.get("To"))
    # 200 even for a SID we do not know, or a code we cannot use: Twilio retries anything else.
    return plain("ok", 200)


def _error_code(text: str | None) -> str | None:
    """Twilio's error code when it is one (digits only); anything else is left out."""
    text = (text or "").strip()
    return text if ERROR_CODE.fullmatch(text) else None


def _row_id(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if ROW_ID.fullmatch(text) and int(text) <= MAX_ROW_ID else None


def record_status(
    engine: Engine, *, sid: str, status: str, error_code: str | None = None, at: datetime | None = None,
    message_id: int | None = None, to: str | None = None,
) -> bool:
    """Move the message with Twilio SID `sid` forward to `status`; False when nothing changed.

    A callback may outrun dispatch's own record of the SID: then `message_id` (the row id
    in the callback URL) finds the row, and the SID is stored with the status.
    """
    status, error_code = status.strip().lower(), (error_code or "").strip() or None
    with unit_of_work(engine) as session:
        query = select(Outbox).where(Outbox.twilio_sid == sid).with_for_update()
        row = session.scalars(query).first() or _awaiting_sid(session, message_id, to)
        if row is None or not moves_forward(row.twilio_status, status):
            return False
        row.twilio_sid = sid
        window_closed = error_code == str(WHATSAPP_WINDOW_CLOSED)
        if window_closed and row.channel == Channel.WHATSAPP and not row.fell_back:
            fall_back_to_sms(row)
            return True
        row.twilio_status = status
        row.status = OUTBOX_STATUS.get(status, OutboxStatus.SENT)
        if row.status == OutboxStatus.DELIVERED and row.delivered_at is None:
            row.delivered_at = at or clock.now()
        if error_code:
            row.error_code, row.error = error_code, reason_for(error_code)
    return True


def _awaiting_sid(session: Session, message_id: int | None, to: str | None) -> Outbox | None:
    """The row being sent right now, its SID not yet stored; None for any other row (a
    late callback of an earlier attempt, or of the WhatsApp message that fell back to SMS,
    must not touch it)."""
    if message_id is None:
        return None
    query = select(Outbox).where(Outbox.id == message_id, Outbox.status == OutboxStatus.SENDING,
                                 Outbox.twilio_sid.is_(None)).with_for_update()
    row = session.scalars(query).first()
    if row is None or (to and to != address_for(row.recipient, row.channel)):
        return None
    return row


def moves_forward(current: str | None, new: str) -> bool:
    """Whether Twilio's status `new` comes after `current` (unknown words never move)."""
    if new not in RANKS or current in FINAL:
        return False
    return current is None or RANKS[new] > RANKS.get(current, -1)
