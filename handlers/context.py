"""What a handler receives and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

from sqlalchemy import Connection
from sqlalchemy.engine import Row
from sqlmodel import Session

from bot import statements
from bot.models import ReportStatus, Source
from bot.overview import order_standing
from bot.progress import Pace
from bot.statements import OrderLine, Recorded


@dataclass(frozen=True)
class Reply:
    """What to answer: a template in templates/sms/<language>/ and its values."""

    template: str
    values: dict = field(default_factory=dict)
    understood: bool = True
    intent: str | None = None  # what to store as the message's meaning, when not the parse
    language: str | None = None  # answer in this language (she just chose it), not the sender's
    note: bool = False  # the message waits for the coordinator in Mensajes (a question, a voice note)


def reply(template: str, **values) -> Reply:
    """A reply to a message the bot understood."""
    return Reply(template, values)


def puzzled(template: str, **values) -> Reply:
    """A reply to a message the bot could not act on; the coordinator will see it."""
    return Reply(template, values, understood=False)


@dataclass
class Context:
    """Everything a handler may use: the transaction, who wrote, to which cooperative, when.

    Rows are read by name (`context.member.name`); the statements a message costs are in
    bot/statements.py. Handlers that need the ORM (a coordinator's summary, a new member)
    take `context.session`, a session on the same connection and transaction.
    """

    connection: Connection
    cooperative: Row
    member: Row | None  # the member who wrote, her row locked; None for a buyer contact
    contacts: list[Row]  # the buyer contacts who wrote, when not a member
    inbound: Row | None  # the message's row (id, message_sid), None outside a message
    now: datetime  # aware UTC
    today: date  # the cooperative's calendar day
    source: Source = Source.SMS
    text: str = ""  # the message's body as stored
    media: tuple[str, ...] = ()  # the content types of its media (MediaContentTypeN)
    location: bool = False  # she shared a location

    def language(self) -> str:
        """The language to answer in."""
        if self.member is not None:
            return self.member.language
        if self.contacts:
            return self.contacts[0].language
        return self.cooperative.language

    @cached_property
    def coordinator(self) -> str:
        """The first name of the coordinator her messages reach ('' when the club has none)."""
        return first_name_of(statements.coordinator_name(self.connection, self.cooperative.id))

    @cached_property
    def orders(self) -> list[OrderLine]:
        """The cooperative's active orders by code, each marked if the sender works on it."""
        return statements.active_orders(self.connection, cooperative_id=self.cooperative.id,
                                        member=self.member)

    def assigned(self) -> list[OrderLine]:
        """The active orders the sender works on."""
        return [o for o in self.orders if o.mine]

    def order_of(self, report) -> OrderLine:
        """The order a report is on (active ones as this message sees them)."""
        for order in self.orders:
            if order.id == report.order_id:
                return order
        return statements.order(self.connection, report.order_id)

    @cached_property
    def session(self) -> Session:
        """An ORM session in this message's transaction, for the rarer commands."""
        return Session(bind=self.connection, expire_on_commit=False)

    def flush(self) -> None:
        """Send the ORM session's changes, if a handler made any."""
        if "session" in self.__dict__:
            self.session.flush()

    def month_total(self, member) -> int:
        """Her accepted pieces this calendar month, on the cooperative's clock."""
        return self.totals(member).month

    def totals(self, member) -> Row:
        """Her accepted pieces this month and today: (month, today)."""
        return statements.totals(self.connection, member_id=member.id, first=self.today.replace(day=1),
                                 today=self.today)

    def record(self, member, order: OrderLine, pieces: int, *, status: str = ReportStatus.ACCEPTED,
               day: date | None = None, source: Source | None = None, recorded_by_id: int | None = None,
               replaces_id: int | None = None) -> Recorded:
        """Store one report of `member` on `order`, from this message."""
        return statements.record_report(
            self.connection, member=member, order=order, pieces=pieces, at=self.now,
            day=day or self.today, source=source or self.source, status=status,
            inbound_id=self.inbound.id if self.inbound is not None else None,
            recorded_by_id=recorded_by_id, replaces_id=replaces_id,
        )

    def held_reports(self, member) -> list[Row]:
        """Her reports waiting for a "si", all from her latest held message (a day at most)."""
        latest = statements.latest_report(self.connection, member_id=member.id, status=ReportStatus.HELD)
        if latest is None or self.now - latest.at > HOLD:
            return []
        return statements.held_with(self.connection, latest)


HOLD = timedelta(hours=24)  # a "si" the next morning still counts; one a week later does not


def first_name(member) -> str:
    """How the bot addresses her: 'Rosa' for 'Rosa Mamani Quispe'."""
    return first_name_of(member.name)


def first_name_of(name: str) -> str:
    return name.split()[0] if name.split() else name


def progress(order) -> dict:
    """An order's standing as template values."""
    return {"code": order.code, "done": order.done, "qty": order.quantity}


def standing(context: Context, order) -> Pace:
    """Where an order stands today: progress, pace needed and recent, projected finish."""
    return order_standing(
        session=context.session, cooperative=context.cooperative, order=order, today=context.today
    )


def codes(orders: Sequence) -> list[str]:
    """The codes of these orders, in their order."""
    return [order.code for order in orders]
