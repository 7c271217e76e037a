"""Reports of finished pieces: '20', 'hice 20', 'A 20', 'A 10 B 5'."""

from __future__ import annotations

from collections.abc import Sequence

from bot import store
from bot.models import Member, Order, Report, ReportStatus
from bot.parsing import Intent, Item
from handlers.context import Context, Reply, first_name, progress, puzzled, reply


def choose_order(code: str | None, active: Sequence[Order], assigned: Sequence[Order]):
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
    chosen = _choose(context, member, intent.items)
    if isinstance(chosen, Reply):
        return chosen
    held = held_reports(context, member)
    if held and _same(held, chosen):
        # "si 350" or "350" again, in answer to "are you sure it is 350?"
        return accept_held(context, member, held)
    for report in held:  # she moved on without answering: the doubtful count is dropped
        store.cancel(session=context.session, report=report, order=context.order_of(report))
    limit = context.cooperative.plausible_max
    status = ReportStatus.HELD if any(i.pieces > limit for i, _ in chosen) else ReportStatus.ACCEPTED
    for item, order in in_lock_order(chosen):
        store.record_report(
            session=context.session,
            member=member,
            order=order,
            pieces=item.pieces,
            at=context.now,
            local_date=context.today,
            status=status,
            inbound_id=context.inbound.id if context.inbound else None,
            source=context.source,
        )
    if status == ReportStatus.HELD:
        items = [{"code": order.code, "pieces": item.pieces} for item, order in chosen]
        return reply("held", name=first_name(member), items=items)
    return recorded(context, member, [(item.pieces, order) for item, order in chosen])


def _choose(context: Context, member: Member, items: Sequence[Item]):
    assigned = store.assigned_orders(session=context.session, member=member)
    return choose(items, context.active_orders(), assigned)


def choose(items: Sequence[Item], active: Sequence[Order], assigned: Sequence[Order]):
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


def in_lock_order(chosen: Sequence[tuple[Item, Order]]) -> list[tuple[Item, Order]]:
    """Her items by order id: each report locks its order's row, and two members' "A 10 B 5"
    and "B 5 A 10" at once must not wait for each other (PostgreSQL would abort one)."""
    return sorted(chosen, key=lambda pair: pair[1].id)


def _same(held: Sequence[Report], chosen) -> bool:
    return sorted((r.order_id, r.pieces) for r in held) == sorted(
        (order.id, item.pieces) for item, order in chosen
    )


def accept_held(context: Context, member: Member, held: Sequence[Report]) -> Reply:
    """Accept the reports she confirmed and answer as for any recorded report."""
    lines = []
    for report in held:
        order = context.order_of(report)
        store.accept(session=context.session, report=report, order=order)
        lines.append((report.pieces, order))
    return recorded(context, member, lines)


def recorded(context: Context, member: Member, lines: Sequence[tuple[int, Order]]) -> Reply:
    """The answer to pieces just recorded: what, where, her month, the orders' progress."""
    return recorded_reply(member, lines, month=context.month_total(member))


def recorded_reply(member: Member, lines: Sequence[tuple[int, Order]], *, month: int) -> Reply:
    """`recorded` once her month's total is known."""
    return reply(
        "recorded",
        name=first_name(member),
        items=[{"pieces": pieces, **progress(order)} for pieces, order in lines],
        month=month,
    )


def held_reports(context: Context, member: Member) -> list[Report]:
    """Her reports waiting for a "si", all from her latest held message."""
    latest = store.latest_report(
        session=context.session, member=member, status=ReportStatus.HELD
    )
    if latest is None or (context.now - latest.at).total_seconds() > HOLD_SECONDS:
        return []
    return store.held_with(session=context.session, report=latest)


HOLD_SECONDS = 24 * 3600  # a "si" the next morning still counts; one a week later does not
