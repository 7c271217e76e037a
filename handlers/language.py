"""Her reply language: 'idioma en', 'english', 'espanol'."""

from __future__ import annotations

from bot.parsing import Intent
from handlers.context import Context, Reply, reply


def language(context: Context, intent: Intent) -> Reply:
    """Answer in Spanish or English from now on."""
    people = [context.member] if context.member is not None else list(context.contacts)
    for person in people:
        person.language = intent.language
    return reply("language")
