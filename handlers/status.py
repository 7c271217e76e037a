"""Her standing: 'total', 'estado', 'cuanto llevo'."""

from __future__ import annotations

from collections.abc import Sequence

from bot import store
from bot.models import Member, Order
from bot.parsing import Intent
from handlers.context import Context, Reply, first_name, progress, reply


def status(context: Context, intent: Intent) -> Reply:
    """Her total this month and her orders' progress."""
    member = context.member
    orders = store.assigned_orders(session=context.session, member=member)
    today = store.pieces_between(
        session=context.session, member_id=member.id, first=context.today, last=context.today
    )
    return status_reply(
        member, month=context.month_total(member), today=today, orders=orders or context.active_orders()
    )


def status_reply(member: Member, *, month: int, today: int, orders: Sequence[Order]) -> Reply:
    """`status` once her totals and her orders (assigned, else all active) are known."""
    return reply(
        "status", name=first_name(member), month=month, today=today,
        orders=[progress(o) for o in orders][:3],
    )
