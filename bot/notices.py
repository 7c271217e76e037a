"""Notices that follow from a report: milestones to coordinators, completion to buyers.

Both are queued in the transaction of the report that crosses them, under keys that make
each go out once, whatever runs twice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from bot import outbox
from bot.models import BuyerContact, Cooperative, Member, Order, Role
from bot.render import render

MILESTONES = (25, 50, 75, 100)


def crossed(before: int, after: int, quantity: int) -> list[int]:
    """The milestone percentages passed when an order goes from `before` to `after` pieces."""
    return [p for p in MILESTONES if before * 100 < p * quantity <= after * 100]


def progress_changed(*, session: Session, order: Order, before: int, after: int) -> None:
    """Queue the milestone and completion notices that `before` → `after` crosses."""
    if after <= before or order.quantity <= 0:
        return
    passed = crossed(before, after, order.quantity)
    if not passed:
        return
    cooperative = session.get(Cooperative, order.cooperative_id)
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


def coordinators(*, session: Session, cooperative_id: int) -> list[Member]:
    """The cooperative's active coordinators who take notices."""
    query = select(Member).where(
        Member.cooperative_id == cooperative_id,
        Member.role == Role.COORDINATOR,
        Member.active,
        Member.opted_out.is_(False),
    )
    return list(session.scalars(query.order_by(Member.id)))


def buyer_contacts(*, session: Session, buyer_id: int) -> list[BuyerContact]:
    """A buyer's contacts who take notices."""
    query = select(BuyerContact).where(
        BuyerContact.buyer_id == buyer_id, BuyerContact.opted_out.is_(False)
    )
    return list(session.scalars(query.order_by(BuyerContact.id)))
