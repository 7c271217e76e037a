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

from bot import clock, languages, store
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

TEMPLATE_KINDS = ("reminder", "digest", "milestone", "completion", "weekly", "warning", "code")
CODE = re.compile(r"[A-Z]{1,3}")
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
CSV_HEADER = ["name", "phone", "role", "language", "channel"]


def N_(text: str) -> str:
    """Marks a text for the catalogs (pybabel extract -k N_); it is translated where it is shown."""
    return text


# Why an input cannot be stored, by code: the command line prints the English, the dashboard
# shows the reader's language from the catalogs (templates/web/translations/).
REASONS: dict[str, str] = {
    "coop_exists": N_("a cooperative called '%(name)s' already exists"),
    "number_taken": N_("%(number)s already belongs to another cooperative"),
    "quiet_hours": N_("--quiet-hours '%(value)s' is not HH:MM-HH:MM"),
    "working_days": N_("--working-days: '%(value)s' is not a day range like mon-sat"),
    "no_coop": N_("no cooperative called '%(name)s'"),
    "member_exists": N_("%(phone)s is already a member of %(coop)s"),
    "csv": N_("%(reason)s"),
    "header": N_("the header must be %(header)s"),
    "columns": N_("expected %(expected)s columns, found %(found)s"),
    "member_twice": N_("%(phone)s is already a member"),
    "role": N_("role '%(value)s' is not embroiderer or coordinator"),
    "channel": N_("channel '%(value)s' is not sms or whatsapp"),
    "buyer_exists": N_("a buyer called '%(name)s' already exists"),
    "no_buyer": N_("no buyer called '%(name)s'"),
    "code": N_("order code '%(code)s' must be 1 to 3 letters, like A or MT"),
    "code_taken": N_("%(coop)s already has an active order %(code)s"),
    "not_a_member": N_("%(what)s: %(phone)s is not a member of %(coop)s"),
    "assign": N_("--assign takes all or a list of members' phones"),
    "no_order": N_("%(coop)s has no active order %(code)s"),
    "at": N_("--at '%(value)s' is not an ISO 8601 time like 2026-12-01T17:05"),
    "empty": N_("%(what)s is empty"),
    "control": N_("%(what)s has control characters"),
    "long": N_("%(what)s is longer than %(limit)s characters"),
    "phone_unreadable": N_("%(what)s: '%(value)s' is not a phone number"),
    "phone_invalid": N_("%(what)s: '%(value)s' is not a valid phone number for %(region)s"),
    "timezone": N_("--timezone '%(value)s' is not a time zone like America/La_Paz"),
    "language": N_("language '%(value)s' is not one of %(languages)s"),
    "clock": N_("%(what)s '%(value)s' is not a time like 17:00"),
    "positive": N_("%(what)s must be at least 1"),
    "day": N_("%(what)s '%(value)s' is not a date like 2026-12-31"),
    "amount": N_("%(what)s '%(value)s' is not an amount like 3.50"),
    "template_kind": N_("--whatsapp-template '%(value)s': KIND must be one of %(kinds)s"),
    "content_sid": N_("--whatsapp-template '%(value)s': '%(sid)s' is not a Content SID (HX…)"),
    "pieces": N_("--pieces must be at least 1"),
    "order_needed": N_("--order is needed: one of %(codes)s"),
    "no_phone": N_("no member with phone %(phone)s"),
    "several_coops": N_("%(phone)s is a member of several cooperatives: give --coop"),
    "from": N_("--from '%(value)s' is not a phone number"),
    "to": N_("--to %(value)s: no cooperative has this number"),
    "not_member_give_to": N_("%(value)s is not a member: give --to, the cooperative's number"),
    "encoding": N_("the file is not UTF-8 text"),
}


class Invalid(ValueError):
    """Input that cannot be stored: a code from REASONS, its values, and the line of a file.

    Said in one line: `str(error)` is the English (the command line's); the dashboard
    translates `error.code` with `error.values` in the reader's language.
    """

    def __init__(self, code: str, /, *, line: int | None = None, **values):
        self.code, self.line, self.values = code, line, values
        text = REASONS[code] % values
        super().__init__(f"line {line}: {text}" if line else text)

    def on_line(self, line: int) -> Invalid:
        """The same reason, at a line of a file."""
        return Invalid(self.code, line=line, **self.values)


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
        raise Invalid("coop_exists", name=name)
    sms = _phone(number, country, "--number")
    whatsapp_number = _phone(whatsapp, country, "--whatsapp") if whatsapp else sms
    for value in {sms, whatsapp_number}:
        if store.cooperative_by_number(session=session, number=value):
            raise Invalid("number_taken", number=value)
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
            raise Invalid("quiet_hours", value=quiet_hours)
        changes["quiet_start"] = _clock(start, "--quiet-hours")
        changes["quiet_end"] = _clock(end, "--quiet-hours")
    if working_days is not None:
        try:
            days = parse_working_days(working_days)
        except ValueError:
            raise Invalid("working_days", value=working_days) from None
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
        raise Invalid("no_coop", name=name)
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
        raise Invalid("member_exists", phone=member.phone, coop=cooperative.name)
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
        raise Invalid("member_exists", phone=checked.phone, coop=cooperative.name)
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
        raise Invalid("csv", line=reader.line_num, reason=str(error)) from None


def _import_rows(session: Session, cooperative: Cooperative, reader) -> list[Member]:
    header = next(reader, None)
    if not header or [c.strip().lower() for c in header] != CSV_HEADER:
        raise Invalid("header", line=1, header=",".join(CSV_HEADER))
    members, seen = [], set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_HEADER):
            raise Invalid("columns", line=line, expected=len(CSV_HEADER), found=len(row))
        name, phone, role, language, channel = (cell.strip() for cell in row)
        try:
            member = _member(cooperative, phone, name, role or Role.EMBROIDERER,
                             language or None, channel or Channel.SMS)
        except Invalid as error:
            raise error.on_line(line) from None
        taken = store.member_by_phone(
            session=session, cooperative_id=cooperative.id, phone=member.phone
        )
        if member.phone in seen or taken:
            raise Invalid("member_twice", line=line, phone=member.phone)
        seen.add(member.phone)
        members.append(member)
    session.add_all(members)
    session.flush()
    return members


def _member(cooperative, phone, name, role, language, channel) -> Member:
    if role not in tuple(Role):
        raise Invalid("role", value=role)
    if channel not in tuple(Channel):
        raise Invalid("channel", value=channel)
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
        raise Invalid("buyer_exists", name=name)
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
        raise Invalid("no_buyer", name=buyer_name)
    code = code.strip().upper()
    if not CODE.fullmatch(code):
        raise Invalid("code", code=code)
    if any(o.code == code for o in store.active_orders(session=session, cooperative_id=cooperative.id)):
        raise Invalid("code_taken", coop=cooperative.name, code=code)
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
            raise Invalid("not_a_member", what="--assign", phone=phone, coop=cooperative.name)
        ids.append(member.id)
    if not ids:
        raise Invalid("assign")
    return ids


def close_order(*, session: Session, cooperative: Cooperative, code: str) -> Order:
    """Close an active order: it stops taking reports and frees its code."""
    code = code.strip().upper()
    for order in store.active_orders(session=session, cooperative_id=cooperative.id):
        if order.code == code:
            order.status, order.closed_at = OrderStatus.CLOSED, clock.now()
            session.flush()
            return order
    raise Invalid("no_order", coop=cooperative.name, code=code)


def parse_at(text: str, timezone: str) -> datetime:
    """--at: an instant when it carries an offset, else the cooperative's local time; → UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(timezone))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid("at", value=text) from None


def _name(value: str, what: str, limit: int = 120) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise Invalid("empty", what=what)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise Invalid("control", what=what)
    if len(value) > limit:
        raise Invalid("long", what=what, limit=limit)
    return value


def _phone(raw: str | None, region: str, what: str) -> str:
    try:
        return to_e164(raw or "", region)
    except BadPhone as error:
        code = "phone_invalid" if error.readable else "phone_unreadable"
        raise Invalid(code, what=what, value=raw or "", region=region.upper()) from None


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone", value=name) from None
    return name


def _language(value: str) -> str:
    if value not in languages.codes():
        raise Invalid("language", value=value, languages=", ".join(languages.codes()))
    return value


def _clock(value: str, what: str) -> str:
    try:
        return time.fromisoformat(value.strip()).strftime("%H:%M")
    except ValueError:
        raise Invalid("clock", what=what, value=value) from None


def _positive(value: int, what: str) -> int:
    if value < 1:
        raise Invalid("positive", what=what)
    return value


def parse_day(value: str, what: str) -> date:
    """A date given as YYYY-MM-DD, or Invalid naming the option."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("day", what=what, value=value) from None


def _money(value: str) -> Decimal:
    try:
        amount = Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        raise Invalid("amount", what="--piece-rate", value=value) from None
    if not amount.is_finite() or amount < 0 or amount >= 10**8:
        raise Invalid("amount", what="--piece-rate", value=value)
    return amount.quantize(Decimal("0.01"))


def _template(text: str) -> tuple[str, str]:
    kind, sep, sid = text.partition("=")
    if not sep or kind not in TEMPLATE_KINDS:
        raise Invalid("template_kind", value=text, kinds=", ".join(TEMPLATE_KINDS))
    if not CONTENT_SID.fullmatch(sid):
        raise Invalid("content_sid", value=text, sid=sid)
    return kind, sid
