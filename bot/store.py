"""Queries and writes as plain functions; every one takes the session by keyword."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, or_, select
from sqlmodel import Session

from bot.models import (
    Assignment,
    BuyerContact,
    Cooperative,
    Member,
    Order,
    OrderStatus,
    Report,
    ReportStatus,
    Role,
)


def cooperative_by_number(*, session: Session, number: str) -> Cooperative | None:
    """The cooperative whose SMS or WhatsApp number is `number` (E.164)."""
    query = select(Cooperative).where(
        or_(Cooperative.sms_number == number, Cooperative.whatsapp_number == number)
    )
    return session.scalars(query.order_by(Cooperative.id)).first()


def cooperative_by_name(*, session: Session, name: str) -> Cooperative | None:
    """The cooperative called `name`, ignoring case."""
    query = select(Cooperative).where(func.lower(Cooperative.name) == name.strip().lower())
    return session.scalars(query).first()


def member_by_phone(
    *, session: Session, cooperative_id: int, phone: str, lock: bool = False
) -> Member | None:
    """The member of a cooperative with this E.164 phone.

    With `lock`, her row stays locked until the transaction ends, so that two of her
    messages ("si" sent twice) are handled one after the other (SQLite's write lock
    already serialises every writer).
    """
    query = select(Member).where(Member.cooperative_id == cooperative_id, Member.phone == phone)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def contacts_by_phone(*, session: Session, phone: str) -> list[BuyerContact]:
    """Every buyer contact registered with this E.164 phone."""
    return list(session.scalars(select(BuyerContact).where(BuyerContact.phone == phone)))


def members(*, session: Session, cooperative_id: int, active: bool = True) -> list[Member]:
    """The cooperative's members, by name."""
    query = select(Member).where(Member.cooperative_id == cooperative_id)
    if active:
        query = query.where(Member.active)
    return list(session.scalars(query.order_by(Member.name)))


def active_orders(*, session: Session, cooperative_id: int) -> list[Order]:
    """The cooperative's active orders, by code."""
    query = select(Order).where(
        Order.cooperative_id == cooperative_id, Order.status == OrderStatus.ACTIVE
    )
    return list(session.scalars(query.order_by(Order.code)))


def assigned_orders(*, session: Session, member: Member) -> list[Order]:
    """Active orders assigned to `member`, directly or, for embroiderers, "to all"."""
    assigned = Order.id.in_(select(Assignment.order_id).where(Assignment.member_id == member.id))
    if member.role == Role.EMBROIDERER:
        assigned = or_(Order.assign_all, assigned)
    query = select(Order).where(
        Order.cooperative_id == member.cooperative_id,
        Order.status == OrderStatus.ACTIVE,
        assigned,
    )
    return list(session.scalars(query.order_by(Order.code)))


def assigned_member_ids(*, session: Session, order: Order) -> set[int]:
    """Ids of the active embroiderers who work on `order`."""
    if order.assign_all:
        query = select(Member.id).where(
            Member.cooperative_id == order.cooperative_id,
            Member.active,
            Member.role == Role.EMBROIDERER,
        )
    else:
        query = (
            select(Member.id)
            .join(Assignment, Assignment.member_id == Member.id)
            .where(Assignment.order_id == order.id, Member.active)
        )
    return set(session.scalars(query))


def assign(*, session: Session, order: Order, member_ids: Iterable[int]) -> None:
    """Assign members to an order (ignoring those already assigned)."""
    existing = set(
        session.scalars(select(Assignment.member_id).where(Assignment.order_id == order.id))
    )
    for member_id in set(member_ids) - existing:
        session.add(Assignment(order_id=order.id, member_id=member_id))
    session.flush()


def pieces_between(*, session: Session, member_id: int, first: date, last: date) -> int:
    """Her accepted pieces from day `first` to day `last`, both included."""
    query = select(func.coalesce(func.sum(Report.pieces), 0)).where(
        Report.member_id == member_id,
        Report.status == ReportStatus.ACCEPTED,
        Report.local_date >= first,
        Report.local_date <= last,
    )
    return int(session.execute(query).scalar_one())


def reported_on(*, session: Session, cooperative_id: int, day: date) -> set[int]:
    """Ids of members with an accepted report on `day`."""
    query = select(Report.member_id).where(
        Report.cooperative_id == cooperative_id,
        Report.status == ReportStatus.ACCEPTED,
        Report.local_date == day,
    )
    return set(session.scalars(query.distinct()))


def last_report_days(*, session: Session, cooperative_id: int) -> dict[int, date]:
    """Each member's latest day with an accepted report."""
    query = (
        select(Report.member_id, func.max(Report.local_date))
        .where(Report.cooperative_id == cooperative_id, Report.status == ReportStatus.ACCEPTED)
        .group_by(Report.member_id)
    )
    return {member_id: day for member_id, day in session.execute(query)}


def daily_pieces(*, session: Session, order_id: int, first: date, last: date) -> dict[date, int]:
    """Accepted pieces per day on one order between two days, both included."""
    query = (
        select(Report.local_date, func.sum(Report.pieces))
        .where(
            Report.order_id == order_id,
            Report.status == ReportStatus.ACCEPTED,
            Report.local_date >= first,
            Report.local_date <= last,
        )
        .group_by(Report.local_date)
    )
    return {day: int(total) for day, total in session.execute(query)}


def pieces_on(*, session: Session, cooperative_id: int, day: date) -> int:
    """All accepted pieces the cooperative reported on `day`."""
    query = select(func.coalesce(func.sum(Report.pieces), 0)).where(
        Report.cooperative_id == cooperative_id,
        Report.status == ReportStatus.ACCEPTED,
        Report.local_date == day,
    )
    return int(session.execute(query).scalar_one())
