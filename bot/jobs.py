"""The scheduled notices, as plain functions: `puntada jobs run …` and APScheduler call these.

Each job looks at each cooperative's own clock (or `at`), decides what is due, and queues
it in the outbox under a key (who, what, which day or order). Running a job twice, or in
three processes at once, queues nothing twice: the database keeps the keys unique.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select
from sqlmodel import Session

from bot import clock, outbox, overview, store
from bot.db import unit_of_work
from bot.models import Cooperative, InboundMessage, Member, Order, Role
from bot.notices import buyer_contacts, coordinators
from bot.progress import parse_working_days
from bot.render import render
from handlers.context import first_name

log = logging.getLogger(__name__)
MAX_NAMES = 10


@dataclass(frozen=True)
class Moment:
    """When a job runs: a cooperative's local time, from an instant or a wall-clock time."""

    cooperative: Cooperative
    at: datetime  # aware

    @property
    def today(self):
        return clock.today(self.cooperative, self.at)

    def working(self) -> bool:
        return clock.is_working_day(self.cooperative, self.today)

    def passed(self, hhmm: str) -> bool:
        return clock.has_passed(self.cooperative, self.at, hhmm)


Job = Callable[[Session, Moment], int]


def run(engine: Engine, job: Job, *, at: datetime | None = None, cooperative_id: int | None = None) -> int:
    """Run `job` for each cooperative (or one) in its own transaction; returns messages queued."""
    with Session(engine) as session:
        query = select(Cooperative.id).order_by(Cooperative.id)
        if cooperative_id is not None:
            query = query.where(Cooperative.id == cooperative_id)
        ids = list(session.scalars(query))
    queued = 0
    for coop_id in ids:
        try:
            with unit_of_work(engine) as session:
                cooperative = session.get(Cooperative, coop_id)
                queued += job(session, Moment(cooperative, clock.instant(cooperative, at)))
        except Exception:
            if cooperative_id is not None:
                raise
            # One cooperative's trouble must not keep the others' notices from going out.
            log.exception("%s failed for cooperative %s", job.__name__, coop_id)
    log.info("%s queued %d message(s)", job.__name__, queued)
    return queued


def reminders(session: Session, moment: Moment) -> int:
    """Remind assigned, active, opted-in members who have not reported today."""
    coop = moment.cooperative
    if not moment.working() or not moment.passed(coop.reminder_time):
        return 0
    if clock.in_quiet_hours(coop, moment.at):
        return 0  # a reminder for today is no use tomorrow morning
    orders = store.active_orders(session=session, cooperative_id=coop.id)
    reported = store.reported_on(session=session, cooperative_id=coop.id, day=moment.today)
    due = [
        m for m in overview.working_members(session=session, cooperative=coop, orders=orders)
        if m.id not in reported and not m.opted_out
    ]
    rows = [_member_row(m, f"reminder:{m.id}:{moment.today}", "reminder",
                        render("reminder", m.language, name=first_name(m)), {"1": first_name(m)})
            for m in due]
    return outbox.queue_many(session=session, rows=_as_of(rows, moment))


def digest(session: Session, moment: Moment) -> int:
    """The coordinators' daily digest, once the digest time has passed on a working day."""
    coop = moment.cooperative
    if not moment.working() or not moment.passed(coop.digest_time):
        return 0
    orders = store.active_orders(session=session, cooperative_id=coop.id)
    silent = overview.silent_members(session=session, cooperative=coop, orders=orders, today=moment.today)
    values = dict(
        coop=coop.name,
        day=moment.today,
        today=store.pieces_on(session=session, cooperative_id=coop.id, day=moment.today),
        orders=[_line(o, pace=_standing(session, coop, o, moment)) for o in orders],
        silent=[m.name for m in silent[:MAX_NAMES]],
        more=max(len(silent) - MAX_NAMES, 0),
        waiting=_waiting(session, coop, moment),
    )
    rows = [_member_row(c, f"digest:{c.id}:{moment.today}", "digest", render("digest", c.language, **values),
                        {"1": coop.name}) for c in coordinators(session=session, cooperative_id=coop.id)]
    return outbox.queue_many(session=session, rows=_as_of(rows, moment))


def alerts(session: Session, moment: Moment) -> int:
    """At-risk warnings (coordinators and buyers, once per order) and silent-member alerts."""
    coop = moment.cooperative
    if not moment.working():
        return 0
    orders = store.active_orders(session=session, cooperative_id=coop.id)
    rows = []
    for order in orders:
        standing = _standing(session, coop, order, moment)
        if standing.at_risk:
            rows += _risk_rows(session, coop, order, standing, moment)
    if moment.passed(coop.digest_time):
        rows += _silent_rows(session, coop, orders, moment)
    return outbox.queue_many(session=session, rows=_as_of(rows, moment))


def _risk_rows(session: Session, coop: Cooperative, order: Order, standing, moment: Moment) -> list[dict]:
    values = dict(coop=coop.name, code=order.code, item=order.item, done=order.done, qty=order.quantity,
                  needed=standing.needed_per_day, recent=standing.recent_per_day,
                  projected=standing.projected, due=order.due_date, today=moment.today)
    rows = [_member_row(c, f"risk:{order.id}:{c.id}", "warning", render("risk", c.language, **values),
                        {"1": order.code}) for c in coordinators(session=session, cooperative_id=coop.id)]
    rows += [_contact_row(coop, c, f"warning:{order.id}:{c.id}", "warning",
                          render("warning", c.language, **values))
             for c in buyer_contacts(session=session, buyer_id=order.buyer_id)]
    return rows


def _silent_rows(session: Session, coop: Cooperative, orders: Sequence[Order], moment: Moment) -> list[dict]:
    silent = overview.silent_members(session=session, cooperative=coop, orders=orders, today=moment.today)
    if not silent:
        return []
    values = dict(coop=coop.name, count=len(silent), names=[m.name for m in silent[:MAX_NAMES]],
                  more=max(len(silent) - MAX_NAMES, 0))
    return [
        _member_row(c, f"silent:{c.id}:{moment.today}", "silent", render("silent", c.language, **values),
                    {"1": str(len(silent))})
        for c in coordinators(session=session, cooperative_id=coop.id)
    ]


def weekly(session: Session, moment: Moment) -> int:
    """Each buyer contact's weekly progress, on the week's first working day after the digest time."""
    coop = moment.cooperative
    if not _weekly_due(moment):
        return 0
    monday = moment.today - timedelta(moment.today.weekday())
    year, week, _ = moment.today.isocalendar()
    by_buyer: dict[int, list[dict]] = {}
    for order in store.active_orders(session=session, cooperative_id=coop.id):
        standing = _standing(session, coop, order, moment)
        line = _line(order, item=order.item, due=order.due_date, at_risk=standing.at_risk)
        by_buyer.setdefault(order.buyer_id, []).append(line)
    rows = []
    for buyer_id, lines in by_buyer.items():
        for contact in buyer_contacts(session=session, buyer_id=buyer_id):
            body = render("weekly", contact.language, coop=coop.name, day=monday, orders=lines)
            key = f"weekly:{coop.id}:{contact.id}:{year}-W{week:02d}"
            rows.append(_contact_row(coop, contact, key, "weekly", body))
    return outbox.queue_many(session=session, rows=_as_of(rows, moment))


def _weekly_due(moment: Moment) -> bool:
    """From the digest time of the week's first working day to the end of the week."""
    days = parse_working_days(moment.cooperative.working_days)
    monday = moment.today - timedelta(moment.today.weekday())
    first = next((monday + timedelta(i) for i in range(7) if (monday + timedelta(i)).weekday() in days), None)
    if first is None or moment.today < first:
        return False
    return moment.today > first or moment.passed(moment.cooperative.digest_time)


def _line(order: Order, **extra) -> dict:
    return {"code": order.code, "done": order.done, "qty": order.quantity, **extra}


def _standing(session: Session, coop: Cooperative, order: Order, moment: Moment):
    return overview.order_standing(session=session, cooperative=coop, order=order, today=moment.today)


def _waiting(session: Session, coop: Cooperative, moment: Moment) -> int:
    """Today's messages for the coordinator still waiting in Mensajes: not understood, or a
    question, news or media for her (one line of the digest, not one SMS each)."""
    start = clock.start_of_day(coop, moment.today)
    query = select(func.count()).select_from(InboundMessage).where(
        InboundMessage.cooperative_id == coop.id,
        or_(InboundMessage.understood.is_(False), InboundMessage.for_coordinator.is_(True)),
        InboundMessage.handled.is_(False),
        InboundMessage.received_at >= start,
        InboundMessage.received_at < start + timedelta(days=1),
    )
    return session.execute(query).scalar_one()


def _member_row(member: Member, key: str, kind: str, body: str, variables: dict[str, str]) -> dict:
    return dict(key=key, recipient=member.phone, channel=member.channel, kind=kind, body=body,
                cooperative_id=member.cooperative_id, variables=variables)


def _contact_row(coop: Cooperative, contact, key: str, kind: str, body: str) -> dict:
    return dict(key=key, recipient=contact.phone, channel="sms", kind=kind, body=body,
                cooperative_id=coop.id, variables={"1": coop.name})


def _as_of(rows: list[dict], moment: Moment) -> list[dict]:
    # Queued "as of" the job's moment: `--at` backfills and tests see the day they asked for.
    return [{**row, "created_at": moment.at} for row in rows]


JOBS: dict[str, Job] = {"reminders": reminders, "digest": digest, "alerts": alerts, "weekly": weekly}
__all__ = ["JOBS", "Role", "run"]
