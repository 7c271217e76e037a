"""Her standing: 'total', 'estado', 'cuanto llevo'."""

from __future__ import annotations

from bot.parsing import Intent
from handlers.context import Context, Reply, first_name, progress, reply


def status(context: Context, intent: Intent) -> Reply:
    """Her total this month and her orders' progress."""
    member = context.member
    totals = context.totals(member)
    orders = context.assigned() or context.orders
    return reply("status", name=first_name(member), month=totals.month, today=totals.today,
                 orders=[progress(o) for o in orders][:3])
