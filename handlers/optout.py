"""Reminders and notices off and on: 'baja' / 'alta'."""

from __future__ import annotations

from bot.parsing import Intent
from handlers.context import Context, Reply, reply


def stop(context: Context, intent: Intent) -> Reply:
    """Stop reminders and notices (replies to her own messages still come)."""
    for person in _senders(context):
        person.opted_out = True
    return reply("stopped" if context.member is not None else "stopped_contact")


def start(context: Context, intent: Intent) -> Reply:
    """Resume reminders and notices."""
    for person in _senders(context):
        person.opted_out = False
    return reply("started")


def _senders(context: Context) -> list:
    return [context.member] if context.member is not None else list(context.contacts)
