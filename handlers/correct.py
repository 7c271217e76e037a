"""Corrections and undo: 'corregir 18', 'borrar'."""

from __future__ import annotations

from bot import store
from bot.models import Order, ReportStatus
from bot.parsing import Intent
from handlers.context import Context, Reply, first_name, progress, puzzled, reply


def correct(context: Context, intent: Intent) -> Reply:
    """Replace her latest report with a new count."""
    member, item = context.member, intent.items[0]
    order_id = None
    if item.code is not None:
        order_id = next(o.id for o in context.active_orders() if o.code == item.code)
    latest = store.latest_report(
        session=context.session, member=member, status=ReportStatus.ACCEPTED, order_id=order_id
    )
    if latest is None:
        return puzzled("nothing_to_correct")
    order = context.session.get(Order, latest.order_id)
    over_limit = item.pieces > context.cooperative.plausible_max
    if over_limit:
        status = ReportStatus.HELD
    else:
        status = ReportStatus.ACCEPTED
        store.cancel(session=context.session, report=latest, order=order)
    store.record_report(
        session=context.session,
        member=member,
        order=order,
        pieces=item.pieces,
        at=latest.at,  # the correction stands in for the batch she reported then
        local_date=latest.local_date,
        status=status,
        inbound_id=context.inbound.id if context.inbound else None,
        source=context.source,
        replaces_id=latest.id,
    )
    if over_limit:
        return reply("held", name=first_name(member), items=[{"code": order.code, "pieces": item.pieces}])
    return reply(
        "corrected",
        name=first_name(member),
        old=latest.pieces,
        new=item.pieces,
        month=context.month_total(member),
        **progress(order),
    )


def undo(context: Context, intent: Intent) -> Reply:
    """Cancel her latest report (or the one waiting for her "si")."""
    member = context.member
    candidates = [
        store.latest_report(session=context.session, member=member, status=status)
        for status in (ReportStatus.ACCEPTED, ReportStatus.HELD)
    ]
    candidates = [r for r in candidates if r is not None]
    if not candidates:
        return puzzled("nothing_to_undo")
    latest = max(candidates, key=lambda r: (r.at, r.id))
    order = context.session.get(Order, latest.order_id)
    store.cancel(session=context.session, report=latest, order=order)
    return reply(
        "undone",
        name=first_name(member),
        pieces=latest.pieces,
        month=context.month_total(member),
        **progress(order),
    )
