"""Her reply language: 'idioma en', 'english', 'espanol'."""

from __future__ import annotations

from bot import statements
from bot.parsing import Intent
from handlers.context import Context, Reply


def language(context: Context, intent: Intent) -> Reply:
    """Answer in the language she named from now on."""
    if context.member is not None:
        statements.set_member(context.connection, context.member.id, language=intent.language)
    else:
        contact_ids = [contact.id for contact in context.contacts]
        statements.set_contacts(context.connection, contact_ids, language=intent.language)
    return Reply("language", language=intent.language)
