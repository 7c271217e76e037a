"""What a handler receives and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from sqlmodel import Session

from bot import store
from bot.models import BuyerContact, Cooperative, InboundMessage, Member, Order
from bot.overview import order_standing
from bot.progress import Pace


@dataclass(frozen=True)
class Reply:
    """What to answer: a template in templates/sms/<language>/ and its values."""

    template: str
    values: dict = field(default_factory=dict)
    understood: bool = True
    intent: str | None = None  # what to store as the message's meaning, when not the parse


def reply(template: str, **values) -> Reply:
    """A reply to a message the bot understood."""
    return Reply(template, values)


def puzzled(template: str, **values) -> Reply:
    """A reply to a message the bot could not act on; the coordinator will see it."""
    return Reply(template, values, understood=False)


@dataclass
class Context:
    """Everything a handler may use: the session, who wrote, to which cooperative, when."""

    session: Session
    cooperative: Cooperative
    member: Member | None
    contacts: list[BuyerContact]
    inbound: InboundMessage | None
    now: datetime  # aware UTC
    today: date  # the cooperative's calendar day
    source: str = "sms"

    def language(self) -> str:
        """The language to answer in."""
        if self.member is not None:
            return self.member.language
        if self.contacts:
            return self.contacts[0].language
        return self.cooperative.language

    @cached_property
    def _active_orders(self) -> list[Order]:
        return store.active_orders(session=self.session, cooperative_id=self.cooperative.id)

    def active_orders(self) -> list[Order]:
        """The cooperative's active orders, read once per message."""
        return self._active_orders

    def order_of(self, report) -> Order:
        """The order a report is on."""
        return self.session.get(Order, report.order_id)

    def month_total(self, member: Member) -> int:
        """Her accepted pieces this calendar month, on the cooperative's clock."""
        return store.pieces_between(
            session=self.session,
            member_id=member.id,
            first=self.today.replace(day=1),
            last=self.today,
        )


def first_name(member: Member) -> str:
    """How the bot addresses her: 'Rosa' for 'Rosa Mamani Quispe'."""
    return member.name.split()[0] if member.name.split() else member.name


def progress(order: Order) -> dict:
    """An order's standing as template values."""
    return {"code": order.code, "done": order.done, "qty": order.quantity}


def standing(context: Context, order: Order) -> Pace:
    """Where an order stands today: progress, pace needed and recent, projected finish."""
    return order_standing(
        session=context.session, cooperative=context.cooperative, order=order, today=context.today
    )
