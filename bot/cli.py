"""The `puntada` command line (also `flask --app wsgi …`)."""

from __future__ import annotations

import csv
import sys
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot import admin, clock, languages, puntada, statements, store
from bot.channels import Console
from bot.config import ConfigError
from bot.db import unit_of_work
from bot.inbound import Inbound, receive
from bot.models import Channel, Cooperative, Member, Order, OutboxStatus, Report, ReportStatus, Source
from bot.outbox import send_queued
from bot.parsing import MAX_PIECES
from bot.phones import BadPhone, address_for, mask, split_address, to_e164
from handlers.report import choose_order


class LanguageCode(click.Choice):
    """A language of the registry (templates/languages.toml), read when the command runs."""

    name = "language"

    def __init__(self) -> None:
        super().__init__([])

    def convert(self, value, param, ctx):
        self.choices = languages.codes()
        return super().convert(value, param, ctx)


db = AppGroup("db", help="The database schema.")
coop = AppGroup("coop", help="Cooperatives and their settings.")
member = AppGroup("member", help="Members of a cooperative.")
buyer = AppGroup("buyer", help="Buyers (exporters) and their contacts.")
order = AppGroup("order", help="Orders.")
report = AppGroup("report", help="Reports of finished pieces.")
export = AppGroup("export", help="Data out, as CSV.")
jobs_group = AppGroup("jobs", help="The scheduled jobs, run by hand.")
JOB_NAMES = ["reminders", "digest", "alerts", "weekly", "dispatch", "spool"]
MAX_QUANTITY = 10_000_000


def register(app: Flask) -> None:
    """Attach every command to the app's command line."""
    for group in (db, coop, member, buyer, order, report, export, jobs_group):
        app.cli.add_command(group)
    for command in (demo, say, serve, scheduler, outbox_command):
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the `puntada` script: one line of reason and a non-zero exit on error."""
    from bot import create_app

    group = FlaskGroup(
        create_app=create_app,
        add_default_commands=False,
        add_version_option=False,
        load_dotenv=False,
        set_debug_flag=False,
        help="Puntada: export orders of an embroidery cooperative, by SMS and WhatsApp.",
    )
    try:
        code = group.main(prog_name="puntada", standalone_mode=False)
    except click.ClickException as error:
        click.echo(f"puntada: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("puntada: aborted", err=True)
        sys.exit(130)
    except ConfigError as error:
        click.echo(f"puntada: {error}", err=True)
        sys.exit(2)
    except OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        click.echo(f"puntada: the database did not answer: {reason}", err=True)
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


def _work():
    return unit_of_work(puntada().engine)


class _Fail(click.ClickException):
    exit_code = 1


def _checked(function, **kwargs):
    """Run an admin write, turning its Invalid into a one-line failure."""
    try:
        with _work() as session:
            return function(session=session, **kwargs)
    except admin.Invalid as error:
        raise _Fail(str(error)) from None


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the schema up to date (Alembic)."""
    from alembic.util import CommandError

    from bot.migrate import upgrade

    try:
        upgrade(puntada().settings.database_url, revision)
    except CommandError as error:
        raise _Fail(str(error)) from None
    click.echo(f"database at {revision}")


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def db_backup(file: Path) -> None:
    """Copy the database to FILE while Puntada runs (SQLite backup API, or pg_dump)."""
    from bot.backup import BackupError, backup

    if file.exists():
        raise _Fail(f"{file} exists; choose a new file name")
    try:
        backup(puntada().settings.database_url, file)
    except (BackupError, OSError) as error:
        raise _Fail(f"backup failed: {error}") from None
    click.echo(f"backup written to {file}")


@coop.command("add")
@click.argument("name")
@click.option("--number", required=True, help="the Twilio number members text, E.164")
@click.option("--whatsapp", help="the WhatsApp number, if not --number")
@click.option("--timezone", default="America/La_Paz", show_default=True)
@click.option("--language", default="es", show_default=True)
@click.option("--reminder-time", default="17:00", show_default=True)
@click.option("--country", help="members' country for local numbers (default DEFAULT_REGION)")
def coop_add(name, number, whatsapp, timezone, language, reminder_time, country) -> None:
    """Register a cooperative."""
    region = (country or puntada().settings.default_region).upper()
    created = _checked(
        admin.add_cooperative, name=name, number=number, whatsapp=whatsapp, country=region,
        timezone=timezone, language=language, reminder_time=reminder_time,
    )
    click.echo(f"cooperative {created.name}: SMS {created.sms_number}, WhatsApp {created.whatsapp_number}")


@coop.command("set")
@click.argument("name")
@click.option("--reminder-time")
@click.option("--digest-time")
@click.option("--quiet-hours", help="HH:MM-HH:MM")
@click.option("--working-days", help="e.g. mon-sat or mon,wed,fri")
@click.option("--plausible-max", type=click.IntRange(1, MAX_PIECES))
@click.option("--flood-limit", type=click.IntRange(1, 100_000))
@click.option("--whatsapp-template", "templates", multiple=True, help="KIND=CONTENT_SID")
def coop_set(name, templates, **settings) -> None:
    """Change a cooperative's settings."""
    changed = _checked(
        admin.configure_cooperative, name=name, whatsapp_templates=templates, **settings
    )
    click.echo(
        f"{changed.name}: reminders {changed.reminder_time}, digest {changed.digest_time}, "
        f"quiet {changed.quiet_start}-{changed.quiet_end}, days {changed.working_days}, "
        f"plausible max {changed.plausible_max}, flood limit {changed.flood_limit}, "
        f"WhatsApp templates {len(changed.whatsapp_templates)}"
    )


@member.command("add")
@click.option("--coop", "coop_name", required=True)
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.option("--role", default="embroiderer", type=click.Choice(["embroiderer", "coordinator"]))
@click.option("--language", type=LanguageCode(), help="es, en, ay … (templates/languages.toml)")
@click.option("--channel", default="sms", type=click.Choice(["sms", "whatsapp"]))
def member_add(coop_name, phone, name, role, language, channel) -> None:
    """Register a member."""
    def add(session):
        cooperative = admin.find_cooperative(session=session, name=coop_name)
        return admin.add_member(session=session, cooperative=cooperative, phone=phone,
                                name=name, role=role, language=language, channel=channel)

    created = _checked(lambda session: add(session))
    click.echo(f"member {created.name} {created.phone} ({created.role})")


@member.command("import")
@click.option("--coop", "coop_name", required=True)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def member_import(coop_name, file: Path) -> None:
    """Register members from a CSV file (name,phone,role,language,channel); all or none."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise _Fail(f"cannot read {file}: {getattr(error, 'strerror', None) or error}") from None

    def load(session):
        cooperative = admin.find_cooperative(session=session, name=coop_name)
        return admin.import_members(session=session, cooperative=cooperative, text=text)

    created = _checked(lambda session: load(session))
    click.echo(f"imported {len(created)} members")


@buyer.command("add")
@click.argument("name")
@click.option("--contact", "contacts", multiple=True, help="a contact's phone (repeatable)")
@click.option("--language", default="es", type=LanguageCode(), help="es, en, ay … (templates/languages.toml)")
def buyer_add(name, contacts, language) -> None:
    """Register a buyer and its contacts."""
    region = puntada().settings.default_region
    created = _checked(admin.add_buyer, name=name, contacts=contacts, language=language, region=region)
    click.echo(f"buyer {created.name} with {len(contacts)} contact(s)")


@order.command("add")
@click.option("--coop", "coop_name", required=True)
@click.option("--buyer", "buyer_name", required=True)
@click.option("--code", required=True)
@click.option("--item", required=True)
@click.option("--quantity", required=True, type=click.IntRange(1, MAX_QUANTITY))
@click.option("--due", required=True, help="YYYY-MM-DD")
@click.option("--piece-rate")
@click.option("--assign", help="all, or members' phones separated by commas")
def order_add(coop_name, buyer_name, code, item, quantity, due, piece_rate, assign) -> None:
    """Create an order."""
    def add(session):
        cooperative = admin.find_cooperative(session=session, name=coop_name)
        return admin.add_order(session=session, cooperative=cooperative, buyer_name=buyer_name,
                               code=code, item=item, quantity=quantity, due=due,
                               piece_rate=piece_rate, assign=assign)

    created = _checked(lambda session: add(session))
    click.echo(f"order {created.code}: {created.quantity} {created.item}, due {created.due_date}")


@order.command("close")
@click.option("--coop", "coop_name", required=True)
@click.argument("code")
def order_close(coop_name, code) -> None:
    """Close an active order."""
    def close(session):
        cooperative = admin.find_cooperative(session=session, name=coop_name)
        return admin.close_order(session=session, cooperative=cooperative, code=code)

    closed = _checked(lambda session: close(session))
    click.echo(f"order {closed.code} closed at {closed.done}/{closed.quantity}")


@report.command("add")
@click.option("--phone", required=True)
@click.option("--pieces", required=True, type=click.IntRange(1, MAX_PIECES))
@click.option("--order", "code")
@click.option("--coop", "coop_name")
@click.option("--at")
def report_add(phone, pieces, code, coop_name, at) -> None:
    """Record pieces for a member directly (backfills, paper records)."""
    name, code = _checked(_record, phone=phone, pieces=pieces, code=code, coop_name=coop_name, at=at)
    click.echo(f"recorded {pieces} on order {code} for {name}")


def _record(*, session, phone, pieces, code, coop_name, at) -> tuple[str, str]:
    if pieces < 1:
        raise admin.Invalid("pieces")
    found, cooperative = _member(session, phone, coop_name)
    moment = admin.parse_at(at, cooperative.timezone) if at else clock.now()
    connection = session.connection()
    orders = statements.active_orders(connection, cooperative_id=cooperative.id, member=found)
    wanted = code.strip().upper() if code else None
    chosen = choose_order(wanted, orders, [o for o in orders if o.mine])
    if isinstance(chosen, list):
        if wanted:
            raise admin.Invalid("no_order", coop=cooperative.name, code=wanted)
        raise admin.Invalid("order_needed", codes=", ".join(chosen) or "no active orders")
    statements.record_report(connection, member=found, order=chosen, pieces=pieces, at=moment,
                             day=clock.today(cooperative, moment), source=Source.CLI)
    return found.name, chosen.code


def _member(session, phone: str, coop_name: str | None) -> tuple[Member, Cooperative]:
    """The member with this phone (as typed locally or in E.164), in one cooperative."""
    if coop_name:
        cooperatives = [admin.find_cooperative(session=session, name=coop_name)]
    else:
        cooperatives = list(session.scalars(select(Cooperative)))
    found = []
    for cooperative in cooperatives:
        try:
            e164 = to_e164(phone, cooperative.country)
        except BadPhone:
            continue
        candidate = store.member_by_phone(session=session, cooperative_id=cooperative.id, phone=e164)
        if candidate is not None:
            found.append((candidate, cooperative))
    if not found:
        raise admin.Invalid("no_phone", phone=phone)
    if len(found) > 1:
        raise admin.Invalid("several_coops", phone=phone)
    return found[0]


@click.command("say")
@with_appcontext
@click.option("--from", "sender", required=True, help="the member's phone; whatsapp:+… for WhatsApp")
@click.option("--to", "recipient", help="the cooperative's number (default: the sender's cooperative)")
@click.option("--at", help="as if it were this moment (ISO 8601)")
@click.argument("text")
def say(sender, recipient, at, text) -> None:
    """Send one message through the whole inbound path and print the reply."""
    message = _checked(_inbound, sender=sender, recipient=recipient, at=at, text=text)
    click.echo(receive(puntada().engine, message))
    if puntada().settings.messaging_backend == "console":
        # What the message queued (a coordinator's notice, a welcome) is shown here too.
        send_queued(puntada().engine, Console())


def _inbound(*, session, sender, recipient, at, text) -> Inbound:
    number, channel = split_address(sender)
    cooperative = _cooperative_for(session, number, recipient)
    try:
        phone = to_e164(number, cooperative.country)
    except BadPhone:
        raise admin.Invalid("from", value=sender) from None
    return Inbound(
        sid="SM" + uuid.uuid4().hex,
        sender=address_for(phone, channel),
        recipient=cooperative.whatsapp_number if channel == Channel.WHATSAPP else cooperative.sms_number,
        body=text,
        at=admin.parse_at(at, cooperative.timezone) if at else None,
    )


def _cooperative_for(session, number: str, recipient: str | None) -> Cooperative:
    """--to's cooperative; else the sender's; else the only one there is."""
    if recipient:
        cooperative = store.cooperative_by_number(session=session, number=split_address(recipient)[0])
        if cooperative is None:
            raise admin.Invalid("to", value=recipient)
        return cooperative
    try:
        return _member(session, number, None)[1]
    except admin.Invalid:
        cooperatives = list(session.scalars(select(Cooperative).limit(2)))
        if len(cooperatives) != 1:
            raise admin.Invalid("not_member_give_to", value=number) from None
        return cooperatives[0]


@export.command("reports")
@click.option("--coop", "coop_name")
@click.option("--from", "first", help="first day, YYYY-MM-DD")
@click.option("--to", "last", help="last day, YYYY-MM-DD")
def export_reports(coop_name, first, last) -> None:
    """Accepted reports as CSV: at,cooperative,member,phone,order,pieces."""
    rows = _checked(_report_rows, coop_name=coop_name, first=first, last=last)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["at", "cooperative", "member", "phone", "order", "pieces"])
    writer.writerows(rows)


def _report_rows(*, session, coop_name, first, last) -> list[tuple]:
    query = (
        select(Report, Member, Cooperative, Order.code)
        .join(Member, Report.member_id == Member.id)
        .join(Cooperative, Report.cooperative_id == Cooperative.id)
        .join(Order, Report.order_id == Order.id)
        .where(Report.status == ReportStatus.ACCEPTED)
        .order_by(Report.at, Report.id)
    )
    if coop_name:
        query = query.where(Cooperative.id == admin.find_cooperative(session=session, name=coop_name).id)
    if first:
        query = query.where(Report.local_date >= admin.parse_day(first, "--from"))
    if last:
        query = query.where(Report.local_date <= admin.parse_day(last, "--to"))
    return [
        (_local_iso(r.at, c.timezone), c.name, m.name, m.phone, code, r.pieces)
        for r, m, c, code in session.execute(query)
    ]


def _local_iso(at, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


@click.command("demo")
@click.option("--at", help="as of this moment (ISO 8601; no offset: El Alto's clock): "
                           "the ten days of reports end the day before it")
@with_appcontext
def demo(at: str | None) -> None:
    """Load the demo cooperative (once; a second run changes nothing)."""
    from bot.demo import TIMEZONE, load

    moment = _moment(at)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(TIMEZONE))
    with _work() as session:
        loaded = load(session=session, now=moment)
    click.echo(loaded)


@jobs_group.command("run")
@click.argument("name", type=click.Choice(JOB_NAMES))
@click.option("--at", help="as if it were this moment (ISO 8601; no offset: each cooperative's own clock)")
def jobs_run(name: str, at: str | None) -> None:
    """Run one job now (or as if at --at) and say what it did."""
    moment = _moment(at)
    engine, settings = puntada().engine, puntada().settings
    if name == "dispatch":
        from bot.channels import channel_for
        from bot.dispatch import dispatch

        click.echo(f"dispatch: {dispatch(engine, settings, channel_for(settings), at=moment)}")
        return
    if name == "spool":
        from bot import spool

        click.echo(f"spool: {spool.replay(engine, Path(settings.spool_dir))}")
        return
    from bot import jobs

    click.echo(f"{name}: queued {jobs.run(engine, jobs.JOBS[name], at=moment)}")


def _moment(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at.strip())
    except ValueError:
        moment = None
    if moment is None or not 2000 <= moment.year <= 2100:
        raise _Fail(f"--at {at!r} is not an ISO 8601 time like 2026-12-01T17:05")
    return moment


@click.command("outbox")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]))
@with_appcontext
def outbox_command(status: str | None) -> None:
    """List the outbox, oldest first (numbers masked)."""
    from bot.outbox import messages

    with Session(puntada().engine) as session:
        rows = messages(session=session, status=status)
        zones = {c.id: c.timezone for c in session.scalars(select(Cooperative))}
    for row in rows:
        when = row.created_at.astimezone(ZoneInfo(zones.get(row.cooperative_id, "UTC")))
        reason = ": ".join(str(part) for part in (row.error_code, row.error) if part)
        error = f" [{reason}]" if reason else ""
        click.echo(f"{row.id:>5} {when:%Y-%m-%d %H:%M} {row.status:<9} {row.kind:<10} {row.channel:<8} "
                   f"{mask(row.recipient)} {row.body}{error}")


@click.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Run the clock alone (production: one such process beside the web workers)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from bot.scheduler import Clock
    from bot.serving import configure_logging

    configure_logging()
    clock_ = Clock(BlockingScheduler(), puntada().engine, puntada().settings, _sender(puntada()))
    clock_.start()


def _sender(app_state):
    """Dispatch as the scheduler does it: the configured channel, now."""
    from bot.channels import channel_for
    from bot.dispatch import dispatch

    channel = channel_for(app_state.settings)
    return lambda: dispatch(app_state.engine, app_state.settings, channel)


@click.command("serve")
@with_appcontext
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="run the clock in this process too (production: --no-scheduler + `puntada scheduler`)")
def serve(workers: int, threads: int, scheduler: bool) -> None:
    """Serve the web app with gunicorn on HOST:PORT, with the scheduler beside it."""
    from bot.serving import run

    settings = puntada().settings
    run(settings=settings, workers=workers, threads=threads, with_scheduler=scheduler)
