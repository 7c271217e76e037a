"""Reports of finished pieces: '20', 'hice 20', 'A 20', 'A 10 B 5'."""

from __future__ import annotations

from collections.abc import Sequence

from bot import statements
from bot.models import ReportStatus
from bot.parsing import Intent, Item
from bot.statements import OrderLine
from handlers.context import Context, Reply, first_name, progress, puzzled, reply


def choose_order(code: str | None, active: Sequence[OrderLine], assigned: Sequence[OrderLine]):
    """The order a count belongs to, or the codes to ask her to choose from.

    The code she gave (any active order of her cooperative); else the only active order
    she is assigned to; else a question listing the codes, and nothing is recorded.
    """
    if code is not None:
        for order in active:
            if order.code == code:
                return order
    if code is None and len(assigned) == 1:
        return assigned[0]
    return [order.code for order in (assigned or active)]


def report(context: Context, intent: Intent) -> Reply:
    """Record the pieces she finished."""
    member = context.member
    chosen = choose(intent.items, context.orders, context.assigned())
    if isinstance(chosen, Reply):
        return chosen
    held = context.held_reports(member)
    if held and _same(held, chosen):
        # "si 350" or "350" again, in answer to "are you sure it is 350?"
        return accept_held(context, member, held)
    for doubtful in held:  # she moved on without answering: the doubtful count is dropped
        statements.cancel(context.connection, doubtful, context.order_of(doubtful))
    limit = context.cooperative.plausible_max
    status = ReportStatus.HELD if any(i.pieces > limit for i, _ in chosen) else ReportStatus.ACCEPTED
    for item, order in in_lock_order(chosen):
        context.record(member, order, item.pieces, status=status)
    if status == ReportStatus.HELD:
        items = [{"code": order.code, "pieces": item.pieces} for item, order in chosen]
        return reply("held", name=first_name(member), items=items)
    return recorded(context, member, [(item.pieces, order) for item, order in chosen])


def choose(items: Sequence[Item], active: Sequence[OrderLine], assigned: Sequence[OrderLine]):
    """Each item with its order, or the question to ask when one of them has none."""
    chosen = []
    for item in items:
        order = choose_order(item.code, active, assigned)
        if isinstance(order, list):
            if not order:
                return puzzled("no_orders")
            return puzzled("which_order", codes=order, example=items[0].pieces)
        chosen.append((item, order))
    return chosen


def in_lock_order(chosen: Sequence[tuple[Item, OrderLine]]) -> list[tuple[Item, OrderLine]]:
    """Her items by order id: each report locks its order's row, and two members' "A 10 B 5"
    and "B 5 A 10" at once must not wait for each other (PostgreSQL would abort one)."""
    return sorted(chosen, key=lambda pair: pair[1].id)


def _same(held, chosen) -> bool:
    return sorted((r.order_id, r.pieces) for r in held) == sorted(
        (order.id, item.pieces) for item, order in chosen
    )


def accept_held(context: Context, member, held) -> Reply:
    """Accept the reports she confirmed and answer as for any recorded report."""
    lines = []
    for report in held:
        order = context.order_of(report)
        statements.accept(context.connection, report, order)
        lines.append((report.pieces, order))
    return recorded(context, member, lines)


def recorded(context: Context, member, lines: Sequence[tuple[int, OrderLine]]) -> Reply:
    """The answer to pieces just recorded: what, where, her month, the orders' progress."""
    return reply(
        "recorded",
        name=first_name(member),
        items=[{"pieces": pieces, **progress(order)} for pieces, order in lines],
        month=context.month_total(member),
    )
