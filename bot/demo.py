"""A believable club to try Puntada with: `puntada demo`, and what `make run` loads."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot import admin, clock, statements, store
from bot.models import Channel, Role, Source
from bot.progress import parse_working_days

NAME = "Club de Madres Bartolina Sisa"
NUMBER = "+59162000100"
TIMEZONE = "America/La_Paz"  # El Alto
COORDINATOR = ("Juana Condori Mamani", "71500001")
MEMBERS = [
    ("Rosa Mamani Quispe", "71500002"),
    ("María Choque Huanca", "71500003"),
    ("Elena Quispe Apaza", "71500004"),
    ("Teresa Huanca Limachi", "71500005"),
    ("Lidia Apaza Colque", "71500006"),
    ("Marta Ticona Poma", "71500007"),
    ("Sabina Flores Cusi", "71500008"),
    ("Gregoria Limachi Copa", "71500009"),
    ("Francisca Poma Alanoca", "71500010"),
    ("Dominga Cusi Nina", "71500011"),
    ("Victoria Alanoca Chura", "71500012"),
    ("Felipa Nina Laura", "71500013"),
]
WHATSAPP_MEMBER = "71500004"
EXPORTER = ("Andes Bordados Export SRL", "72200001")
SECOND_BUYER = ("Tejidos Illimani", "72200002")
DAYS_OF_REPORTS = 10


def load(*, session: Session, now: datetime | None = None) -> str:
    """Create the demo club with orders and the ten days of reports before `now`; once only."""
    if store.cooperative_by_name(session=session, name=NAME):
        return f"the demo cooperative {NAME} is already loaded"
    now = now or clock.now()
    cooperative = admin.add_cooperative(session=session, name=NAME, number=NUMBER, country="BO",
                                         timezone=TIMEZONE)
    admin.add_member(session=session, cooperative=cooperative, phone=COORDINATOR[1],
                     name=COORDINATOR[0], role=Role.COORDINATOR)
    members = [
        admin.add_member(
            session=session, cooperative=cooperative, phone=phone, name=name,
            channel=Channel.WHATSAPP if phone == WHATSAPP_MEMBER else Channel.SMS,
        )
        for name, phone in MEMBERS
    ]
    for buyer, contact in (EXPORTER, SECOND_BUYER):
        admin.add_buyer(session=session, name=buyer, contacts=(contact,), language="es", region="BO")
    today = now.astimezone(ZoneInfo(cooperative.timezone)).date()
    blouses = admin.add_order(
        session=session, cooperative=cooperative, buyer_name=EXPORTER[0], code="A",
        item="blusas bordadas", quantity=15_000, due=str(today + timedelta(24)),
        piece_rate="3.50", assign="all",
    )
    tablecloths = admin.add_order(
        session=session, cooperative=cooperative, buyer_name=SECOND_BUYER[0], code="MT",
        item="manteles bordados", quantity=600, due=str(today + timedelta(16)),
        piece_rate="12.00", assign=",".join(phone for _, phone in MEMBERS[:4]),
    )
    # The club has been working on these orders for a while: its history starts before them.
    started = now - timedelta(days=DAYS_OF_REPORTS + 2)
    for row in (cooperative, *members, blouses, tablecloths):
        row.created_at = started
    _reports(session, cooperative, members, blouses, tablecloths, now)
    return (
        f"loaded {NAME}: {len(members) + 1} members, orders A and MT, "
        f"{blouses.done} + {tablecloths.done} pieces reported"
    )


def _reports(session, cooperative, members, blouses, tablecloths, now) -> None:
    zone = ZoneInfo(cooperative.timezone)
    days = parse_working_days(cooperative.working_days)
    today = now.astimezone(zone).date()
    chance = random.Random(2026)  # the same believable history every time
    for back in range(DAYS_OF_REPORTS, 0, -1):
        day = today - timedelta(back)
        if day.weekday() not in days:
            continue
        for index, member in enumerate(members):
            if chance.random() < 0.15:  # some days someone does not report
                continue
            moment = datetime.combine(day, time(17 + chance.randint(0, 3), chance.randint(0, 59)))
            order = tablecloths if index < 4 and chance.random() < 0.4 else blouses
            pieces = chance.randint(6, 15) if order is tablecloths else chance.randint(25, 70)
            statements.record_report(
                session.connection(), member=member, order=order, pieces=pieces,
                at=moment.replace(tzinfo=zone), day=day, source=Source.SMS,
            )
