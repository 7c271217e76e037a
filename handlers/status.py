"""Her standing: 'total', 'estado', 'cuanto llevo'."""

from __future__ import annotations

from bot import store
from bot.parsing import Intent
from handlers.context import Context, Reply, first_name, progress, reply


def status(context: Context, intent: Intent) -> Reply:
    """Her total this month and her orders' progress."""
    member = context.member
    orders = store.assigned_orders(session=context.session, member=member)
    today = store.pieces_between(
        session=context.session, member_id=member.id, first=context.today, last=context.today
    )
    return reply(
        "status",
        name=first_name(member),
        month=context.month_total(member),
        today=today,
        orders=[progress(o) for o in orders or context.active_orders()][:3],
    )
