"""Small builders for the story's people and orders, and a way to text the bot."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot import admin
from bot.db import unit_of_work
from bot.inbound import Inbound, Media, receive
from bot.models import Buyer, Cooperative, InboundMessage, Member, Order, Outbox, Report, Role

COOP_NUMBER = "+59162000100"
ROSA, LIDIA, ELENA = "+59171000001", "+59171000002", "+59171000003"
JUANA = "+59171000099"  # the coordinator
EXPORTER_CONTACT = "+59172200001"
STORY_START = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # a Monday: the club's month begins
_sids = itertools.count(1)


@dataclass
class Club:
    cooperative: Cooperative
    coordinator: Member
    rosa: Member
    lidia: Member
    elena: Member
    buyer: Buyer
    order: Order


def club(engine: Engine, *, plausible_max: int = 300, due: str = "2026-12-23") -> Club:
    """Club de Madres Bartolina Sisa: Juana coordinates Rosa, Lidia and Elena on order A."""
    with unit_of_work(engine) as session:
        coop = admin.add_cooperative(session=session, name="Bartolina Sisa", number=COOP_NUMBER)
        coop.plausible_max = plausible_max
        juana = admin.add_member(session=session, cooperative=coop, phone=JUANA,
                                 name="Juana Condori", role=Role.COORDINATOR)
        rosa = admin.add_member(session=session, cooperative=coop, phone=ROSA, name="Rosa Mamani")
        lidia = admin.add_member(session=session, cooperative=coop, phone=LIDIA, name="Lidia Apaza")
        elena = admin.add_member(session=session, cooperative=coop, phone=ELENA,
                                 name="Elena Quispe", language="en")
        buyer = admin.add_buyer(session=session, name="Andes Export", contacts=(EXPORTER_CONTACT,),
                                language="es", region="BO")
        order = admin.add_order(session=session, cooperative=coop, buyer_name="Andes Export",
                                code="A", item="blusas", quantity=15_000, due=due,
                                piece_rate="3.50", assign="all")
        for row in (coop, juana, rosa, lidia, elena, order):  # the story starts with the month
            row.created_at = STORY_START
    return Club(coop, juana, rosa, lidia, elena, buyer, order)


def order(engine: Engine, club: Club, *, code: str, quantity: int = 1_000, buyer: str | None = None,
          assign: str | None = None, due: str = "2026-12-15", item: str = "manteles") -> Order:
    """Another order at the club."""
    with unit_of_work(engine) as session:
        if buyer and not session.scalars(select(Buyer).where(Buyer.name == buyer)).first():
            admin.add_buyer(session=session, name=buyer, contacts=(), language="es", region="BO")
        created = admin.add_order(session=session, cooperative=club.cooperative,
                                  buyer_name=buyer or club.buyer.name, code=code, item=item,
                                  quantity=quantity, due=due, assign=assign)
        created.created_at = STORY_START
        return created


def text(engine: Engine, sender: str, body: str, *, at: datetime | None = None,
         sid: str | None = None, to: str = COOP_NUMBER) -> str:
    """Text the bot as `sender` and return its reply."""
    sid = sid or f"SM{next(_sids):032d}"
    return receive(engine, Inbound(sid, sender, to, body, at))


def receive_media(engine: Engine, sender: str, body: str, media: list[tuple[str, str]], *,
                  at: datetime | None = None, sid: str | None = None) -> str:
    """Send a WhatsApp message with media (MediaUrlN, MediaContentTypeN) as Twilio would."""
    sid = sid or f"MM{next(_sids):032d}"
    return receive(engine, Inbound(sid, f"whatsapp:{sender}", f"whatsapp:{COOP_NUMBER}", body, at,
                                   media=tuple(Media(url, kind) for url, kind in media)))


def get(engine: Engine, model, ident):
    """A row as it is now."""
    with Session(engine, expire_on_commit=False) as session:
        return session.get(model, ident)


def count(engine: Engine, model, *where) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def done(engine: Engine, order_id: int) -> int:
    """The order's running total, checked against the sum of its accepted reports."""
    with Session(engine) as session:
        running = session.get(Order, order_id).done
        summed = session.execute(
            select(func.coalesce(func.sum(Report.pieces), 0)).where(
                Report.order_id == order_id, Report.status == "accepted"
            )
        ).scalar_one()
    assert running == summed, f"running total {running} != sum of reports {summed}"
    return running


def reports(engine: Engine, member_id: int | None = None) -> list[tuple[str, int, str]]:
    """(order code, pieces, status) of every report, oldest first."""
    query = select(Order.code, Report.pieces, Report.status).join(Order).order_by(Report.id)
    if member_id is not None:
        query = query.where(Report.member_id == member_id)
    with Session(engine) as session:
        return [tuple(row) for row in session.execute(query)]


def report_rows(engine: Engine, member_id: int | None = None) -> list[Report]:
    """Every report row, oldest first."""
    query = select(Report).order_by(Report.id)
    if member_id is not None:
        query = query.where(Report.member_id == member_id)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(query))


def outbox(engine: Engine) -> list[tuple[str, str, str]]:
    """(recipient, kind, body) of every queued message."""
    with Session(engine) as session:
        return [tuple(r) for r in session.execute(
            select(Outbox.recipient, Outbox.kind, Outbox.body).order_by(Outbox.id))]


def inbound(engine: Engine, sid: str) -> InboundMessage | None:
    with Session(engine) as session:
        return session.scalars(select(InboundMessage).where(InboundMessage.message_sid == sid)).first()
