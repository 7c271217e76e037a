"""Help, and the answer to a message the bot could not read."""

from __future__ import annotations

from bot.parsing import Intent
from handlers.context import Context, Reply, codes, puzzled, reply


def help(context: Context, intent: Intent) -> Reply:
    """A short help text with examples."""
    return reply("help", codes=codes(context.orders)[:3])


def not_understood(context: Context, intent: Intent) -> Reply:
    """Say what was wrong and show an example; the message waits for the coordinator."""
    return puzzled("not_understood", problem=intent.problem, code=intent.text, codes=codes(context.orders))
