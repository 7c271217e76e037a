"""Reports of finished pieces: '20', 'hice 20 blusas', 'A 10 M 5', 'ayer 10 hoy 5'."""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

from bot import statements
from bot.models import ReportStatus
from bot.parsing import Day, Intent, Item, default_parser
from bot.statements import OrderLine
from handlers import conversation
from handlers.context import Context, Reply, first_name, progress, puzzled, reply

# The same count on the same order and day this soon after is her phone sending it again
# (a basic phone retries on a bad signal, with a new MessageSid): asked, never added.
RESEND = timedelta(minutes=10)


def choose_order(code: str | None, active: Sequence[OrderLine], assigned: Sequence[OrderLine]):
    """The order a coordinator's count belongs to, or the codes to ask her to choose from.

    The code given (any active order of the cooperative); else the member's only active
    order; else a question listing the codes, and nothing is recorded.
    """
    if code is not None:
        for order in active:
            if order.code == code:
                return order
    if code is None and len(assigned) == 1:
        return assigned[0]
    return [order.code for order in (assigned or active)]


def report(context: Context, intent: Intent) -> Reply:
    """Record the pieces she finished, or ask which order they are for."""
    chosen = choose(context, intent.items, not_orders=intent.not_orders)
    if isinstance(chosen, Reply):
        return chosen
    return record_items(context, chosen, again=intent.again, answer=intent.answer, check=intent.unsure)


def choose(context: Context, items: Sequence[Item], *, not_orders: Sequence[str] = ()
           ) -> list[tuple[Item, OrderLine]] | Reply:
    """Each item with its order, or the question to ask (her count kept for the answer); orders
    she says she did not work on ("ninguna es de manteles") are not among the choices."""
    active = [o for o in context.orders if o.code not in not_orders]
    assigned = [o for o in context.assigned() if o.code not in not_orders]
    if not active:
        return puzzled("no_orders")
    chosen, open_ = [], []
    for item in items:
        order, choices, suggested = order_for(item, active, assigned)
        if order is not None:
            chosen.append((item, order))
        else:
            open_.append((item, choices, suggested))
    if not open_:
        return chosen
    if len(open_) > 1 and len({tuple(o.code for o in c) for _, c, _ in open_}) > 1:
        return puzzled("several_orders", orders=_listed(assigned or active))
    item, choices, suggested = open_[0]
    if len(item.parts) > 1 and suggested is None and len(open_) == 1 and not chosen:
        return puzzled("several_orders", orders=_listed(choices))  # "hice 10 y 10": on which orders?
    # Kept for her answer: the orders already clear stay, the one asked about is hers to say.
    asked = {id(i) for i, _, _ in open_}
    kept = [replace(i, code=None, choices=()) if id(i) in asked else i for i in items]
    return conversation.ask_which_order(context, kept, choices, suggested)


def order_for(item: Item, active: Sequence[OrderLine], assigned: Sequence[OrderLine]):
    """(the order, None, None), or (None, orders to choose from, the one she named if not hers)."""
    mine = list(assigned)
    if item.code is not None:
        order = next((o for o in active if o.code == item.code), None)
        if order is not None and (order.mine or not mine):
            return order, None, None
        if order is not None:  # she named an order she does not work on: ask, naming hers
            return None, [order, *mine], order
    candidates = [o for o in active if o.code in item.choices] if item.choices else []
    if candidates:
        ours = [o for o in candidates if o.mine]
        if len(ours) == 1:
            return ours[0], None, None
        return None, ours or candidates, None
    if item.named == "other" or item.code is not None:  # a garment no order is for
        return None, mine or list(active), None
    if len(mine) == 1:
        return mine[0], None, None
    if not mine and len(active) == 1:
        return active[0], None, None
    return None, mine or list(active), None


def _listed(orders: Sequence[OrderLine]) -> list[dict]:
    return [{"code": o.code, "item": o.short} for o in orders]


def day_of(context: Context, item: Item) -> date:
    """The day an item is for: today, "ayer", or the last "martes"."""
    day, today = item.day, context.today
    if day is None or day == Day():
        return today
    if day.of_month is not None:  # "el 25": this month's, or last month's when it is still to come
        first = today.replace(day=1)
        month = first if day.of_month <= today.day else (first - timedelta(days=1)).replace(day=1)
        if day.month is not None and day.month != month.month:  # "el 25 de noviembre" in January
            month = date(month.year - (day.month > month.month), day.month, 1)
        return month.replace(day=min(day.of_month, calendar.monthrange(month.year, month.month)[1]))
    ago = day.ago if day.ago is not None else (today.weekday() - day.weekday) % 7
    return today - timedelta(days=ago)


def record_items(context: Context, chosen: Sequence[tuple[Item, OrderLine]], *, resend_check: bool = True,
                 again: bool = False, answer: str = "", check: bool = False) -> Reply:
    """Record her items and answer; held, with a question, when large, when they look like a
    resend, or when `check` (a reading she was not sure of: "unos 20")."""
    member = context.member
    lines = [(item.pieces, order, day_of(context, item)) for item, order in chosen]
    held = context.held_reports(member)
    if held and _same(held, lines):
        if answer == "yes" or context.now - held[-1].at > RESEND:
            return accept_held(context, member, held)  # "si 350", or "350" again later
        return _asked_again(context, held)  # her phone sent it again: the question stands
    if resend_check and not again:
        earlier = _resent(context, lines)
        if earlier is not None:
            for doubtful in held:
                statements.cancel(context.connection, doubtful, context.order_of(doubtful))
            return _hold_resend(context, lines, earlier)
    for doubtful in held:  # she moved on without answering: the doubtful count is dropped
        statements.cancel(context.connection, doubtful, context.order_of(doubtful))
    limit = context.cooperative.plausible_max
    large = any(pieces > limit for pieces, _, _ in lines)
    status = ReportStatus.HELD if large or check else ReportStatus.ACCEPTED
    for pieces, order, day in sorted(lines, key=lambda line: line[1].id):
        # Each report locks its order's row: in id order, two members' "A 10 M 5" and
        # "M 5 A 10" at once never wait for each other (PostgreSQL would abort one).
        context.record(member, order, pieces, status=status, day=day)
    if status == ReportStatus.HELD:
        template = "held" if large else "check"
        return Reply(template, {"name": first_name(member), "items": _held_items(context, lines)},
                     intent="asked")
    return recorded(context, member, lines)


def _same(held, lines) -> bool:
    mine = sorted((order.id, pieces) for pieces, order, _ in lines)
    return sorted((r.order_id, r.pieces) for r in held) == mine


def _resent(context: Context, lines) -> object | None:
    """Her earlier report these lines repeat within minutes (from another message), if all do."""
    recent = statements.recent_reports(context.connection, member_id=context.member.id,
                                       since=context.now - RESEND)
    inbound_id = context.inbound.id if context.inbound is not None else None
    parts = default_parser().day_parts(context.text)
    found = []
    for pieces, order, day in lines:
        match = next((r for r in recent
                      if (r.order_id, r.pieces, r.local_date) == (order.id, pieces, day)
                      and r.inbound_id != inbound_id and r.status == ReportStatus.ACCEPTED
                      and default_parser().day_parts(r.body or "") == parts), None)
        if match is None:
            return None
        found.append(match)
    return min(found, key=lambda r: r.at)


def _hold_resend(context: Context, lines, earlier) -> Reply:
    for pieces, order, day in sorted(lines, key=lambda line: line[1].id):
        context.record(context.member, order, pieces, status=ReportStatus.HELD, day=day)
    minutes = max(1, math.ceil((context.now - earlier.at).total_seconds() / 60))
    return Reply("resent", {"name": first_name(context.member), "pieces": sum(p for p, _, _ in lines),
                            "minutes": minutes}, understood=True, intent="resent")


def _asked_again(context: Context, held) -> Reply:
    """The question about her held count, asked again."""
    if all(r.pieces <= context.cooperative.plausible_max for r in held):
        minutes = max(1, math.ceil((context.now - held[0].at).total_seconds() / 60))
        return Reply("resent", {"name": first_name(context.member), "pieces": sum(r.pieces for r in held),
                                "minutes": minutes}, intent="resent")
    lines = [(r.pieces, context.order_of(r), r.local_date) for r in held]
    return reply("held", name=first_name(context.member), items=_held_items(context, lines))


def _held_items(context: Context, lines) -> list[dict]:
    return [{"code": order.code, "pieces": pieces, **when(context, day)} for pieces, order, day in lines]


def when(context: Context, day: date) -> dict:
    """A report's day as templates name it: how many days ago, and the date."""
    return {"day": day, "ago": (context.today - day).days}


def accept_held(context: Context, member, held) -> Reply:
    """Accept the reports she confirmed and answer as for any recorded report."""
    lines = []
    for report in held:
        order = context.order_of(report)
        statements.accept(context.connection, report, order)
        lines.append((report.pieces, order, report.local_date))
    return recorded(context, member, lines)


def recorded(context: Context, member, lines: Sequence[tuple]) -> Reply:
    """The answer to pieces just recorded: what, on which order and day, her month, the orders' progress."""
    items = []
    for line in lines:
        pieces, order = line[0], line[1]
        day = line[2] if len(line) > 2 else context.today
        items.append({"pieces": pieces, **progress(order), **when(context, day)})
    orders = list({item["code"]: {k: item[k] for k in ("code", "done", "qty")} for item in items}.values())
    return reply("recorded", name=first_name(member), items=items, orders=orders,
                 month=context.month_total(member))
