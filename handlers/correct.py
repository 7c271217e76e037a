"""Corrections and undo: 'corregir 18', 'me equivoque eran 15 no 20', 'perdon eran manteles', 'borrar'.

A correction replaces what her latest message recorded: its count ("eran 15"), its order
("perdon, eran manteles"), its day ("eso era de ayer"), or drops one of its orders ("no hice
manteles"). Said plainly ("me equivoque", "eran", "corregir") it reaches back to yesterday;
said softly ("perdon 15", "no, 18") only to her messages of the last hours, and with nothing
to correct it is just a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from bot import statements
from bot.models import ReportStatus
from bot.parsing import Intent, Item, Kind
from bot.statements import OrderLine
from handlers import report as reports
from handlers.context import Context, Reply, first_name, progress, puzzled, reply

# Corrections and undo reach back to yesterday's reports, no further: a resent "borrar"
# must not walk back through her whole month.
REACH_DAYS = 1
SOFT_REACH = timedelta(hours=3)  # "perdon 15" corrects a message of the last hours


def correct(context: Context, intent: Intent) -> Reply:
    """Replace what her latest report said with what this message says."""
    target = _target(context, intent)
    if not target:
        if intent.items and intent.correction == "maybe":
            # "perdon 15", "no 20, 15" with nothing to correct: she is telling her count
            return reports.report(context, replace(intent, kind=Kind.REPORT))
        if intent.items and intent.correction == "said":
            # "eran 15" with nothing before: recorded once she confirms the reading
            return reports.report(context, replace(intent, kind=Kind.REPORT, unsure=True))
        return puzzled("nothing_to_correct")
    if intent.items and intent.reason == "total" and \
            sum(i.pieces for i in intent.items) > 2 * sum(r.pieces for r in target):
        # "corregir total 200" after "20": her month, not what that message should have said
        return puzzled("not_understood", problem="not_a_report", code="",
                       codes=[o.code for o in context.orders])
    if intent.items:
        return _new_counts(context, intent, target)
    if intent.orders:
        return _new_order(context, intent, target)
    if intent.not_orders:
        dropped = [r for r in target if context.order_of(r).code in intent.not_orders]
        return _drop(context, dropped) if dropped else _which(context, target)
    if intent.day is not None:
        day = reports.day_of(context, Item(1, day=intent.day))
        return _replace(context, target, [(r.pieces, context.order_of(r), day) for r in target])
    if len(intent.old) == 1 and len(target) == 1 and target[0].pieces not in intent.old:
        # "no 2" after "20": not "it was not 2" but "no, 2"
        only = target[0]
        return _replace(context, target, [(intent.old[0], context.order_of(only), only.local_date)])
    if len(intent.old) == 1 and len(target) == 1 and target[0].status == ReportStatus.ACCEPTED:
        # "no eran 20": not paid as 20 any more; held until she says how many (or "si")
        statements.hold(context.connection, target[0], context.order_of(target[0]))
    return puzzled("how_many", pieces=target[0].pieces if len(target) == 1 else None)


def _target(context: Context, intent: Intent) -> list:
    """Her latest message's reports within reach (or her latest single report, or the held one)."""
    member = context.member
    soft = intent.correction == "maybe"
    since = context.now - (SOFT_REACH if soft else timedelta(days=REACH_DAYS + 1))
    found = statements.last_message_reports(context.connection, member_id=member.id, since=since)
    found = [r for r in found if r.local_date >= context.today - timedelta(REACH_DAYS)]
    if found:
        return found
    if soft:
        return []
    waiting = context.held_reports(member)
    if waiting:
        return waiting
    latest = statements.latest_report(context.connection, member_id=member.id, status=ReportStatus.ACCEPTED)
    if latest is None or latest.local_date < context.today - timedelta(REACH_DAYS):
        return []
    return [latest]


def _new_counts(context: Context, intent: Intent, target: Sequence) -> Reply:
    """'eran 15', 'corrijo: 12 chalinas', 'los manteles eran 6', '12 ayer y 5 hoy'."""
    items, by_code = intent.items, {o.code: o for o in context.orders}
    if len(items) == 1 and len(target) > 1:
        item = items[0]
        if item.code is not None:
            chosen = [r for r in target if context.order_of(r).code == item.code]
        else:
            chosen = [r for r in target if r.pieces in intent.old]
        if len(chosen) != 1:
            return _which(context, target)
        target = chosen
    lines = []
    for item in items:
        if len(target) == 1 or item.code is None:
            base = target[0]
        else:
            base = next((r for r in target if context.order_of(r).code == item.code), None)
            if base is None:
                return _which(context, target)
        order = by_code.get(item.code) if item.code else context.order_of(base)
        if order is None:
            return puzzled("nothing_to_correct")
        day = reports.day_of(context, item) if item.day is not None else base.local_date
        lines.append((item.pieces, order, day))
    replaced = target
    if len(items) > 1 and len(target) > 1:
        codes = {line[1].code for line in lines}
        replaced = [r for r in target if context.order_of(r).code in codes]
    return _replace(context, replaced, lines)


def _new_order(context: Context, intent: Intent, target: Sequence) -> Reply:
    """'perdon eran manteles', 'no eran manteles eran blusas': the same count on another order."""
    order = next((o for o in context.orders if o.code == intent.orders[0]), None)
    if intent.not_orders:
        target = [r for r in target if context.order_of(r).code in intent.not_orders]
    if order is None or len(target) != 1 or len(intent.orders) != 1:
        return _which(context, target)
    only = target[0]
    return _replace(context, [only], [(only.pieces, order, only.local_date)])


def _replace(context: Context, old: Sequence, lines: Sequence[tuple[int, OrderLine, object]]) -> Reply:
    """Cancel the old reports and record the new lines in their place (held when too large)."""
    member = context.member
    limit = context.cooperative.plausible_max
    over = any(pieces > limit for pieces, _, _ in lines)
    waiting = context.held_reports(member)
    for doubtful in waiting:  # she is answering the question with a number
        if doubtful.id not in {r.id for r in old}:
            statements.cancel(context.connection, doubtful, context.order_of(doubtful))
    first = old[0]
    was_accepted = first.status == ReportStatus.ACCEPTED
    for report in old:
        if report.status == ReportStatus.HELD or not over:
            statements.cancel(context.connection, report, context.order_of(report))
    status = ReportStatus.HELD if over else ReportStatus.ACCEPTED
    for n, (pieces, order, day) in enumerate(lines):
        context.record(member, order, pieces, status=status, day=day,
                       replaces_id=first.id if n == 0 and was_accepted else None)
    if over:
        return reply("held", name=first_name(member),
                     items=[{"code": order.code, "pieces": pieces, **reports.when(context, day)}
                            for pieces, order, day in lines])
    if len(old) == 1 and len(lines) == 1:
        pieces, order, day = lines[0]
        before = context.order_of(first)
        return reply("corrected", name=first_name(member), old=first.pieces, new=pieces,
                     old_code=before.code, old_ago=(context.today - first.local_date).days,
                     **reports.when(context, day), month=context.month_total(member), **progress(order))
    return reports.recorded(context, member, lines)


def _drop(context: Context, dropped: Sequence) -> Reply:
    """'me equivoque, no hice manteles': cancel that order's report."""
    for report in dropped:
        statements.cancel(context.connection, report, context.order_of(report))
    last = dropped[-1]
    return reply("undone", name=first_name(context.member), pieces=sum(r.pieces for r in dropped),
                 month=context.month_total(context.member), **progress(context.order_of(last)))


def _which(context: Context, target: Sequence) -> Reply:
    """Ask which of her reports she means, listing them."""
    return puzzled("which_to_correct", reports=[{"pieces": r.pieces, "code": context.order_of(r).code}
                                                for r in target])


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
