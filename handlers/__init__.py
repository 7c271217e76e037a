"""Who may say what: every kind of message and the plain function that answers it.

Adding a keyword is one function in a module here and one line in a table below.
"""

from __future__ import annotations

from bot.models import Role
from bot.parsing import Intent, Kind
from handlers import (
    buyer,
    confirm,
    coordinator,
    correct,
    help,
    language,
    optout,
    report,
    status,
)
from handlers.context import Context, Reply, puzzled

__all__ = ["Context", "Reply", "dispatch"]

MEMBER = {
    Kind.REPORT: report.report,
    Kind.CORRECT: correct.correct,
    Kind.UNDO: correct.undo,
    Kind.CONFIRM: confirm.confirm,
    Kind.REJECT: confirm.reject,
    Kind.STATUS: status.status,
    Kind.HELP: help.help,
    Kind.STOP: optout.stop,
    Kind.START: optout.start,
    Kind.LANGUAGE: language.language,
    Kind.UNKNOWN: help.not_understood,
}

COORDINATOR = {
    **MEMBER,
    Kind.HELP: coordinator.help,
    Kind.SUMMARY: coordinator.summary,
    Kind.MISSING: coordinator.missing,
    Kind.BROADCAST: coordinator.broadcast,
    Kind.ADD_MEMBER: coordinator.add_member,
    Kind.RECORD: coordinator.record,
}

BUYER = {
    Kind.STATUS: buyer.status,
    Kind.HELP: buyer.help,
    Kind.STOP: optout.stop,
    Kind.START: optout.start,
    Kind.LANGUAGE: language.language,
}


def dispatch(context: Context, intent: Intent) -> Reply:
    """Answer `intent` with the handler the sender's role allows."""
    member = context.member
    if member is None:
        return BUYER.get(intent.kind, buyer.not_understood)(context, intent)
    if not member.active:
        return puzzled("inactive", coop=context.cooperative.name)
    if member.role == Role.COORDINATOR:
        return COORDINATOR[intent.kind](context, intent)
    if intent.kind in COORDINATOR and intent.kind not in MEMBER:
        return Reply("coordinator_only", understood=False, intent="refused")
    return MEMBER[intent.kind](context, intent)
