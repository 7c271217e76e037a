"""Her answer to "are you sure?": 'si' / 'no'."""

from __future__ import annotations

from bot import statements
from bot.parsing import Intent
from handlers.context import Context, Reply, first_name, puzzled, reply
from handlers.report import accept_held


def confirm(context: Context, intent: Intent) -> Reply:
    """Accept the large report she was asked about."""
    held = context.held_reports(context.member)
    if not held:
        return puzzled("nothing_to_confirm")
    return accept_held(context, context.member, held)


def reject(context: Context, intent: Intent) -> Reply:
    """Drop the large report she was asked about."""
    held = context.held_reports(context.member)
    if not held:
        return puzzled("nothing_to_confirm")
    for report in held:
        statements.cancel(context.connection, report, context.order_of(report))
    return reply("rejected", name=first_name(context.member), pieces=sum(r.pieces for r in held))
