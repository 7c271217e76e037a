"""The `puntada` command line: each command, and each refusing bad input, changing nothing."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from bot.models import Buyer, BuyerContact, Cooperative, InboundMessage, Member, Order, Report
from tests import factories as f
from tests.factories import ROSA

COOP = "Bartolina Sisa"


def run(runner, *args: str):
    return runner.invoke(args=list(args))


def ok(runner, *args: str) -> str:
    result = run(runner, *args)
    assert result.exit_code == 0, result.output
    return result.output


def refused(runner, *args: str) -> str:
    """Run a command that must fail; return its one-line reason."""
    result = run(runner, *args)
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.output.strip().splitlines()[-1]


def test_coop_add_stores_e164_numbers(runner, session):
    out = ok(runner, "coop", "add", "Club Wiphala", "--number", "+59162000200",
             "--timezone", "America/La_Paz", "--reminder-time", "18:30")
    assert out == "cooperative Club Wiphala: SMS +59162000200, WhatsApp +59162000200\n"
    coop = session.scalars(select(Cooperative)).one()
    assert (coop.reminder_time, coop.country, coop.language) == ("18:30", "BO", "es")


@pytest.mark.parametrize("args, reason", [
    (["--number", "12"], "--number: '12' is not a valid phone number for BO"),
    (["--number", "+59162000200", "--timezone", "Mars/Olympus"],
     "--timezone 'Mars/Olympus' is not a time zone like America/La_Paz"),
    (["--number", "+59162000200", "--reminder-time", "25:00"],
     "--reminder-time '25:00' is not a time like 17:00"),
    (["--number", "+59162000200", "--language", "fr"], "language 'fr' is not one of es, en, ay"),
])
def test_coop_add_refuses_bad_input(runner, session, args, reason):
    assert refused(runner, "coop", "add", "Club Wiphala", *args) == f"Error: {reason}"
    assert session.scalars(select(Cooperative)).all() == []


def test_coop_add_refuses_a_taken_name_or_number(runner, club):
    assert refused(runner, "coop", "add", COOP, "--number", "+59162000300") == (
        "Error: a cooperative called 'Bartolina Sisa' already exists")
    assert refused(runner, "coop", "add", "Otra", "--number", f.COOP_NUMBER) == (
        f"Error: {f.COOP_NUMBER} already belongs to another cooperative")


def test_coop_set_stores_the_settings_later_work_uses(runner, club, session):
    out = ok(runner, "coop", "set", COOP, "--reminder-time", "16:00", "--digest-time", "20:15",
             "--quiet-hours", "22:00-07:30", "--working-days", "mon-fri", "--plausible-max", "250",
             "--flood-limit", "40", "--whatsapp-template", "reminder=HX" + "a" * 32)
    assert "quiet 22:00-07:30" in out
    coop = session.get(Cooperative, club.cooperative.id)
    assert (coop.reminder_time, coop.digest_time, coop.quiet_start, coop.quiet_end) == (
        "16:00", "20:15", "22:00", "07:30")
    assert (coop.working_days, coop.plausible_max, coop.flood_limit) == ("mon,tue,wed,thu,fri", 250, 40)
    assert coop.whatsapp_templates == {"reminder": "HX" + "a" * 32}


@pytest.mark.parametrize("args, reason", [
    (["--quiet-hours", "22:00"], "--quiet-hours '22:00' is not HH:MM-HH:MM"),
    (["--working-days", "lun-sab"], "--working-days: 'lun-sab' is not a day range like mon-sat"),
    (["--plausible-max", "0"], "Invalid value for '--plausible-max': 0 is not in the range 1<=x<=99999."),
    (["--whatsapp-template", "birthday=HX" + "a" * 32],
     "--whatsapp-template 'birthday=HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': KIND must be one of "
     "reminder, digest, milestone, completion, weekly, warning, code"),
    (["--reminder-time", "16:00", "--whatsapp-template", "reminder=nope"],
     "--whatsapp-template 'reminder=nope': 'nope' is not a Content SID (HX…)"),
])
def test_coop_set_refuses_bad_input_and_changes_nothing(runner, club, session, args, reason):
    assert refused(runner, "coop", "set", COOP, *args) == f"Error: {reason}"
    coop = session.get(Cooperative, club.cooperative.id)
    assert (coop.reminder_time, coop.plausible_max, coop.whatsapp_templates) == ("17:00", 300, {})


def test_coop_set_of_an_unknown_cooperative(runner):
    assert refused(runner, "coop", "set", "Nadie", "--plausible-max", "5") == (
        "Error: no cooperative called 'Nadie'")


def test_member_add_reads_local_numbers_in_the_club_country(runner, club, session):
    ok(runner, "member", "add", "--coop", COOP, "--phone", "7123 4567", "--name", "Ana  Colque",
       "--channel", "whatsapp")
    ana = session.scalars(select(Member).where(Member.name == "Ana Colque")).one()
    assert (ana.phone, ana.channel, ana.role, ana.language) == ("+59171234567", "whatsapp",
                                                               "embroiderer", "es")


def test_member_add_refuses_a_bad_or_taken_phone(runner, club):
    assert refused(runner, "member", "add", "--coop", COOP, "--phone", "123", "--name", "Ana") == (
        "Error: phone: '123' is not a valid phone number for BO")
    assert refused(runner, "member", "add", "--coop", COOP, "--phone", ROSA, "--name", "Otra") == (
        f"Error: {ROSA} is already a member of Bartolina Sisa")
    assert f.count(f_engine(runner), Member) == 4


def test_member_import_is_all_or_nothing(runner, club, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("name,phone,role,language,channel\nAna Colque,71234567,,,\n"
                    "Beatriz Nina,71234568,coordinator,en,whatsapp\n")
    assert ok(runner, "member", "import", "--coop", COOP, str(good)) == "imported 2 members\n"
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone,role,language,channel\nCarla Poma,71234569,,,\n"
                   "Dora Cusi,12,,,\n")
    assert refused(runner, "member", "import", "--coop", COOP, str(bad)) == (
        "Error: line 3: phone: '12' is not a valid phone number for BO")
    assert f.count(f_engine(runner), Member) == 6
    assert refused(runner, "member", "import", "--coop", COOP, str(tmp_path / "none.csv")).startswith(
        "Error: cannot read")


def test_buyer_add_with_contacts(runner, session):
    ok(runner, "buyer", "add", "Andes Export", "--contact", "72200001", "--contact", "+14155550100")
    phones = sorted(c.phone for c in session.scalars(select(BuyerContact)))
    assert phones == ["+14155550100", "+59172200001"]
    assert refused(runner, "buyer", "add", "Andes Export") == (
        "Error: a buyer called 'Andes Export' already exists")
    assert refused(runner, "buyer", "add", "Otro", "--contact", "5") == (
        "Error: --contact: '5' is not a phone number")
    assert len(session.scalars(select(Buyer)).all()) == 1


def test_order_add_and_close(runner, club, session):
    ok(runner, "order", "add", "--coop", COOP, "--buyer", "Andes Export", "--code", "mt",
       "--item", "manteles", "--quantity", "1200", "--due", "2026-12-15", "--piece-rate", "12,50",
       "--assign", f"{ROSA},71000002")
    mt = session.scalars(select(Order).where(Order.code == "MT")).one()
    assert (mt.quantity, str(mt.piece_rate), mt.assign_all) == (1200, "12.50", False)
    assert ok(runner, "order", "close", "--coop", COOP, "MT") == "order MT closed at 0/1200\n"
    # The code is free again for next month's order.
    ok(runner, "order", "add", "--coop", COOP, "--buyer", "Andes Export", "--code", "MT",
       "--item", "manteles", "--quantity", "800", "--due", "2027-01-15")


@pytest.mark.parametrize("change, reason", [
    ({"--code": "A"}, "Bartolina Sisa already has an active order A"),
    ({"--code": "ABCD"}, "order code 'ABCD' must be 1 to 3 letters, like A or MT"),
    ({"--code": "A1"}, "order code 'A1' must be 1 to 3 letters, like A or MT"),
    ({"--quantity": "0"}, "Invalid value for '--quantity': 0 is not in the range 1<=x<=10000000."),
    ({"--due": "15/12/2026"}, "--due '15/12/2026' is not a date like 2026-12-31"),
    ({"--buyer": "Nadie"}, "no buyer called 'Nadie'"),
    ({"--piece-rate": "mucho"}, "--piece-rate 'mucho' is not an amount like 3.50"),
    ({"--assign": "+59179999999"}, "--assign: +59179999999 is not a member of Bartolina Sisa"),
])
def test_order_add_refuses_bad_input(runner, club, change, reason):
    options = {"--coop": COOP, "--buyer": "Andes Export", "--code": "B", "--item": "blusas",
               "--quantity": "100", "--due": "2026-12-15", **change}
    args = [x for pair in options.items() for x in pair]
    assert refused(runner, "order", "add", *args) == f"Error: {reason}"
    assert f.count(f_engine(runner), Order) == 1


def test_order_close_of_no_such_order(runner, club):
    assert refused(runner, "order", "close", "--coop", COOP, "Z") == (
        "Error: Bartolina Sisa has no active order Z")


def test_report_add(runner, club):
    assert ok(runner, "report", "add", "--phone", "71000001", "--pieces", "30",
              "--at", "2026-11-20T18:00") == "recorded 30 on order A for Rosa Mamani\n"
    engine = f_engine(runner)
    assert f.reports(engine) == [("A", 30, "accepted")]
    assert refused(runner, "report", "add", "--phone", ROSA, "--pieces", "0") == (
        "Error: Invalid value for '--pieces': 0 is not in the range 1<=x<=99999.")
    assert refused(runner, "report", "add", "--phone", ROSA, "--pieces", "9" * 20) == (
        "Error: Invalid value for '--pieces': 99999999999999999999 is not in the range 1<=x<=99999.")
    assert refused(runner, "report", "add", "--phone", ROSA, "--pieces", "3", "--at", "9999-12-31T23:00") == (
        "Error: --at '9999-12-31T23:00' is not an ISO 8601 time like 2026-12-01T17:05")
    assert refused(runner, "report", "add", "--phone", "71999999", "--pieces", "3") == (
        "Error: no member with phone 71999999")
    assert refused(runner, "report", "add", "--phone", ROSA, "--pieces", "3", "--order", "Z") == (
        "Error: Bartolina Sisa has no active order Z")
    assert refused(runner, "report", "add", "--phone", ROSA, "--pieces", "3", "--at", "ayer") == (
        "Error: --at 'ayer' is not an ISO 8601 time like 2026-12-01T17:05")
    assert f.count(engine, Report) == 1


def test_say_goes_through_the_webhook_path(runner, club):
    assert ok(runner, "say", "--from", "71000001", "--at", "2026-11-26T18:00", "hice 20") == (
        "Rosa, anoté 20 en el pedido A. Tu mes: 20. Pedido A: 20/15.000 (0 %)\n")
    engine = f_engine(runner)
    assert f.count(engine, InboundMessage) == 1
    assert refused(runner, "say", "--from", ROSA, "--to", "+59162999999", "20") == (
        "Error: --to +59162999999: no cooperative has this number")
    # A number nobody registered is answered as the webhook would answer it.
    assert ok(runner, "say", "--from", "+59179999999", "20").startswith(
        "Hola. Tu numero no esta registrado en Bartolina Sisa.")
    assert refused(runner, "say", "--from", "hola", "20") == "Error: --from 'hola' is not a phone number"


def test_say_by_whatsapp(runner, club):
    out = ok(runner, "say", "--from", "whatsapp:" + ROSA, "12")
    assert out.startswith("Rosa, anoté 12 en el pedido A.")
    assert f.count(f_engine(runner), InboundMessage, InboundMessage.channel == "whatsapp") == 1


def test_export_reports_as_csv(runner, club):
    ok(runner, "say", "--from", ROSA, "--at", "2026-11-26T18:05", "20")
    ok(runner, "say", "--from", ROSA, "--at", "2026-11-27T09:00", "5")
    ok(runner, "say", "--from", ROSA, "--at", "2026-11-27T09:01", "borrar")
    out = ok(runner, "export", "reports", "--coop", COOP, "--from", "2026-11-01", "--to", "2026-11-30")
    assert list(csv.reader(io.StringIO(out))) == [
        ["at", "cooperative", "member", "phone", "order", "pieces"],
        ["2026-11-26T18:05:00-04:00", "Bartolina Sisa", "Rosa Mamani", ROSA, "A", "20"],
    ]
    assert refused(runner, "export", "reports", "--from", "noviembre") == (
        "Error: --from 'noviembre' is not a date like 2026-12-31")


def test_demo_loads_once(runner, session):
    first = ok(runner, "demo")
    assert first.startswith("loaded Club de Madres Bartolina Sisa: 13 members, orders A and MT")
    assert ok(runner, "demo") == "the demo cooperative Club de Madres Bartolina Sisa is already loaded\n"
    assert len(session.scalars(select(Member)).all()) == 13
    assert len(session.scalars(select(Report)).all()) > 50


def f_engine(runner):
    return runner.app.extensions["puntada"].engine


ROOT = Path(__file__).resolve().parent.parent


def _puntada(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test"}
    env.pop("TWILIO_AUTH_TOKEN", None)
    return subprocess.run([str(Path(sys.executable).parent / "puntada"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_installed_command_gives_one_line_reasons(database_url):
    done = _puntada(database_url, "coop", "add", "X", "--number", "12")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "puntada: --number: '12' is not a valid phone number for BO\n"
    done = _puntada(database_url, "order", "add", "--coop", "X")
    assert done.returncode == 2
    assert done.stderr == "puntada: Missing option '--buyer'.\n"
    done = _puntada(database_url, "member", "add", "--coop", "X", "--phone", "1", "--name", "A",
                    "--role", "queen")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'queen' is not one of" in done.stderr


def test_a_bad_environment_is_one_line_too(database_url):
    env_done = subprocess.run([str(Path(sys.executable).parent / "puntada"), "demo"], cwd=ROOT,
                              env={**os.environ, "DATABASE_URL": database_url, "PORT": "eighty"},
                              capture_output=True, text=True, timeout=60)
    assert env_done.returncode == 2
    assert env_done.stderr == "puntada: PORT must be a whole number from 1 to 65535\n"


def test_db_upgrade_is_idempotent_and_refuses_an_unknown_revision(runner):
    assert ok(runner, "db", "upgrade") == "database at head\n"
    assert refused(runner, "db", "upgrade", "--revision", "nonsense") == (
        "Error: Can't locate revision identified by 'nonsense'")


def test_an_unreachable_or_unsupported_database_is_one_line():
    done = _puntada("postgresql+psycopg://nobody@127.0.0.1:9/none", "say", "--from", ROSA, "20")
    assert done.returncode == 3
    assert done.stderr.startswith("puntada: the database did not answer: ")
    assert done.stderr.count("\n") == 1
    done = _puntada("mysql://nobody@localhost/none", "demo")
    assert (done.returncode, done.stderr) == (
        2, "puntada: DATABASE_URL: mysql is not supported; use sqlite or postgresql+psycopg\n")


def test_member_import_reads_old_excel_line_endings_and_refuses_control_characters(runner, club, tmp_path):
    mac = tmp_path / "mac.csv"
    mac.write_bytes(b"name,phone,role,language,channel\rAna Colque,71234567,,,\rBeatriz Nina,71234568,,,\r")
    assert ok(runner, "member", "import", "--coop", COOP, str(mac)) == "imported 2 members\n"
    nul = tmp_path / "nul.csv"
    nul.write_text("name,phone,role,language,channel\nCarla\x00Poma,71234569,,,\n")
    assert refused(runner, "member", "import", "--coop", COOP, str(nul)) == (
        "Error: line 2: member name has control characters")
    broken = tmp_path / "broken.csv"
    broken.write_text('name,phone,role,language,channel\n"Dora Cusi,71234570,,,\n')
    assert refused(runner, "member", "import", "--coop", COOP, str(broken)).startswith("Error: line ")
    assert f.count(f_engine(runner), Member) == 6
