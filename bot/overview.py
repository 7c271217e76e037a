"""Where a cooperative stands: each order's pace, who works, who has gone silent.

Shared by the coordinators' SMS commands and the scheduled notices.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlmodel import Session

from bot import clock, store
from bot.models import Cooperative, Member, Order
from bot.progress import TRAILING_DAYS, Pace, pace, parse_working_days, working_days

SILENT_WORKING_DAYS = 2


def order_standing(*, session: Session, cooperative: Cooperative, order: Order, today: date) -> Pace:
    """Progress, pace needed and recent, projected finish and risk of one order today."""
    return pace(
        done=order.done,
        quantity=order.quantity,
        due=order.due_date,
        today=today,
        daily=store.daily_pieces(
            session=session, order_id=order.id, first=today - timedelta(TRAILING_DAYS - 1), last=today
        ),
        days=parse_working_days(cooperative.working_days),
        started=clock.today(cooperative, order.created_at),
    )


def working_members(*, session: Session, cooperative: Cooperative, orders: Sequence[Order]) -> list[Member]:
    """Active members with work assigned on any of `orders`, by name."""
    ids: set[int] = set()
    for order in orders:
        ids |= store.assigned_member_ids(session=session, order=order)
    everyone = store.members(session=session, cooperative_id=cooperative.id)
    return [m for m in everyone if m.id in ids]


def silent_members(
    *, session: Session, cooperative: Cooperative, orders: Sequence[Order], today: date
) -> list[Member]:
    """Members with work who have not reported for 2+ working days before today."""
    days = parse_working_days(cooperative.working_days)
    last = store.last_report_days(session=session, cooperative_id=cooperative.id)
    silent = []
    for member in working_members(session=session, cooperative=cooperative, orders=orders):
        since = last.get(member.id) or clock.today(cooperative, member.created_at)
        # Days strictly after the last report, up to yesterday: today is not over yet.
        if working_days(since + timedelta(1), today - timedelta(1), days) >= SILENT_WORKING_DAYS:
            silent.append(member)
    return silent
