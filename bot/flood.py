"""Loop protection: a number that floods the bot stops getting replies, not its reports.

An auto-reply loop (another bot, a phone answering every SMS) or a member resending in
a panic would otherwise cost the cooperative a reply per message. Past the cooperative's
flood limit in ten minutes the bot answers with empty TwiML, still records every report
once, tells the coordinators once a day, and answers again when the rate falls.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection

from bot import clock, outbox
from bot.notices import coordinators

WINDOW = timedelta(minutes=10)


def alert(connection: Connection, *, cooperative, sender: str, at: datetime, count: int, name: str) -> None:
    """Tell the coordinators, once a day per number, that replies to it have stopped."""
    day = clock.today(cooperative, at)
    for coordinator in coordinators(session=connection, cooperative_id=cooperative.id):
        outbox.queue_for_member(
            session=connection, member=coordinator, kind="flood", template="flood",
            key=f"flood:{cooperative.id}:{sender}:{day}:{coordinator.id}",
            coop=cooperative.name, phone=sender, name=name, count=count,
            variables={"1": sender},
        )
