"""One dispatcher in a process of its own, for the tests that start several at once.

    python -m tests.dispatch_worker DATABASE_URL TWILIO_BASE_URL MPS LIMIT AT START PAUSE

waits until the wall-clock moment START (seconds since the epoch), then dispatches as if
at AT (ISO 8601) until nothing is left to send, and prints what it did as JSON. After a
run that sent something it pauses PAUSE seconds (long enough, its lease passes to another).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from bot.channels import TwilioChannel
from bot.config import Settings
from bot.db import make_engine
from bot.dispatch import dispatch
from bot.models import Outbox, OutboxStatus
from tests import twilio_standin

DEADLINE_SECONDS = 60


def main(url: str, base_url: str, mps: str, limit: str, at: str, start: str, pause: str) -> None:
    settings = twilio_standin.settings_for(Settings(database_url=url), base_url, twilio_max_mps=int(mps))
    engine, channel = make_engine(url), TwilioChannel(settings)
    moment = datetime.fromisoformat(at)
    time.sleep(max(0.0, float(start) - time.time()))
    sent, deadline = 0, time.monotonic() + DEADLINE_SECONDS
    while _unsent(engine) and time.monotonic() < deadline:
        sent_now = dispatch(engine, settings, channel, at=moment, limit=int(limit)).sent
        sent += sent_now
        time.sleep(float(pause) if sent_now else 0.02)  # else others hold the leases: look again soon
    engine.dispose()
    print(json.dumps({"sent": sent}))


def _unsent(engine) -> int:
    query = select(func.count()).select_from(Outbox).where(
        Outbox.status.in_([OutboxStatus.QUEUED, OutboxStatus.SENDING]))
    with Session(engine) as session:
        return session.execute(query).scalar_one()


if __name__ == "__main__":
    main(*sys.argv[1:])
