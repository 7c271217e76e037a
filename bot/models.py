"""The tables. Times are aware UTC datetimes; each report also keeps its local date."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from bot import clock


class Role(StrEnum):
    EMBROIDERER = "embroiderer"
    COORDINATOR = "coordinator"


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Source(StrEnum):
    """Where a report came from: her own SMS or WhatsApp, or someone recording it for her."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    COORDINATOR = "coordinator"  # a coordinator's `anotar` by SMS
    DASHBOARD = "dashboard"  # "record for her" in the dashboard
    CLI = "cli"  # `puntada report add`


class ReportStatus(StrEnum):
    ACCEPTED = "accepted"
    HELD = "held"  # above the plausibility limit, waiting for her "si"
    CANCELLED = "cancelled"


class OrderStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class OutboxStatus(StrEnum):
    QUEUED = "queued"  # waiting to be sent (or to be retried after not_before)
    SENDING = "sending"  # claimed by a dispatcher, handed to Twilio, no answer yet
    SENT = "sent"  # Twilio accepted it (queued/sending/sent on Twilio's side)
    DELIVERED = "delivered"  # the handset (or WhatsApp: delivered/read) has it
    FAILED = "failed"  # permanent failure, or Twilio said failed/undelivered


class Cooperative(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    sms_number: str = Field(unique=True, max_length=20)
    whatsapp_number: str = Field(index=True, max_length=20)
    country: str = Field(default="BO", max_length=2)
    timezone: str = Field(default="America/La_Paz", max_length=64)
    language: str = Field(default="es", max_length=2)
    reminder_time: str = Field(default="17:00", max_length=5)
    digest_time: str = Field(default="19:00", max_length=5)
    quiet_start: str = Field(default="21:00", max_length=5)
    quiet_end: str = Field(default="08:00", max_length=5)
    working_days: str = Field(default="mon,tue,wed,thu,fri,sat", max_length=27)
    plausible_max: int = 300
    flood_limit: int = 60
    whatsapp_templates: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=clock.now)


class Member(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("cooperative_id", "phone"),)
    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", index=True)
    name: str = Field(max_length=120)
    phone: str = Field(index=True, max_length=20)  # E.164
    role: str = Field(default=Role.EMBROIDERER, max_length=12)
    language: str = Field(default="es", max_length=2)
    channel: str = Field(default=Channel.SMS, max_length=8)
    opted_out: bool = False
    active: bool = True
    last_inbound_at: datetime | None = None
    # What the bot asked her last and is waiting for (handlers/conversation.py), if anything.
    pending: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=clock.now)


class Buyer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=120)
    language: str = Field(default="es", max_length=2)


class BuyerContact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("buyer_id", "phone"),)
    id: int | None = Field(default=None, primary_key=True)
    buyer_id: int = Field(foreign_key="buyer.id", index=True)
    phone: str = Field(index=True, max_length=20)  # E.164
    language: str = Field(default="es", max_length=2)
    opted_out: bool = False


class Order(SQLModel, table=True):
    __tablename__ = "orders"  # "order" is an SQL keyword
    __table_args__ = (
        # A code names one active order; closed orders free it for next month's order.
        Index(
            "uq_orders_active_code",
            "cooperative_id",
            "code",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", index=True)
    buyer_id: int = Field(foreign_key="buyer.id", index=True)
    code: str = Field(max_length=3)
    item: str = Field(max_length=200)
    quantity: int
    due_date: date
    piece_rate: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2)))
    assign_all: bool = False
    status: str = Field(default=OrderStatus.ACTIVE, max_length=8)
    done: int = 0  # running total of accepted reports, kept in the same transaction
    created_at: datetime = Field(default_factory=clock.now)
    closed_at: datetime | None = None


class Assignment(SQLModel, table=True):
    order_id: int = Field(foreign_key="orders.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True, index=True)


class InboundMessage(SQLModel, table=True):
    __tablename__ = "inbound_message"
    # The flood check counts one sender's last ten minutes on every message.
    __table_args__ = (Index("ix_inbound_sender_time", "sender", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(unique=True, max_length=64)
    cooperative_id: int | None = Field(default=None, foreign_key="cooperative.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    sender: str = Field(max_length=64)  # E.164 where it parses, else as Twilio sent it
    recipient: str = Field(max_length=64)
    channel: str = Field(default=Channel.SMS, max_length=8)
    body: str = ""
    intent: str = Field(default="", max_length=16)  # what the bot made of it
    understood: bool = True
    handled: bool = False  # a coordinator dealt with a message the bot did not understand
    # A question or news for her, or media: it waits in Mensajes even when its count was recorded.
    for_coordinator: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    reply: str = ""
    received_at: datetime = Field(default_factory=clock.now, index=True)
    # What Twilio sent besides the body: NumMedia (each in inbound_media), a shared location.
    num_media: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=300)


class InboundMedia(SQLModel, table=True):
    """One of a message's media (a voice note, a photo): Twilio's MediaUrlN and MediaContentTypeN."""

    __tablename__ = "inbound_media"
    inbound_id: int = Field(foreign_key="inbound_message.id", primary_key=True)
    position: int = Field(primary_key=True)  # N of MediaUrlN
    url: str = Field(max_length=500)
    content_type: str = Field(max_length=100)


class Report(SQLModel, table=True):
    __table_args__ = (
        Index("ix_report_member_day", "member_id", "local_date"),
        # Her month's total and her latest held report read this index alone, however many
        # reports the years bring (an index-only sum; no table rows are visited).
        Index("ix_report_member_status_day", "member_id", "status", "local_date", "pieces"),
    )
    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    order_id: int = Field(foreign_key="orders.id", index=True)
    pieces: int
    status: str = Field(default=ReportStatus.ACCEPTED, max_length=10)
    at: datetime  # UTC
    local_date: date  # the cooperative's calendar day of `at`
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id", index=True)
    recorded_by_id: int | None = Field(default=None, foreign_key="member.id")
    replaces_id: int | None = Field(default=None, foreign_key="report.id")
    source: str = Field(default=Source.SMS, max_length=12)  # a Source


class Outbox(SQLModel, table=True):
    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)  # recipient, kind, day or order: sent once
    cooperative_id: int | None = Field(default=None, foreign_key="cooperative.id", index=True)
    recipient: str = Field(max_length=64)  # E.164
    channel: str = Field(default=Channel.SMS, max_length=8)
    kind: str = Field(max_length=20)
    body: str
    # WhatsApp outside the 24-hour window: an approved template and its variables.
    content_sid: str | None = Field(default=None, max_length=40)
    content_variables: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default=OutboxStatus.QUEUED, max_length=10, index=True)
    attempts: int = 0
    not_before: datetime | None = None  # retry backoff: not to be sent before this moment
    claimed_at: datetime | None = None  # when a dispatcher took it (status "sending")
    sender: str | None = Field(default=None, max_length=64)  # the From it went out with
    fell_back: bool = False  # a WhatsApp message already re-sent by SMS
    twilio_sid: str | None = Field(default=None, max_length=64, index=True)
    twilio_status: str | None = Field(default=None, max_length=16)  # Twilio's own word
    error_code: str | None = Field(default=None, max_length=16)
    error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=clock.now)
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


class SenderLease(SQLModel, table=True):
    """Which dispatcher may send from a number until when: the per-sender rate cap holds
    across processes because only the lease holder sends from that number."""

    __tablename__ = "sender_lease"
    sender: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64)
    until: datetime



class LoginCode(SQLModel, table=True):
    """A one-time dashboard sign-in code: only its keyed hash is kept."""

    __tablename__ = "login_code"
    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(index=True, max_length=20)  # E.164
    code_hash: str = Field(max_length=64)
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=clock.now)


class LoginAttempt(SQLModel, table=True):
    """A sign-in event (a code sent, a wrong code) counted for rate limits per phone and address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_phone", "phone", "kind", "at"),
        Index("ix_login_attempt_client", "client", "kind", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20)
    client: str = Field(max_length=64)  # the requester's IP address
    kind: str = Field(max_length=8)  # "sent" or "failed"
    at: datetime = Field(default_factory=clock.now)
