"""Notices on the cooperative's clock: reminders, milestones, completion, digest, alerts, weekly."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot import jobs
from bot.db import unit_of_work
from bot.models import Member, Order, Outbox
from bot.notices import crossed
from tests import factories as f
from tests.factories import ELENA, EXPORTER_CONTACT, JUANA, LIDIA, ROSA

THURSDAY = datetime(2026, 11, 26)  # naive: the cooperative's local time, as --at reads it
ROOT = Path(__file__).resolve().parent.parent


def at(hour: int, minute: int = 0, day: datetime = THURSDAY) -> datetime:
    return day.replace(hour=hour, minute=minute)


def outbox(engine, kind: str) -> list[tuple[str, str]]:
    return [(to, body) for to, k, body in f.outbox(engine) if k == kind]


def test_milestones_are_the_percentages_passed():
    assert crossed(0, 30, 100) == [25]
    assert crossed(30, 75, 100) == [50, 75]
    assert crossed(74, 75, 100) == [75]
    assert crossed(75, 120, 100) == [100]
    assert crossed(100, 120, 100) == []
    assert crossed(3_749, 3_750, 15_000) == [25]


def test_milestones_go_to_the_coordinator_once_each_and_completion_to_the_buyer(engine, club, now):
    small = f.order(engine, club, code="S", quantity=100, assign=ROSA)
    f.text(engine, ROSA, "S 30", at=now)
    assert outbox(engine, "milestone") == [
        (JUANA, "Bartolina Sisa: el pedido S (manteles) llego al 25 %: 30/100.")]
    f.text(engine, ROSA, "S 45", at=now)
    f.text(engine, ROSA, "borrar", at=now)  # back under 50 %
    f.text(engine, ROSA, "S 45", at=now)  # and over it again: no second notice
    assert [b for _, b in outbox(engine, "milestone")][1:] == [
        "Bartolina Sisa: el pedido S (manteles) llego al 50 %: 75/100.",
        "Bartolina Sisa: el pedido S (manteles) llego al 75 %: 75/100.",
    ]
    f.text(engine, ROSA, "S 35", at=now)
    assert outbox(engine, "completion") == [
        (EXPORTER_CONTACT, "Bartolina Sisa: su pedido S (manteles) esta completo: 110/100 piezas. Gracias!")]
    f.text(engine, ROSA, "borrar", at=now)
    f.text(engine, ROSA, "S 29", at=now)
    assert len(outbox(engine, "completion")) == 1
    assert len(outbox(engine, "milestone")) == 4
    assert f.done(engine, small.id) == 104


def test_a_report_that_is_only_held_crosses_nothing_until_confirmed(engine, club, now):
    f.order(engine, club, code="S", quantity=400, assign=ROSA)
    f.text(engine, ROSA, "S 350", at=now)
    assert outbox(engine, "milestone") == []
    f.text(engine, ROSA, "si", at=now)
    assert [b for _, b in outbox(engine, "milestone")] == [
        f"Bartolina Sisa: el pedido S (manteles) llego al {p} %: 350/400." for p in (25, 50, 75)]


def test_reminders_wait_for_the_reminder_time_on_a_working_day(engine, club):
    assert jobs.run(engine, jobs.reminders, at=at(16, 59)) == 0
    f.text(engine, LIDIA, "20", at=at(12).replace(tzinfo=UTC) + timedelta(hours=4))  # 12:00 La Paz
    f.text(engine, ELENA, "stop", at=at(15).replace(tzinfo=UTC) + timedelta(hours=4))
    assert jobs.run(engine, jobs.reminders, at=at(17, 5)) == 1
    assert f.outbox(engine) == [(ROSA, "reminder", "Hola Rosa, ¿cuantas piezas terminaste hoy? Manda el "
                                                 "numero, por ejemplo: 20. Sin recordatorios: baja")]
    assert jobs.run(engine, jobs.reminders, at=at(18)) == 0  # once a day, however often it runs
    tomorrow = at(17, 5, THURSDAY + timedelta(days=1))
    assert jobs.run(engine, jobs.reminders, at=tomorrow) == 2  # Rosa and Lidia; Elena opted out


def test_no_reminders_on_sunday_in_quiet_hours_or_for_closed_orders(engine, club, runner):
    assert jobs.run(engine, jobs.reminders, at=at(17, 5, datetime(2026, 11, 29))) == 0  # Sunday
    assert jobs.run(engine, jobs.reminders, at=at(21, 30)) == 0  # quiet from 21:00
    runner.invoke(args=["order", "close", "--coop", "Bartolina Sisa", "A"])
    assert jobs.run(engine, jobs.reminders, at=at(17, 5)) == 0  # nobody has work


def test_the_reminder_in_english_and_to_whatsapp_members(engine, club):
    with unit_of_work(engine) as session:
        session.get(Member, club.rosa.id).channel = "whatsapp"
    jobs.run(engine, jobs.reminders, at=at(17, 5))
    rows = {to: (kind, body) for to, kind, body in f.outbox(engine)}
    assert rows[ELENA] == ("reminder", "Hello Elena, how many pieces did you finish today? Send the "
                                       "number, e.g.: 20. No reminders: stop")
    with unit_of_work(engine) as session:
        row = session.scalars(select(Outbox).where(Outbox.recipient == ROSA)).one()
        assert (row.channel, row.content_variables) == ("whatsapp", {"1": "Rosa"})


def test_two_cooperatives_in_different_timezones(engine, club, runner):
    result = runner.invoke(args=["coop", "add", "Taller Sevilla", "--number", "+34911000100",
                                 "--timezone", "Europe/Madrid", "--country", "ES"])
    assert result.exit_code == 0, result.output
    runner.invoke(args=["member", "add", "--coop", "Taller Sevilla", "--phone", "612345678", "--name",
                        "Carmen Ruiz"])
    runner.invoke(args=["buyer", "add", "Moda Sur"])
    runner.invoke(args=["order", "add", "--coop", "Taller Sevilla", "--buyer", "Moda Sur", "--code", "A",
                        "--item", "manteles", "--quantity", "500", "--due", "2026-12-20", "--assign", "all"])
    # 21:05 UTC: 17:05 in La Paz (reminders due), 22:05 in Madrid (quiet hours).
    assert jobs.run(engine, jobs.reminders, at=datetime(2026, 11, 26, 21, 5, tzinfo=UTC)) == 3
    # 16:05 UTC: 17:05 in Madrid, 12:05 in La Paz.
    assert jobs.run(engine, jobs.reminders, at=datetime(2026, 11, 27, 16, 5, tzinfo=UTC)) == 1
    assert [to for to, kind, _ in f.outbox(engine)][-1] == "+34612345678"


def test_the_daily_digest(engine, club):
    thursday_evening = at(18).replace(tzinfo=UTC) + timedelta(hours=4)
    f.text(engine, ROSA, "120", at=thursday_evening)
    f.text(engine, LIDIA, "hola", at=thursday_evening)
    # A question for her: answered kindly at once, counted in the digest, no SMS of its own.
    f.text(engine, ELENA, "cuando nos pagan?", at=thursday_evening)
    assert outbox(engine, "digest") == []
    assert jobs.run(engine, jobs.digest, at=at(18, 59)) == 0
    assert jobs.run(engine, jobs.digest, at=at(19, 0)) == 1
    assert jobs.run(engine, jobs.digest, at=at(19, 30)) == 0
    assert outbox(engine, "digest") == [(JUANA, (
        "Bartolina Sisa 26 nov. Hoy: 120 piezas. A: 120/15.000 (0 %), 620/dia necesario, "
        "ritmo 20/dia, fin 12 abr 2029, EN RIESGO. Sin reportar 2+ dias: Elena Quispe, Lidia Apaza. "
        "Mensajes para ti hoy: 2."))]


def test_at_risk_warnings_go_once_to_coordinators_and_buyers(engine, club):
    f.text(engine, ROSA, "100", at=at(12).replace(tzinfo=UTC) + timedelta(hours=4))
    assert jobs.run(engine, jobs.alerts, at=at(12)) == 2
    assert jobs.run(engine, jobs.alerts, at=at(12, 30)) == 0
    rows = outbox(engine, "warning")
    assert rows[0][0] == JUANA and rows[0][1].startswith(
        "Bartolina Sisa: el pedido A esta EN RIESGO: 100/15.000, hacen falta 621/dia")
    assert rows[1] == (EXPORTER_CONTACT, (
        "Bartolina Sisa: aviso temprano, su pedido A (blusas) podria atrasarse: 100/15.000, "
        "fin estimado 4 oct 2029, entrega 23 dic. La coordinadora ya esta avisada."))


def test_a_new_order_is_not_judged_at_risk(engine, club):
    with unit_of_work(engine) as session:
        session.get(Order, club.order.id).created_at = datetime(2026, 11, 24, 16, tzinfo=UTC)
    assert jobs.run(engine, jobs.alerts, at=at(12)) == 0  # Tuesday to Thursday: too early to tell


def test_weekly_progress_to_the_buyer_on_monday_evening(engine, club):
    monday = datetime(2026, 11, 30)
    assert jobs.run(engine, jobs.weekly, at=at(18, day=monday)) == 0
    assert jobs.run(engine, jobs.weekly, at=at(19, 5, day=monday)) == 1
    assert jobs.run(engine, jobs.weekly, at=at(12, day=monday + timedelta(days=2))) == 0
    assert outbox(engine, "weekly") == [(EXPORTER_CONTACT, (
        "Bartolina Sisa, semana del 30 nov: A: 0/15.000 (0 %) blusas, entrega 23 dic, EN RIESGO."))]


def test_three_reminder_jobs_at_once_queue_one_message_per_member(database_url, engine, club):
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test"}
    command = [str(Path(sys.executable).parent / "puntada"), "jobs", "run", "reminders",
               "--at", "2026-11-26T17:05"]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    queued = sorted(int(out.strip().rsplit(" ", 1)[1]) for out, _ in outputs)
    assert sum(queued) == 3
    assert sorted(to for to, _, _ in f.outbox(engine)) == sorted([ROSA, LIDIA, ELENA])
