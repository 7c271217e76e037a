"""Reminders and notices off and on: 'baja' / 'alta'."""

from __future__ import annotations

from bot import statements
from bot.parsing import Intent
from handlers.context import Context, Reply, reply


def stop(context: Context, intent: Intent) -> Reply:
    """Stop reminders and notices (replies to her own messages still come)."""
    _opt(context, out=True)
    return reply("stopped" if context.member is not None else "stopped_contact")


def start(context: Context, intent: Intent) -> Reply:
    """Resume reminders and notices."""
    _opt(context, out=False)
    return reply("started")


def _opt(context: Context, *, out: bool) -> None:
    if context.member is not None:
        statements.set_member(context.connection, context.member.id, opted_out=out)
    else:
        statements.set_contacts(context.connection, [c.id for c in context.contacts], opted_out=out)
