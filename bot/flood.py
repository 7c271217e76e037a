"""Loop protection: a number that floods the bot stops getting replies, not its reports.

An auto-reply loop (another bot, a phone answering every SMS) or a member resending in
a panic would otherwise cost the cooperative a reply per message. Past the cooperative's
flood limit in ten minutes the bot answers with empty TwiML, still records every report
once, tells the coordinators once a day, and answers again when the rate falls.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from bot import clock, outbox
from bot.models import Cooperative, InboundMessage
from bot.notices import coordinators

WINDOW = timedelta(minutes=10)


def recent(*, session: Session, cooperative: Cooperative, message: InboundMessage) -> int:
    """How many messages this sender sent this cooperative in the last ten minutes."""
    query = select(func.count()).select_from(InboundMessage).where(
        InboundMessage.received_at > message.received_at - WINDOW,
        InboundMessage.received_at <= message.received_at,
        InboundMessage.sender == message.sender,
        InboundMessage.cooperative_id == cooperative.id,
    )
    return session.execute(query).scalar_one()


def alert(
    *, session: Session, cooperative: Cooperative, message: InboundMessage, count: int, name: str
) -> None:
    """Tell the coordinators, once a day per number, that replies to it have stopped."""
    day = clock.today(cooperative, message.received_at)
    for coordinator in coordinators(session=session, cooperative_id=cooperative.id):
        outbox.queue_for_member(
            session=session, member=coordinator, kind="flood", template="flood",
            key=f"flood:{cooperative.id}:{message.sender}:{day}:{coordinator.id}",
            coop=cooperative.name, phone=message.sender, name=name, count=count,
            variables={"1": message.sender},
        )
