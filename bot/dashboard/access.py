"""Who is looking: the signed-in coordinator or buyer contact, and what each may see."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import select
from sqlmodel import Session

from bot.dashboard.login import session_alive
from bot.models import Buyer, BuyerContact, Cooperative, Member, Order, Role


@dataclass(frozen=True)
class Viewer:
    """A coordinator (her cooperative, may change it) or a buyer contact (its orders, read-only)."""

    kind: str  # "coordinator" or "buyer"
    name: str
    member: Member | None = None
    cooperative: Cooperative | None = None
    contact: BuyerContact | None = None
    buyer: Buyer | None = None

    @property
    def is_coordinator(self) -> bool:
        return self.kind == "coordinator"

    def orders_query(self):
        """Orders this viewer may see."""
        if self.is_coordinator:
            return select(Order).where(Order.cooperative_id == self.cooperative.id)
        return select(Order).where(Order.buyer_id == self.buyer.id)

    def may_see(self, order: Order) -> bool:
        """Whether `order` is hers (coordinator) or its buyer's (buyer contact)."""
        if self.is_coordinator:
            return order.cooperative_id == self.cooperative.id
        return order.buyer_id == self.buyer.id


def load_viewer(db: Session) -> Viewer | None:
    """The viewer the session names, if it still may sign in (an active coordinator, a contact)."""
    who = session.get("viewer")
    if not isinstance(who, dict):
        return None
    if not session_alive(session=db, code_id=who.get("code"), phone=who.get("phone")):
        return None  # signed out (perhaps from another copy of this cookie), or too old
    if who.get("kind") == "coordinator":
        member = db.get(Member, who.get("id"))
        if member is None or not member.active or member.role != Role.COORDINATOR:
            return None
        cooperative = db.get(Cooperative, member.cooperative_id)
        return Viewer("coordinator", member.name, member=member, cooperative=cooperative)
    if who.get("kind") == "buyer":
        contact = db.get(BuyerContact, who.get("id"))
        if contact is None:
            return None
        buyer = db.get(Buyer, contact.buyer_id)
        return Viewer("buyer", buyer.name, contact=contact, buyer=buyer)
    return None


def signed_in(view):
    """Pages need a session: without one, go to /login (and come back afterwards)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if g.get("viewer") is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return guarded


def coordinators_only(view):
    """Pages and actions that change a cooperative, or show its members' pay and messages."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if g.get("viewer") is None:
            return redirect(url_for("auth.login", next=request.path))
        if not g.viewer.is_coordinator:
            abort(403)
        return view(*args, **kwargs)

    return guarded


def visible_order(db: Session, order_id: int) -> Order:
    """The order if this viewer may see it; 404 otherwise (not 403: its existence is not hers to know)."""
    order = db.get(Order, order_id)
    if order is None or not g.viewer.may_see(order):
        abort(404)
    return order
