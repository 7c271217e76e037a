"""Help, and the answer to a message the bot could not read."""

from __future__ import annotations

from collections.abc import Sequence

from bot.parsing import Intent
from handlers.context import Context, Reply, puzzled, reply


def help(context: Context, intent: Intent) -> Reply:
    """A short help text with examples."""
    return help_reply([o.code for o in context.active_orders()])


def not_understood(context: Context, intent: Intent) -> Reply:
    """Say what was wrong and show an example; the message waits for the coordinator."""
    return not_understood_reply(intent, [o.code for o in context.active_orders()])


def help_reply(codes: Sequence[str]) -> Reply:
    """`help` for the cooperative's active order codes."""
    return reply("help", codes=list(codes)[:3])


def not_understood_reply(intent: Intent, codes: Sequence[str]) -> Reply:
    """`not_understood` for the cooperative's active order codes."""
    return puzzled("not_understood", problem=intent.problem, code=intent.text, codes=list(codes))
