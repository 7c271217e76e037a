"""Notices that follow from a report: milestones to coordinators, completion to buyers.

Both are queued in the transaction of the report that crosses them, under keys that make
each go out once, whatever runs twice.
"""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlmodel import Session

from bot import outbox
from bot.models import BuyerContact, Cooperative, Member, Role
from bot.render import render

MILESTONES = (25, 50, 75, 100)


def crossed(before: int, after: int, quantity: int) -> list[int]:
    """The milestone percentages passed when an order goes from `before` to `after` pieces."""
    return [p for p in MILESTONES if before * 100 < p * quantity <= after * 100]


def progress_changed(db: Session | Connection, *, order, before: int, after: int) -> None:
    """Queue the milestone and completion notices that `before` → `after` crosses."""
    if after <= before or order.quantity <= 0:
        return
    passed = crossed(before, after, order.quantity)
    if not passed:
        return
    session = outbox.connection_of(db)
    cooperative = session.execute(
        select(Cooperative.__table__).where(Cooperative.id == order.cooperative_id)).one()
    values = {"coop": cooperative.name, "code": order.code, "item": order.item,
              "done": after, "qty": order.quantity}
    for coordinator in coordinators(session=session, cooperative_id=cooperative.id):
        for percent in passed:
            outbox.queue_for_member(
                session=session, member=coordinator, kind="milestone", template="milestone",
                key=f"milestone:{order.id}:{percent}:{coordinator.id}",
                variables={"1": order.code, "2": str(percent)}, pct=percent, **values,
            )
    if 100 in passed:
        for contact in buyer_contacts(session=session, buyer_id=order.buyer_id):
            outbox.queue(
                session=session, key=f"completion:{order.id}:{contact.id}", recipient=contact.phone,
                kind="completion", cooperative_id=cooperative.id,
                body=render("completion", contact.language, **values),
            )


def coordinators(*, session: Session | Connection, cooperative_id: int) -> list:
    """The cooperative's active coordinators who take notices (rows: phone, language, channel …)."""
    table = Member.__table__
    query = select(table).where(
        table.c.cooperative_id == cooperative_id,
        table.c.role == Role.COORDINATOR,
        table.c.active,
        table.c.opted_out.is_(False),
    )
    return list(outbox.connection_of(session).execute(query.order_by(table.c.id)))


def buyer_contacts(*, session: Session | Connection, buyer_id: int) -> list:
    """A buyer's contacts who take notices (rows: phone, language …)."""
    table = BuyerContact.__table__
    query = select(table).where(table.c.buyer_id == buyer_id, table.c.opted_out.is_(False))
    return list(outbox.connection_of(session).execute(query.order_by(table.c.id)))
