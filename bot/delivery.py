"""Twilio's status callbacks: what became of each message we sent."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, Response, request
from sqlalchemy import Engine, select

from bot import puntada
from bot.channels import reason_for
from bot.db import unit_of_work
from bot.dispatch import WHATSAPP_WINDOW_CLOSED, fall_back_to_sms
from bot.models import Channel, Outbox, OutboxStatus, utcnow
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
    record_status(puntada().engine, sid=sid, status=word, error_code=request.form.get("ErrorCode"))
    # 200 even for a SID we do not know: Twilio retries anything else.
    return plain("ok", 200)


def record_status(
    engine: Engine, *, sid: str, status: str, error_code: str | None = None, at: datetime | None = None
) -> bool:
    """Move the message with Twilio SID `sid` forward to `status`; False when nothing changed."""
    status, error_code = status.strip().lower(), (error_code or "").strip() or None
    with unit_of_work(engine) as session:
        query = select(Outbox).where(Outbox.twilio_sid == sid).with_for_update()
        row = session.scalars(query).first()
        if row is None or not moves_forward(row.twilio_status, status):
            return False
        window_closed = error_code == str(WHATSAPP_WINDOW_CLOSED)
        if window_closed and row.channel == Channel.WHATSAPP and not row.fell_back:
            fall_back_to_sms(row)
            return True
        row.twilio_status = status
        row.status = OUTBOX_STATUS.get(status, OutboxStatus.SENT)
        if row.status == OutboxStatus.DELIVERED and row.delivered_at is None:
            row.delivered_at = at or utcnow()
        if error_code:
            row.error_code, row.error = error_code, reason_for(error_code)
    return True


def moves_forward(current: str | None, new: str) -> bool:
    """Whether Twilio's status `new` comes after `current` (unknown words never move)."""
    if new not in RANKS or current in FINAL:
        return False
    return current is None or RANKS[new] > RANKS.get(current, -1)
