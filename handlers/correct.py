"""Corrections and undo: 'corregir 18', 'borrar'."""

from __future__ import annotations

from datetime import timedelta

from bot import statements
from bot.models import ReportStatus
from bot.parsing import Intent
from handlers.context import Context, Reply, first_name, progress, puzzled, reply

# Corrections and undo reach back to yesterday's reports, no further: a resent "borrar"
# must not walk back through her whole month.
REACH_DAYS = 1


def correct(context: Context, intent: Intent) -> Reply:
    """Replace her latest report (or the large count waiting for her "si") with a new count."""
    member, item = context.member, intent.items[0]
    order_id = next((o.id for o in context.orders if o.code == item.code), None) if item.code else None
    waiting = context.held_reports(member)
    held = [r for r in waiting if order_id in (None, r.order_id)]
    latest = held[-1] if held else _latest(context, ReportStatus.ACCEPTED, order_id)
    if latest is None:
        return puzzled("nothing_to_correct")
    order = context.order_of(latest)
    was_accepted = latest.status == ReportStatus.ACCEPTED
    for doubtful in waiting:  # she is answering the question with a number
        statements.cancel(context.connection, doubtful, context.order_of(doubtful))
    over_limit = item.pieces > context.cooperative.plausible_max
    if was_accepted and not over_limit:
        statements.cancel(context.connection, latest, order)
    context.record(
        member, order, item.pieces,
        status=ReportStatus.HELD if over_limit else ReportStatus.ACCEPTED,
        day=latest.local_date,  # the correction stands in for that day's batch
        replaces_id=latest.id if was_accepted else None,
    )
    if over_limit:
        return reply("held", name=first_name(member), items=[{"code": order.code, "pieces": item.pieces}])
    return reply("corrected", name=first_name(member), old=latest.pieces, new=item.pieces,
                 month=context.month_total(member), **progress(order))


def undo(context: Context, intent: Intent) -> Reply:
    """Cancel her latest report (or the one waiting for her "si")."""
    candidates = [_latest(context, status) for status in (ReportStatus.ACCEPTED, ReportStatus.HELD)]
    candidates = [r for r in candidates if r is not None]
    if not candidates:
        return puzzled("nothing_to_undo")
    latest = max(candidates, key=lambda r: (r.at, r.id))
    order = context.order_of(latest)
    statements.cancel(context.connection, latest, order)
    return reply("undone", name=first_name(context.member), pieces=latest.pieces,
                 month=context.month_total(context.member), **progress(order))


def _latest(context: Context, status: str, order_id: int | None = None):
    latest = statements.latest_report(context.connection, member_id=context.member.id, status=status,
                                      order_id=order_id)
    if latest is None or latest.local_date < context.today - timedelta(REACH_DAYS):
        return None
    return latest
