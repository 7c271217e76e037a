"""The clock: one schedule per cooperative on its own clock, catch-up, and `puntada serve`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlmodel import Session

from bot import jobs
from bot.db import unit_of_work
from bot.models import Cooperative, Outbox
from bot.scheduler import Clock
from tests import factories as f
from tests.factories import ELENA, LIDIA, ROSA

ROOT = Path(__file__).resolve().parent.parent


def triggers(scheduler) -> dict[str, str]:
    return {job.id: str(job.trigger) for job in scheduler.get_jobs() if ":" in job.id}


def test_each_cooperative_gets_its_reminder_and_digest_on_its_own_clock(engine, club, settings, runner):
    runner.invoke(args=["coop", "add", "Taller Sevilla", "--number", "+34911000100",
                        "--timezone", "Europe/Madrid", "--country", "ES", "--reminder-time", "18:30"])
    runner.invoke(args=["coop", "set", "Taller Sevilla", "--working-days", "mon-fri"])
    scheduler = BackgroundScheduler()
    clock = Clock(scheduler, engine, settings, send=lambda: None)
    clock.sync()
    coop_id = club.cooperative.id
    assert triggers(scheduler) == {
        f"reminders:{coop_id}": "cron[day_of_week='mon,tue,wed,thu,fri,sat', hour='17', minute='0']",
        f"digest:{coop_id}": "cron[day_of_week='mon,tue,wed,thu,fri,sat', hour='19', minute='0']",
        f"reminders:{coop_id + 1}": "cron[day_of_week='mon,tue,wed,thu,fri', hour='18', minute='30']",
        f"digest:{coop_id + 1}": "cron[day_of_week='mon,tue,wed,thu,fri', hour='19', minute='0']",
    }
    assert {str(job.trigger.timezone) for job in scheduler.get_jobs()} == {"America/La_Paz", "Europe/Madrid"}
    # `puntada coop set` is picked up at the next sync, without a restart.
    runner.invoke(args=["coop", "set", "Bartolina Sisa", "--reminder-time", "16:45"])
    clock.sync()
    assert triggers(scheduler)[f"reminders:{coop_id}"] == (
        "cron[day_of_week='mon,tue,wed,thu,fri,sat', hour='16', minute='45']")


def test_catch_up_queues_what_is_due_and_only_once(engine, club, settings):
    _always_due(engine, club)
    clock = Clock(BackgroundScheduler(), engine, settings, send=lambda: None)
    clock.catch_up()
    clock.catch_up()
    with Session(engine) as session:
        reminded = sorted(session.scalars(select(Outbox.recipient).where(Outbox.kind == "reminder")))
    assert reminded == sorted([ROSA, LIDIA, ELENA])


def test_one_cooperatives_failure_does_not_stop_the_others(engine, club, runner, caplog):
    runner.invoke(args=["coop", "add", "Taller Sevilla", "--number", "+34911000100",
                        "--timezone", "Europe/Madrid", "--country", "ES"])
    with unit_of_work(engine) as session:
        session.get(Cooperative, club.cooperative.id).timezone = "Mars/Olympus"  # broken by hand
    assert jobs.run(engine, jobs.reminders, at=datetime(2026, 11, 26, 21, 5, tzinfo=UTC)) == 0
    assert "reminders failed for cooperative" in caplog.text


@pytest.mark.parametrize("moment, queued", [
    ("2026-10-25T16:05:00+00:00", 1),  # Sunday the clocks go back: 17:05 in Madrid (UTC+1)
    ("2026-10-25T15:05:00+00:00", 0),  # 16:05 in Madrid: not yet
    ("2026-03-29T15:05:00+00:00", 1),  # the day they go forward: 17:05 in Madrid (UTC+2)
    ("2026-03-29T14:55:00+00:00", 0),
])
def test_reminders_keep_the_local_hour_across_daylight_saving(engine, runner, moment, queued):
    for args in (["coop", "add", "Taller Sevilla", "--number", "+34911000100", "--timezone", "Europe/Madrid",
                  "--country", "ES"],
                 ["coop", "set", "Taller Sevilla", "--working-days", "mon-sun"],
                 ["member", "add", "--coop", "Taller Sevilla", "--phone", "612345678", "--name", "Carmen"],
                 ["buyer", "add", "Moda Sur"],
                 ["order", "add", "--coop", "Taller Sevilla", "--buyer", "Moda Sur", "--code", "A", "--item",
                  "manteles", "--quantity", "500", "--due", "2027-12-20", "--assign", "all"]):
        assert runner.invoke(args=args).exit_code == 0
    assert jobs.run(engine, jobs.reminders, at=datetime.fromisoformat(moment)) == queued


def test_jobs_and_outbox_on_the_command_line(runner, club):
    assert runner.invoke(args=["jobs", "run", "reminders", "--at", "2026-11-26T17:05"]).output == (
        "reminders: queued 3\n")
    listing = runner.invoke(args=["outbox", "--status", "queued"]).output.splitlines()
    assert len(listing) == 3
    assert "queued    reminder   sms      +591*****001 Hola Rosa, ¿cuantas piezas" in listing[-1]
    result = runner.invoke(args=["jobs", "run", "reminders", "--at", "9999-12-31T23:59"])
    assert (result.exit_code, result.output) == (
        1, "Error: --at '9999-12-31T23:59' is not an ISO 8601 time like 2026-12-01T17:05\n")
    assert runner.invoke(args=["jobs", "run", "laundry"]).exit_code == 2


def test_serve_runs_the_clock_beside_the_web_workers(engine, club, database_url, tmp_path):
    _always_due(engine, club)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test", "PORT": str(port),
           "MESSAGING_BACKEND": "console", "SPOOL_DIR": str(tmp_path / "spool")}
    server = subprocess.Popen([str(Path(sys.executable).parent / "puntada"), "serve"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _sent(engine) < 3:
            assert time.monotonic() < deadline and server.poll() is None, "the reminders never went out"
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "Hola Rosa, ¿cuantas piezas terminaste hoy?" in output  # the console "sent" it
    pid = int(re.search(r"scheduler started beside the web workers \(pid (\d+)\)", output).group(1))
    with pytest.raises(ProcessLookupError):  # stopped with the server, not left behind
        os.kill(pid, 0)


def _always_due(engine, club) -> None:
    """Reminders due now, whatever the real hour: no quiet hours, every day, from midnight."""
    with unit_of_work(engine) as session:
        coop = session.get(Cooperative, club.cooperative.id)
        coop.reminder_time = coop.quiet_start = coop.quiet_end = "00:00"
        coop.working_days = "mon,tue,wed,thu,fri,sat,sun"


def _sent(engine) -> int:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox.status).where(Outbox.kind == "reminder")).all()
    return sum(1 for status in rows if status == "sent")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


__all__ = ["f"]
