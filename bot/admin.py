"""Setting up a cooperative: validated writes shared by the command line and the demo.

Every function checks all of its input before writing anything and raises Invalid with
a one-line reason; the caller's transaction then rolls back, so nothing changes.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlmodel import Session

from bot import clock, store
from bot.models import (
    Buyer,
    BuyerContact,
    Channel,
    Cooperative,
    Member,
    Order,
    OrderStatus,
    Role,
)
from bot.phones import BadPhone, to_e164
from bot.progress import format_working_days, parse_working_days

LANGUAGES = ("es", "en")
TEMPLATE_KINDS = ("reminder", "digest", "milestone", "completion", "weekly", "warning", "code")
CODE = re.compile(r"[A-Z]{1,3}")
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
CSV_HEADER = ["name", "phone", "role", "language", "channel"]


class Invalid(ValueError):
    """Input that cannot be stored; the message says why in one line."""


def add_cooperative(
    *,
    session: Session,
    name: str,
    number: str,
    whatsapp: str | None = None,
    country: str = "BO",
    timezone: str = "America/La_Paz",
    language: str = "es",
    reminder_time: str = "17:00",
) -> Cooperative:
    """Register a cooperative and its Twilio number(s)."""
    name = _name(name, "cooperative name", limit=60)  # it appears in SMS
    if store.cooperative_by_name(session=session, name=name):
        raise Invalid(f"a cooperative called {name!r} already exists")
    sms = _phone(number, country, "--number")
    whatsapp_number = _phone(whatsapp, country, "--whatsapp") if whatsapp else sms
    for value in {sms, whatsapp_number}:
        if store.cooperative_by_number(session=session, number=value):
            raise Invalid(f"{value} already belongs to another cooperative")
    cooperative = Cooperative(
        name=name,
        sms_number=sms,
        whatsapp_number=whatsapp_number,
        country=country,
        timezone=_timezone(timezone),
        language=_language(language),
        reminder_time=_clock(reminder_time, "--reminder-time"),
    )
    session.add(cooperative)
    session.flush()
    return cooperative


def configure_cooperative(
    *,
    session: Session,
    name: str,
    reminder_time: str | None = None,
    digest_time: str | None = None,
    quiet_hours: str | None = None,
    working_days: str | None = None,
    plausible_max: int | None = None,
    flood_limit: int | None = None,
    whatsapp_templates: tuple[str, ...] = (),
) -> Cooperative:
    """Change a cooperative's settings; only those given change."""
    cooperative = find_cooperative(session=session, name=name)
    changes: dict = {}
    if reminder_time is not None:
        changes["reminder_time"] = _clock(reminder_time, "--reminder-time")
    if digest_time is not None:
        changes["digest_time"] = _clock(digest_time, "--digest-time")
    if quiet_hours is not None:
        start, sep, end = quiet_hours.partition("-")
        if not sep:
            raise Invalid(f"--quiet-hours {quiet_hours!r} is not HH:MM-HH:MM")
        changes["quiet_start"] = _clock(start, "--quiet-hours")
        changes["quiet_end"] = _clock(end, "--quiet-hours")
    if working_days is not None:
        try:
            days = parse_working_days(working_days)
        except ValueError as error:
            raise Invalid(f"--working-days: {error}") from None
        changes["working_days"] = format_working_days(days)
    if plausible_max is not None:
        changes["plausible_max"] = _positive(plausible_max, "--plausible-max")
    if flood_limit is not None:
        changes["flood_limit"] = _positive(flood_limit, "--flood-limit")
    if whatsapp_templates:
        changes["whatsapp_templates"] = {
            **cooperative.whatsapp_templates,
            **dict(_template(t) for t in whatsapp_templates),
        }
    for field, value in changes.items():
        setattr(cooperative, field, value)
    session.flush()
    return cooperative


def find_cooperative(*, session: Session, name: str) -> Cooperative:
    """The cooperative called `name`, or Invalid."""
    cooperative = store.cooperative_by_name(session=session, name=name)
    if cooperative is None:
        raise Invalid(f"no cooperative called {name!r}")
    return cooperative


def add_member(
    *,
    session: Session,
    cooperative: Cooperative,
    phone: str,
    name: str,
    role: str = Role.EMBROIDERER,
    language: str | None = None,
    channel: str = Channel.SMS,
) -> Member:
    """Register a member of a cooperative."""
    member = _member(cooperative, phone, name, role, language, channel)
    if store.member_by_phone(session=session, cooperative_id=cooperative.id, phone=member.phone):
        raise Invalid(f"{member.phone} is already a member of {cooperative.name}")
    session.add(member)
    session.flush()
    return member


def update_member(
    *,
    session: Session,
    cooperative: Cooperative,
    member: Member,
    phone: str,
    name: str,
    role: str,
    language: str,
    channel: str,
) -> Member:
    """Change a member's name, phone, role, language and channel, checked as when adding her."""
    checked = _member(cooperative, phone, name, role, language, channel)
    other = store.member_by_phone(session=session, cooperative_id=cooperative.id, phone=checked.phone)
    if other is not None and other.id != member.id:
        raise Invalid(f"{checked.phone} is already a member of {cooperative.name}")
    for field in ("name", "phone", "role", "language", "channel"):
        setattr(member, field, getattr(checked, field))
    session.flush()
    return member


def import_members(*, session: Session, cooperative: Cooperative, text: str) -> list[Member]:
    """Register members from CSV text; any bad row, reported by line, imports none."""
    # newline="" lets the csv module read \n, \r\n and old Excel's bare \r alike.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _import_rows(session, cooperative, reader)
    except csv.Error as error:
        raise Invalid(f"line {reader.line_num}: {error}") from None


def _import_rows(session: Session, cooperative: Cooperative, reader) -> list[Member]:
    header = next(reader, None)
    if not header or [c.strip().lower() for c in header] != CSV_HEADER:
        raise Invalid(f"line 1: the header must be {','.join(CSV_HEADER)}")
    members, seen = [], set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_HEADER):
            raise Invalid(f"line {line}: expected {len(CSV_HEADER)} columns, found {len(row)}")
        name, phone, role, language, channel = (cell.strip() for cell in row)
        try:
            member = _member(cooperative, phone, name, role or Role.EMBROIDERER,
                             language or None, channel or Channel.SMS)
        except Invalid as error:
            raise Invalid(f"line {line}: {error}") from None
        taken = store.member_by_phone(
            session=session, cooperative_id=cooperative.id, phone=member.phone
        )
        if member.phone in seen or taken:
            raise Invalid(f"line {line}: {member.phone} is already a member")
        seen.add(member.phone)
        members.append(member)
    session.add_all(members)
    session.flush()
    return members


def _member(cooperative, phone, name, role, language, channel) -> Member:
    if role not in tuple(Role):
        raise Invalid(f"role {role!r} is not embroiderer or coordinator")
    if channel not in tuple(Channel):
        raise Invalid(f"channel {channel!r} is not sms or whatsapp")
    return Member(
        cooperative_id=cooperative.id,
        name=_name(name, "member name"),
        phone=_phone(phone, cooperative.country, "phone"),
        role=role,
        language=_language(language or cooperative.language),
        channel=channel,
    )


def add_buyer(
    *, session: Session, name: str, contacts: tuple[str, ...], language: str, region: str
) -> Buyer:
    """Register a buyer (an exporter) with the phones of its contacts."""
    name = _name(name, "buyer name")
    if session.scalars(select(Buyer).where(Buyer.name == name)).first():
        raise Invalid(f"a buyer called {name!r} already exists")
    phones = list(dict.fromkeys(_phone(c, region, "--contact") for c in contacts))
    buyer = Buyer(name=name, language=_language(language))
    session.add(buyer)
    session.flush()
    session.add_all(BuyerContact(buyer_id=buyer.id, phone=p, language=buyer.language) for p in phones)
    session.flush()
    return buyer


def add_order(
    *,
    session: Session,
    cooperative: Cooperative,
    buyer_name: str,
    code: str,
    item: str,
    quantity: int,
    due: str,
    piece_rate: str | None = None,
    assign: str | None = None,
) -> Order:
    """Create an active order and assign members to it."""
    buyer = session.scalars(select(Buyer).where(Buyer.name == buyer_name.strip())).first()
    if buyer is None:
        raise Invalid(f"no buyer called {buyer_name!r}")
    code = code.strip().upper()
    if not CODE.fullmatch(code):
        raise Invalid(f"order code {code!r} must be 1 to 3 letters, like A or MT")
    if any(o.code == code for o in store.active_orders(session=session, cooperative_id=cooperative.id)):
        raise Invalid(f"{cooperative.name} already has an active order {code}")
    member_ids = _assignees(session, cooperative, assign)
    order = Order(
        cooperative_id=cooperative.id,
        buyer_id=buyer.id,
        code=code,
        item=_name(item, "--item", limit=200),
        quantity=_positive(quantity, "--quantity"),
        due_date=parse_day(due, "--due"),
        piece_rate=_money(piece_rate) if piece_rate is not None else None,
        assign_all=assign is not None and assign.strip().lower() == "all",
    )
    session.add(order)
    session.flush()
    store.assign(session=session, order=order, member_ids=member_ids)
    return order


def _assignees(session: Session, cooperative: Cooperative, assign: str | None) -> list[int]:
    if assign is None or assign.strip().lower() == "all":
        return []
    ids = []
    for raw in filter(None, (p.strip() for p in assign.split(","))):
        phone = _phone(raw, cooperative.country, "--assign")
        member = store.member_by_phone(session=session, cooperative_id=cooperative.id, phone=phone)
        if member is None:
            raise Invalid(f"--assign: {phone} is not a member of {cooperative.name}")
        ids.append(member.id)
    if not ids:
        raise Invalid("--assign takes all or a list of members' phones")
    return ids


def close_order(*, session: Session, cooperative: Cooperative, code: str) -> Order:
    """Close an active order: it stops taking reports and frees its code."""
    code = code.strip().upper()
    for order in store.active_orders(session=session, cooperative_id=cooperative.id):
        if order.code == code:
            order.status, order.closed_at = OrderStatus.CLOSED, clock.now()
            session.flush()
            return order
    raise Invalid(f"{cooperative.name} has no active order {code}")


def parse_at(text: str, timezone: str) -> datetime:
    """--at: an instant when it carries an offset, else the cooperative's local time; → UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(timezone))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid(f"--at {text!r} is not an ISO 8601 time like 2026-12-01T17:05") from None


def _name(value: str, what: str, limit: int = 120) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise Invalid(f"{what} is empty")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise Invalid(f"{what} has control characters")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return value


def _phone(raw: str | None, region: str, what: str) -> str:
    try:
        return to_e164(raw or "", region)
    except BadPhone as error:
        raise Invalid(f"{what}: {error}") from None


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"--timezone {name!r} is not a time zone like America/La_Paz") from None
    return name


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise Invalid(f"language {value!r} is not es or en")
    return value


def _clock(value: str, what: str) -> str:
    try:
        return time.fromisoformat(value.strip()).strftime("%H:%M")
    except ValueError:
        raise Invalid(f"{what} {value!r} is not a time like 17:00") from None


def _positive(value: int, what: str) -> int:
    if value < 1:
        raise Invalid(f"{what} must be at least 1")
    return value


def parse_day(value: str, what: str) -> date:
    """A date given as YYYY-MM-DD, or Invalid naming the option."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{what} {value!r} is not a date like 2026-12-31") from None


def _money(value: str) -> Decimal:
    try:
        amount = Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        raise Invalid(f"--piece-rate {value!r} is not an amount like 3.50") from None
    if not amount.is_finite() or amount < 0 or amount >= 10**8:
        raise Invalid(f"--piece-rate {value!r} is not an amount like 3.50")
    return amount.quantize(Decimal("0.01"))


def _template(text: str) -> tuple[str, str]:
    kind, sep, sid = text.partition("=")
    if not sep or kind not in TEMPLATE_KINDS:
        raise Invalid(f"--whatsapp-template {text!r}: KIND must be one of {', '.join(TEMPLATE_KINDS)}")
    if not CONTENT_SID.fullmatch(sid):
        raise Invalid(f"--whatsapp-template {text!r}: {sid!r} is not a Content SID (HX…)")
    return kind, sid
