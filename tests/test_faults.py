"""Faults: Twilio down for minutes, a dispatcher and a scheduler killed with SIGKILL mid-batch.

Nothing queued is lost. A message can go out twice only when the process died between
Twilio accepting it and the database recording that; these tests count such messages
and hold them to the one request that was in flight when the process died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlmodel import Session

from bot.channels import TwilioChannel
from bot.db import unit_of_work
from bot.dispatch import dispatch
from bot.models import Cooperative, Member, Outbox, SenderLease
from bot.outbox import queue
from tests import twilio_standin
from tests.test_dispatch import many_messages
from tests.twilio_standin import ACCOUNT_SID, AUTH_TOKEN, Answer

ROOT = Path(__file__).resolve().parent.parent


def statuses(engine) -> Counter:
    with Session(engine) as session:
        return Counter(session.scalars(select(Outbox.status)))


def accepted_per_recipient(twilio) -> Counter:
    """How many times Twilio accepted (201) a message to each number."""
    return Counter(r.form["To"] for r in twilio.requests if r.sid)


def accepted_per_message(twilio) -> Counter:
    """How many times Twilio accepted each message (recipient and text)."""
    return Counter((r.form["To"], r.form.get("Body")) for r in twilio.requests if r.sid)


def unsent(engine) -> int:
    counts = statuses(engine)
    return counts["queued"] + counts["sending"]


def test_twilio_down_for_minutes_then_back_delivers_everything_once(engine, club, settings, now):
    with twilio_standin.running() as twilio:
        recipients = many_messages(engine, club, 12)
        for to in recipients:  # down for a while: unavailable, overloaded, a server error
            twilio.script(to, Answer(503), Answer(429, code=20429), Answer(500), Answer(503))
        twilio_settings = twilio_standin.settings_for(settings, twilio.url)
        channel = TwilioChannel(twilio_settings, timeout=0.5)
        moment = now
        for _ in range(12):  # the scheduler's dispatch, minutes apart as backoff allows
            dispatch(engine, twilio_settings, channel, at=moment)
            moment += timedelta(minutes=2)
        assert statuses(engine) == Counter({"sent": 12})
        assert accepted_per_recipient(twilio) == Counter({to: 1 for to in recipients})
        assert len(twilio.requests) == 12 * 5  # four failures and one success each
        with Session(engine) as session:
            assert set(session.scalars(select(Outbox.attempts))) == {5}


def test_a_dispatcher_killed_mid_batch_loses_nothing(engine, club, settings, database_url, now):
    with twilio_standin.running() as twilio:
        recipients = many_messages(engine, club, 10)
        for to in recipients:
            twilio.script(to, Answer(201, delay=0.25))  # slow enough to be caught mid-batch
        process = _dispatcher(database_url, twilio, now)
        _wait_for(lambda: len(twilio.requests) >= 3, seconds=30)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        before = statuses(engine)
        assert before["sent"] >= 2 and before["sending"] + before["queued"] >= 1  # it died mid-batch
        _five_minutes_pass(engine)
        twilio_settings = twilio_standin.settings_for(settings, twilio.url)
        dispatch(engine, twilio_settings, TwilioChannel(twilio_settings), at=now)
        assert statuses(engine) == Counter({"sent": 10})
        accepted = accepted_per_recipient(twilio)
        assert set(accepted) == set(recipients)  # nothing lost
        assert sum(n - 1 for n in accepted.values()) <= 1  # at most the one in flight went twice


def test_a_scheduler_killed_mid_dispatch_resumes_without_double_reminders(
    engine, club, database_url, tmp_path
):
    always = "00:00"
    with unit_of_work(engine) as session:  # reminders due now, whatever the real hour
        coop = session.get(Cooperative, club.cooperative.id)
        coop.reminder_time, coop.quiet_start, coop.quiet_end = always, always, always
        coop.working_days = "mon,tue,wed,thu,fri,sat,sun"
        for n in range(20):
            session.add(Member(cooperative_id=coop.id, name=f"Socia {n}", phone=f"+5917300{n:04d}"))
    with twilio_standin.running() as twilio:
        for n in range(20):
            twilio.script(f"+5917300{n:04d}", Answer(201, delay=0.2))
        first = _scheduler(database_url, twilio, tmp_path)
        _wait_for(lambda: len(twilio.requests) >= 4, seconds=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        _five_minutes_pass(engine)
        second = _scheduler(database_url, twilio, tmp_path)  # catches up: the keys hold
        try:
            _wait_for(lambda: unsent(engine) == 0, seconds=90)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
    with Session(engine) as session:
        reminded = Counter(session.scalars(select(Outbox.recipient).where(Outbox.kind == "reminder")))
        rows = session.execute(select(func.count()).select_from(Outbox)).scalar_one()
    assert len(reminded) == 23 and set(reminded.values()) == {1}  # every embroiderer, once
    accepted = accepted_per_message(twilio)
    assert len(accepted) == rows  # every message queued reached Twilio
    assert sum(n - 1 for n in accepted.values()) <= 1  # at most the one in flight went twice


def _dispatcher(database_url: str, twilio, at: datetime) -> subprocess.Popen:
    args = [database_url, twilio.url, "100", "10", at.isoformat(), str(time.time()), "0"]
    return subprocess.Popen([sys.executable, "-m", "tests.dispatch_worker", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _scheduler(database_url: str, twilio, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "MESSAGING_BACKEND": "twilio",
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_API_BASE_URL": twilio.url, "SECRET_KEY": "test", "SPOOL_DIR": str(tmp_path / "spool"),
           "TWILIO_MAX_MPS": "100"}
    return subprocess.Popen([str(Path(sys.executable).parent / "puntada"), "scheduler"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _five_minutes_pass(engine) -> None:
    """What the dead process's claims and sender leases look like once STALE_AFTER has gone by."""
    past = datetime.now(UTC) - timedelta(minutes=6)
    with unit_of_work(engine) as session:
        session.execute(update(Outbox).where(Outbox.status == "sending").values(claimed_at=past))
        session.execute(update(SenderLease).values(until=past))


def _wait_for(condition, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


__all__ = ["queue"]
