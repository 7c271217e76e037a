"""Queries and writes as plain functions; every one takes the session by keyword."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from bot import notices
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


def record_report(
    *,
    session: Session,
    member: Member,
    order: Order,
    pieces: int,
    at: datetime,
    local_date: date,
    status: ReportStatus = ReportStatus.ACCEPTED,
    inbound_id: int | None = None,
    source: str = "sms",
    recorded_by_id: int | None = None,
    replaces_id: int | None = None,
) -> Report:
    """Store a report; an accepted one adds to the order's running total at once."""
    report = Report(
        cooperative_id=member.cooperative_id,
        member_id=member.id,
        order_id=order.id,
        pieces=pieces,
        status=status,
        at=at,
        local_date=local_date,
        inbound_id=inbound_id,
        source=source,
        recorded_by_id=recorded_by_id,
        replaces_id=replaces_id,
    )
    session.add(report)
    session.flush()
    if status == ReportStatus.ACCEPTED:
        _add_to_order(session, order, pieces)
    return report


def accept(*, session: Session, report: Report, order: Order) -> bool:
    """Accept a held report (her "si"), cancelling the report it corrects, if any."""
    if not _move(session, report, ReportStatus.HELD, ReportStatus.ACCEPTED):
        return False
    if report.replaces_id is not None:
        replaced = session.get(Report, report.replaces_id)
        if replaced is not None:
            cancel(session=session, report=replaced, order=session.get(Order, replaced.order_id))
    _add_to_order(session, order, report.pieces)
    return True


def cancel(*, session: Session, report: Report, order: Order) -> bool:
    """Cancel a report; an accepted one leaves the order's running total."""
    for status in (ReportStatus.ACCEPTED, ReportStatus.HELD):
        if _move(session, report, status, ReportStatus.CANCELLED):
            if status == ReportStatus.ACCEPTED:
                _add_to_order(session, order, -report.pieces)
            return True
    return False


def _move(session: Session, report: Report, old: ReportStatus, new: ReportStatus) -> bool:
    # Conditional on the status it had: of two transactions moving the same report, one
    # moves it and the other sees that nothing changed, so the total moves once.
    session.flush()
    statement = (
        update(Report)
        .where(Report.id == report.id, Report.status == old)
        .values(status=new)
        .returning(Report.id)
        .execution_options(synchronize_session=False)
    )
    moved = session.execute(statement).first() is not None
    session.refresh(report, ["status"])
    return moved


def _add_to_order(session: Session, order: Order, pieces: int) -> None:
    # One atomic UPDATE: concurrent reports on the same order never lose each other's pieces.
    statement = (
        update(Order).where(Order.id == order.id).values(done=Order.done + pieces)
    ).returning(Order.done)
    order.done = session.execute(statement).scalar_one()
    # Milestones and completion go out in this same transaction, or not at all.
    notices.progress_changed(session=session, order=order, before=order.done - pieces, after=order.done)


def latest_report(
    *, session: Session, member: Member, status: ReportStatus, order_id: int | None = None
) -> Report | None:
    """Her most recent report with this status (on one order, when given)."""
    query = select(Report).where(Report.member_id == member.id, Report.status == status)
    if order_id is not None:
        query = query.where(Report.order_id == order_id)
    return session.scalars(query.order_by(Report.at.desc(), Report.id.desc()).limit(1)).first()


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


def held_with(*, session: Session, report: Report) -> list[Report]:
    """The held reports that came in the same message as `report`."""
    if report.inbound_id is None:
        return [report]
    query = select(Report).where(
        Report.member_id == report.member_id,
        Report.inbound_id == report.inbound_id,
        Report.status == ReportStatus.HELD,
    )
    return list(session.scalars(query.order_by(Report.id)))
