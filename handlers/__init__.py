"""Who may say what: every command, in one table.

Each entry names a command, the plain function that answers it, who may use it, and (for
the few that take more than a word) how the rest of the message is read. The words people
write for a command are in templates/words/<language>.toml under its name; what the bot
answers is a template per language in templates/sms/. Adding a command is one entry here,
its words in each language's file and its template in each language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from bot import parsing
from bot.models import Role
from bot.parsing import Intent, Kind, Syntax
from handlers import (
    buyer,
    confirm,
    conversation,
    coordinator,
    correct,
    help,
    language,
    media,
    optout,
    report,
    status,
)
from handlers.context import Context, Reply, puzzled

__all__ = ["COMMANDS", "Command", "Context", "Reply", "dispatch", "grammar"]

BUYER = "buyer"  # a buyer's contact: not a member of the cooperative
EMBROIDERER, COORDINATOR = Role.EMBROIDERER.value, Role.COORDINATOR.value
Handler = Callable[[Context, Intent], Reply]


@dataclass(frozen=True, eq=False)  # compared and hashed as itself: the table is cached by it
class Command:
    """One command: its name, the function that answers it for each role that may use it,
    how the rest of its message is read, and two rules of reading."""

    name: str
    answers: dict[str, Handler]  # by role: embroiderer, coordinator, buyer
    reads: parsing.Reader | None = None
    alone: bool = False  # a si/no: only when it is the whole message
    refuses_count: bool = False  # "total 200" is not a report


def members(handler: Handler) -> dict[str, Handler]:
    """Embroiderers and coordinators alike."""
    return {EMBROIDERER: handler, COORDINATOR: handler}


def everyone(handler: Handler, *, buyers: Handler | None = None) -> dict[str, Handler]:
    """Members, and buyers' contacts (with their own answer, when given)."""
    return {**members(handler), BUYER: buyers or handler}


def coordinators(handler: Handler) -> dict[str, Handler]:
    return {COORDINATOR: handler}


COMMANDS: tuple[Command, ...] = (
    Command(Kind.REPORT, members(report.report)),  # a count: no words of its own
    Command(Kind.CORRECT, members(correct.correct), reads=parsing.read_correction),
    Command(Kind.UNDO, members(correct.undo)),
    Command(Kind.CONFIRM, members(confirm.confirm), alone=True),
    Command(Kind.REJECT, members(confirm.reject), alone=True),
    Command(Kind.STATUS, everyone(status.status, buyers=buyer.status), refuses_count=True),
    Command(Kind.HELP, {**everyone(help.help, buyers=buyer.help), COORDINATOR: coordinator.help}),
    Command(Kind.STOP, everyone(optout.stop)),
    Command(Kind.START, everyone(optout.start)),
    Command(Kind.LANGUAGE, everyone(language.language), reads=parsing.read_language),
    Command(Kind.SUMMARY, coordinators(coordinator.summary)),
    Command(Kind.MISSING, coordinators(coordinator.missing), refuses_count=True),
    Command(Kind.BROADCAST, coordinators(coordinator.broadcast), reads=parsing.read_text),
    Command(Kind.ADD_MEMBER, coordinators(coordinator.add_member), reads=parsing.read_member),
    Command(Kind.RECORD, coordinators(coordinator.record), reads=parsing.read_record),
)


@cache
def table(commands: tuple[Command, ...]) -> dict[str, Command]:
    """The commands by name."""
    return {command.name: command for command in commands}


def grammar(commands: tuple[Command, ...] | None = None) -> list[Syntax]:
    """What the parser needs to know of the commands (the table's, by default)."""
    return [Syntax(c.name, c.reads, c.alone, c.refuses_count) for c in commands or COMMANDS]


def dispatch(context: Context, intent: Intent) -> Reply:
    """Answer `intent` with the handler the sender's role allows: her answer to the bot's
    question first, a voice note or photo without words as such, else the command's handler."""
    command = table(COMMANDS).get(intent.kind)
    member = context.member
    if member is None:  # a buyer's contact
        answer = command.answers.get(BUYER) if command else None
        return (answer or buyer.not_understood)(context, intent)
    if not member.active:
        return puzzled("inactive", coop=context.cooperative.name)
    if (context.media or context.location) and intent.kind == Kind.UNKNOWN and intent.problem == "empty":
        return media.received(context, intent)
    if command is None or command.answers.get(member.role) is not None:
        answered = conversation.follow_up(context, intent)
        if answered is not None:
            return answered
    if command is None:
        return help.not_understood(context, intent)
    answer = command.answers.get(member.role)
    if answer is None:
        return Reply("coordinator_only", understood=False, intent="refused")
    return answer(context, intent)
