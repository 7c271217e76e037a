"""What the dashboard's pages show: plain query functions with keyword-only arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session

from bot import clock, store
from bot.models import (
    Assignment,
    Buyer,
    Cooperative,
    InboundMedia,
    InboundMessage,
    Member,
    Order,
    OrderStatus,
    Outbox,
    Report,
    ReportStatus,
)
from bot.overview import order_standing, silent_members
from bot.progress import Pace

OUTBOX_SHOWN = 100
SIGN_IN_CODE = "code"  # the outbox kind of a login code: never on any page


@dataclass(frozen=True)
class OrderCard:
    """One order as the overview and the order page show it."""

    order: Order
    cooperative: Cooperative
    buyer: Buyer
    standing: Pace
    today: date

    @property
    def bar(self) -> int:
        """The progress bar's width in percent (over-production fills it, no more)."""
        return min(self.standing.percent, 100)


def order_card(*, session: Session, order: Order, now: datetime) -> OrderCard:
    """Where one order stands today, on its cooperative's clock."""
    cooperative = session.get(Cooperative, order.cooperative_id)
    today = clock.today(cooperative, now)
    standing = order_standing(session=session, cooperative=cooperative, order=order, today=today)
    return OrderCard(order, cooperative, session.get(Buyer, order.buyer_id), standing, today)


def open_orders(*, session: Session, query, now: datetime) -> list[OrderCard]:
    """The active orders among `query`'s, by due date."""
    query = query.where(Order.status == OrderStatus.ACTIVE).order_by(Order.due_date, Order.code)
    orders = session.scalars(query)
    return [order_card(session=session, order=o, now=now) for o in orders]


@dataclass(frozen=True)
class Day:
    """The cooperative's day at a glance, for its coordinator."""

    pieces: int
    silent: list[Member]


def cooperative_day(*, session: Session, cooperative: Cooperative, now: datetime) -> Day:
    """Pieces reported today and members who have gone silent."""
    today = clock.today(cooperative, now)
    orders = store.active_orders(session=session, cooperative_id=cooperative.id)
    return Day(
        pieces=store.pieces_on(session=session, cooperative_id=cooperative.id, day=today),
        silent=silent_members(session=session, cooperative=cooperative, orders=orders, today=today),
    )


def all_daily_pieces(*, session: Session, order: Order, today: date) -> dict[date, int]:
    """Accepted pieces per day on an order, from its first report up to today."""
    return store.daily_pieces(session=session, order_id=order.id, first=date(2000, 1, 1), last=today)


@dataclass(frozen=True)
class Contribution:
    member: Member
    pieces: int
    percent: int  # of the order's quantity


def contributions(*, session: Session, order: Order) -> list[Contribution]:
    """Each member's accepted pieces on the order, most first."""
    query = (
        select(Member, func.sum(Report.pieces))
        .join(Report, Report.member_id == Member.id)
        .where(Report.order_id == order.id, Report.status == ReportStatus.ACCEPTED)
        .group_by(Member.id)
        .order_by(func.sum(Report.pieces).desc(), Member.name)
    )
    return [
        Contribution(member, int(pieces), int(pieces) * 100 // order.quantity if order.quantity else 0)
        for member, pieces in session.execute(query)
    ]


def assigned(*, session: Session, order: Order) -> list[Member]:
    """The active members working on the order, by name."""
    ids = store.assigned_member_ids(session=session, order=order)
    everyone = store.members(session=session, cooperative_id=order.cooperative_id)
    return [m for m in everyone if m.id in ids]


def set_assignments(*, session: Session, order: Order, to_all: bool, member_ids: set[int]) -> None:
    """Replace who works on the order: everyone (also those who join later), or these members."""
    order.assign_all = to_all
    keep = set() if to_all else member_ids
    session.execute(
        delete(Assignment).where(Assignment.order_id == order.id, Assignment.member_id.not_in(keep))
    )
    store.assign(session=session, order=order, member_ids=keep)


@dataclass(frozen=True)
class MemberRow:
    member: Member
    today: int
    month: int
    last_report: date | None


def member_rows(
    *, session: Session, members: list[Member], cooperative: Cooperative, now: datetime,
    order_ids: list[int] | None = None,
) -> list[MemberRow]:
    """Today's pieces, this month's and the last report day of each member (on `order_ids` only, if given)."""
    today = clock.today(cooperative, now)
    ids = [m.id for m in members]
    accepted = [Report.member_id.in_(ids), Report.status == ReportStatus.ACCEPTED]
    if order_ids is not None:
        accepted.append(Report.order_id.in_(order_ids))
    month_first = today.replace(day=1)
    query = (
        select(
            Report.member_id,
            func.sum(Report.pieces).filter(Report.local_date == today),
            func.sum(Report.pieces).filter(Report.local_date >= month_first, Report.local_date <= today),
            func.max(Report.local_date),
        )
        .where(*accepted)
        .group_by(Report.member_id)
    )
    sums = {row[0]: row[1:] for row in session.execute(query)}
    return [
        MemberRow(m, int(sums.get(m.id, (0,))[0] or 0), int(sums.get(m.id, (0, 0))[1] or 0),
                  sums.get(m.id, (0, 0, None))[2])
        for m in members
    ]


def cooperative_members(*, session: Session, cooperative: Cooperative) -> list[Member]:
    """Every member, active ones first, by name."""
    query = select(Member).where(Member.cooperative_id == cooperative.id)
    return list(session.scalars(query.order_by(Member.active.desc(), Member.name)))


def buyer_members(*, session: Session, buyer: Buyer) -> list[tuple[Cooperative, list[Member], list[int]]]:
    """Per cooperative the buyer buys from: the members working on its active orders, and the orders."""
    orders = session.scalars(
        select(Order).where(Order.buyer_id == buyer.id, Order.status == OrderStatus.ACTIVE).order_by(Order.id)
    ).all()
    groups: dict[int, tuple[set[int], list[int]]] = {}
    for order in orders:
        ids, order_ids = groups.setdefault(order.cooperative_id, (set(), []))
        ids |= store.assigned_member_ids(session=session, order=order)
        order_ids.append(order.id)
    result = []
    for cooperative_id, (ids, order_ids) in groups.items():
        members = [m for m in store.members(session=session, cooperative_id=cooperative_id) if m.id in ids]
        result.append((session.get(Cooperative, cooperative_id), members, order_ids))
    return result


@dataclass(frozen=True)
class Waiting:
    """A message waiting for the coordinator: not understood, or a question, news or media for her."""

    message: InboundMessage
    member: Member | None
    media: list[InboundMedia]


def waiting(*, session: Session, cooperative: Cooperative) -> list[Waiting]:
    """Messages for the coordinator that nobody has dealt with yet, newest first, with their media."""
    query = (
        select(InboundMessage, Member)
        .outerjoin(Member, Member.id == InboundMessage.member_id)
        .where(
            InboundMessage.cooperative_id == cooperative.id,
            or_(InboundMessage.understood.is_(False), InboundMessage.for_coordinator.is_(True)),
            InboundMessage.handled.is_(False),
        )
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    )
    rows = [tuple(row) for row in session.execute(query)]
    with_media = [m.id for m, _ in rows if m.num_media]
    media: dict[int, list[InboundMedia]] = {}
    if with_media:
        for item in session.scalars(select(InboundMedia).where(InboundMedia.inbound_id.in_(with_media))
                                    .order_by(InboundMedia.inbound_id, InboundMedia.position)):
            media.setdefault(item.inbound_id, []).append(item)
    return [Waiting(message, member, media.get(message.id, [])) for message, member in rows]


def recent_outbox(*, session: Session, cooperative: Cooperative) -> list[tuple[Outbox, str | None]]:
    """The cooperative's latest outbound messages with the recipient's name where she is a member.

    Sign-in codes are never shown: whoever reads the page could sign in as their recipient.
    """
    query = (
        select(Outbox, Member.name)
        .outerjoin(Member, (Member.phone == Outbox.recipient) & (Member.cooperative_id == cooperative.id))
        .where(Outbox.cooperative_id == cooperative.id, Outbox.kind != SIGN_IN_CODE)
        .order_by(Outbox.id.desc())
        .limit(OUTBOX_SHOWN)
    )
    return [tuple(row) for row in session.execute(query)]


@dataclass(frozen=True)
class PayLine:
    order: Order
    pieces: int
    amount: Decimal | None  # None when the order has no piece rate


@dataclass(frozen=True)
class PayRow:
    member: Member
    lines: list[PayLine]

    @property
    def pieces(self) -> int:
        return sum(line.pieces for line in self.lines)

    @property
    def amount(self) -> Decimal:
        return sum((line.amount or Decimal(0) for line in self.lines), Decimal("0.00"))


def pay(*, session: Session, cooperative: Cooperative, month: date) -> list[PayRow]:
    """Per member, the month's accepted pieces per order and what they earn at the order's rate."""
    last = (month.replace(day=28) + timedelta(4)).replace(day=1) - timedelta(1)
    query = (
        select(Member, Order, func.sum(Report.pieces))
        .join(Report, Report.member_id == Member.id)
        .join(Order, Order.id == Report.order_id)
        .where(
            Report.cooperative_id == cooperative.id,
            Report.status == ReportStatus.ACCEPTED,
            Report.local_date >= month,
            Report.local_date <= last,
        )
        .group_by(Member.id, Order.id)
        .order_by(Member.name, Member.id, Order.code, Order.id)
    )
    rows: dict[int, PayRow] = {}
    for member, order, pieces in session.execute(query):
        amount = order.piece_rate * int(pieces) if order.piece_rate is not None else None
        rows.setdefault(member.id, PayRow(member, [])).lines.append(PayLine(order, int(pieces), amount))
    return list(rows.values())
