"""Help, and the answer to a message the bot could not read."""

from __future__ import annotations

from bot import statements
from bot.models import ReportStatus
from bot.parsing import Intent
from handlers import conversation
from handlers.context import Context, Reply, codes, first_name, puzzled, reply


def help(context: Context, intent: Intent) -> Reply:
    """A short help text with examples."""
    return reply("help", codes=codes(context.orders)[:3])


def not_understood(context: Context, intent: Intent) -> Reply:
    """Say what was wrong and show an example; the message waits for the coordinator."""
    member = context.member
    if intent.problem == "not_a_report" and intent.reason == "sent" and member is not None:
        latest = statements.latest_report(context.connection, member_id=member.id,
                                          status=ReportStatus.ACCEPTED)
        if latest is not None and latest.local_date == context.today:  # "ya le mande 20, le llego?"
            return Reply("already_recorded", {"name": first_name(member), "pieces": latest.pieces,
                                              "code": context.order_of(latest).code,
                                              "month": context.month_total(member)}, note=intent.note)
    if intent.note:
        held = context.held_reports(member) if member is not None else []
        waiting = [{"pieces": r.pieces, "code": context.order_of(r).code} for r in held]
        return Reply("passed_on", {"name": first_name(member) if member is not None else "",
                                   "coordinator": context.coordinator, "held": waiting},
                     understood=False, note=True)
    if intent.problem == "no_number" and len(intent.orders) == 1 and member is not None:
        order = next((o for o in context.orders if o.code == intent.orders[0]), None)
        if order is not None:  # "termine blusas": how many?
            return conversation.ask_how_many(context, order, intent.day)
    if intent.problem == "no_number" and intent.reason == "done" and member is not None and not intent.orders:
        mine = context.assigned()
        if len(mine) == 1:  # "ya termine": how many?
            return conversation.ask_how_many(context, mine[0], intent.day)
        return Reply("how_many_of", {"item": None, "code": None}, understood=False, intent="asked")
    if intent.problem == "nothing_done" and member is not None:
        return reply("nothing_done", name=first_name(member))
    return puzzled("not_understood", problem=intent.problem, code=intent.text, codes=codes(context.orders))
