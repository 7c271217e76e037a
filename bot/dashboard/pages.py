"""The dashboard's pages: overview, order, members, messages, pay, simulator."""

from __future__ import annotations

import csv
import io
import logging
import re
import uuid
from datetime import date
from decimal import Decimal

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select, update
from werkzeug.routing import IntegerConverter

from bot import admin, channels, clock, puntada, statements, store
from bot.dashboard import queries
from bot.dashboard.access import coordinators_only, signed_in, visible_order
from bot.dashboard.chart import burn_up
from bot.dashboard.web import db, load, no_store
from bot.db import unit_of_work
from bot.inbound import Inbound, receive
from bot.models import (
    Channel,
    Cooperative,
    InboundMedia,
    InboundMessage,
    Member,
    Order,
    OrderStatus,
    Role,
    Source,
)
from bot.parsing import MAX_PIECES
from bot.phones import address_for

log = logging.getLogger(__name__)
blueprint = Blueprint("dashboard", __name__)
blueprint.before_request(load)
blueprint.after_request(no_store)
MAX_QUANTITY = 10_000_000
CONVERSATION = 12  # messages the simulator shows
MAX_ID = 2**31 - 1
MAX_MEDIA = 10  # Twilio's media per message
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what Excel and LibreOffice take as a formula
FIRST_YEAR, LAST_YEAR = 2000, 2100  # the months pay can be asked for


class IdConverter(IntegerConverter):
    """<id:…> in a path: a row id, at most PostgreSQL's integer (a larger one is a 404, not a 500)."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if not 1 <= number <= MAX_ID:
            # Not a ValidationError: with that the router answers 405 when another method's rule exists.
            abort(404)
        return number


@blueprint.get("/")
@signed_in
def overview():
    """Each open order with its progress bar, pace and projected finish."""
    viewer = g.viewer
    cards = queries.open_orders(session=db(), query=viewer.orders_query(), now=clock.now())
    day = None
    if viewer.is_coordinator:
        day = queries.cooperative_day(session=db(), cooperative=viewer.cooperative, now=clock.now())
    return render_template("overview.html", cards=cards, summary=day)


@blueprint.get("/orders/<id:order_id>")
@signed_in
def order(order_id: int):
    """One order: burn-up chart, who made how much, who works on it; the form to change it."""
    return _order_page(visible_order(db(), order_id), errors={}, form=None)


def _order_page(order: Order, *, errors: dict, form, status: int = 200):
    card = queries.order_card(session=db(), order=order, now=clock.now())
    daily = queries.all_daily_pieces(session=db(), order=order, today=card.today)
    chart = burn_up(start=clock.today(card.cooperative, order.created_at), due=order.due_date,
                    today=card.today, quantity=order.quantity, daily=daily)
    assigned = queries.assigned(session=db(), order=order)
    members = []
    if g.viewer.is_coordinator:
        everyone = store.members(session=db(), cooperative_id=order.cooperative_id)
        members = [m for m in everyone if m.role == Role.EMBROIDERER]
    page = render_template(
        "order.html", card=card, chart=chart, assigned=assigned, members=members, errors=errors,
        form=form, contributions=queries.contributions(session=db(), order=order),
        assigned_ids={m.id for m in assigned},
    )
    return page, status


@blueprint.post("/orders/<id:order_id>")
@coordinators_only
def edit_order(order_id: int):
    """Change an open order's quantity, due date and who works on it."""
    order = visible_order(db(), order_id)
    form = request.form
    errors, quantity, due = {}, _whole(form.get("quantity", "")), None
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = "quantity"
    try:
        due = date.fromisoformat(form.get("due", "").strip())
    except ValueError:
        errors["due"] = "due"
    to_all = form.get("assign") == "all"
    allowed = {m.id for m in store.members(session=db(), cooperative_id=order.cooperative_id)}
    chosen = {n for n in map(_whole, form.getlist("member")) if n is not None}
    if not to_all and (not chosen or not chosen <= allowed):
        errors["assign"] = "assign"
    if order.status != OrderStatus.ACTIVE:
        errors["order"] = "order_closed"
    if errors:
        return _order_page(order, errors=errors, form=form, status=400)
    with unit_of_work(puntada().engine) as work:
        row = work.get(Order, order.id)
        row.quantity, row.due_date = quantity, due
        queries.set_assignments(session=work, order=row, to_all=to_all, member_ids=chosen)
    flash(("flash.order_saved", {"code": order.code}))
    return redirect(url_for("dashboard.order", order_id=order.id))


@blueprint.get("/members")
@signed_in
def members():
    """The members table; coordinators also get the forms to add and import."""
    return _members_page(errors={}, form=None)


def _members_page(*, errors: dict, form, status: int = 200):
    viewer = g.viewer
    if viewer.is_coordinator:
        everyone = queries.cooperative_members(session=db(), cooperative=viewer.cooperative)
        groups = [(viewer.cooperative, queries.member_rows(session=db(), members=everyone,
                                                           cooperative=viewer.cooperative, now=clock.now()))]
    else:
        groups = [
            (coop, queries.member_rows(session=db(), members=people, cooperative=coop, now=clock.now(),
                                       order_ids=order_ids))
            for coop, people, order_ids in queries.buyer_members(session=db(), buyer=viewer.buyer)
        ]
    return render_template("members.html", groups=groups, errors=errors, form=form), status


@blueprint.post("/members")
@coordinators_only
def add_member():
    """Register a member, with the same checks as `puntada member add`."""
    form = request.form
    try:
        with unit_of_work(puntada().engine) as work:
            added = admin.add_member(
                session=work, cooperative=_own_cooperative(work), phone=form.get("phone", ""),
                name=form.get("name", ""), role=form.get("role", Role.EMBROIDERER),
                language=form.get("language") or None, channel=form.get("channel", Channel.SMS),
            )
    except admin.Invalid as error:
        return _members_page(errors={"add": error}, form=form, status=400)
    flash(("flash.member_added", {"name": added.name}))
    return redirect(url_for("dashboard.members"))


@blueprint.post("/members/import")
@coordinators_only
def import_members():
    """Register members from a CSV file (name,phone,role,language,channel); one bad line imports none."""
    upload = request.files.get("file")
    raw = upload.read() if upload and upload.filename else request.form.get("csv", "").encode()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _members_page(errors={"import": admin.Invalid("encoding")}, form=None, status=400)
    try:
        with unit_of_work(puntada().engine) as work:
            added = admin.import_members(session=work, cooperative=_own_cooperative(work), text=text)
    except admin.Invalid as error:
        return _members_page(errors={"import": error}, form=request.form, status=400)
    flash(("flash.members_imported", {"count": len(added)}))
    return redirect(url_for("dashboard.members"))


@blueprint.get("/members/<id:member_id>/edit")
@coordinators_only
def edit_member(member_id: int):
    """The form to change one member."""
    return render_template("member_edit.html", member=_own_member(member_id), errors={}, form=None)


@blueprint.post("/members/<id:member_id>/edit")
@coordinators_only
def save_member(member_id: int):
    """Change a member's name, phone, role, language and channel."""
    member, form = _own_member(member_id), request.form
    if member.id == g.viewer.member.id and form.get("role") != Role.COORDINATOR:
        errors = {"self": True}  # she would lock herself out of the dashboard
        return render_template("member_edit.html", member=member, errors=errors, form=form), 400
    try:
        with unit_of_work(puntada().engine) as work:
            admin.update_member(
                session=work, cooperative=_own_cooperative(work), member=work.get(Member, member.id),
                phone=form.get("phone", ""), name=form.get("name", ""), role=form.get("role", ""),
                language=form.get("language", ""), channel=form.get("channel", ""),
            )
    except admin.Invalid as error:
        errors = {"edit": error}
        return render_template("member_edit.html", member=member, errors=errors, form=form), 400
    flash(("flash.member_saved", {"name": form.get("name", "").strip()}))
    return redirect(url_for("dashboard.members"))


@blueprint.post("/members/<id:member_id>/active")
@coordinators_only
def set_active(member_id: int):
    """Deactivate a member (she gets no reminders and cannot report) or bring her back."""
    member = _own_member(member_id)
    active = request.form.get("active") == "1"
    if member.id == g.viewer.member.id and not active:
        flash(("flash.not_yourself", {}), "error")
        return redirect(url_for("dashboard.members"))
    with unit_of_work(puntada().engine) as work:
        work.get(Member, member.id).active = active
    flash(("flash.member_active" if active else "flash.member_inactive", {"name": member.name}))
    return redirect(url_for("dashboard.members"))


@blueprint.get("/messages")
@coordinators_only
def messages():
    """Messages waiting for the coordinator (not understood, questions, news, voice notes and
    photos), and what the bot sent and whether it arrived."""
    return _messages_page(errors={})


def _messages_page(*, errors: dict, status: int = 200):
    cooperative = g.viewer.cooperative
    page = render_template(
        "messages.html",
        waiting=queries.waiting(session=db(), cooperative=cooperative),
        outbox=queries.recent_outbox(session=db(), cooperative=cooperative),
        orders=store.active_orders(session=db(), cooperative_id=cooperative.id),
        errors=errors,
    )
    return page, status


@blueprint.post("/messages/<id:message_id>/handled")
@coordinators_only
def mark_handled(message_id: int):
    """The coordinator dealt with this message herself."""
    _own_message(message_id)
    with unit_of_work(puntada().engine) as work:
        work.get(InboundMessage, message_id).handled = True
    flash(("flash.handled", {}))
    return redirect(url_for("dashboard.messages"))


@blueprint.post("/messages/<id:message_id>/record")
@coordinators_only
def record_for_her(message_id: int):
    """Record the pieces she meant, on the order chosen, and mark her message handled."""
    message = _own_message(message_id)
    pieces = _whole(request.form.get("pieces", ""))
    order_id = _whole(request.form.get("order", ""))
    cooperative = g.viewer.cooperative
    active = {o.id: o for o in store.active_orders(session=db(), cooperative_id=cooperative.id)}
    member = db().get(Member, message.member_id) if message.member_id else None
    errors = {}
    if member is None or not member.active:
        errors["member"] = "record_no_member"
    if pieces is None or not 1 <= pieces <= MAX_PIECES:
        errors["pieces"] = "pieces"
    if order_id not in active:
        errors["order"] = "record_order"
    if errors:
        return _messages_page(errors={message_id: errors}, status=400)
    moment = clock.now()
    # Her pieces belong to the day she sent them: a message of 29 November recorded on 1 December
    # is November's work, and November's pay.
    day = clock.today(cooperative, message.received_at)
    with unit_of_work(puntada().engine) as work:
        # Claim the message first: of a repeat (double click, back button, two coordinators) only one
        # records, and a message the bot understood (its pieces already counted) is never recorded again.
        claimed = work.execute(
            update(InboundMessage)
            .where(InboundMessage.id == message.id, InboundMessage.handled.is_(False),
                   InboundMessage.understood.is_(False))
            .values(handled=True)
            .returning(InboundMessage.id)
            .execution_options(synchronize_session=False)
        ).first()
        if claimed is not None:
            connection = work.connection()
            statements.record_report(
                connection, member=member, order=statements.order(connection, order_id), pieces=pieces,
                at=moment, day=day, source=Source.DASHBOARD,
                inbound_id=message.id, recorded_by_id=g.viewer.member.id,
            )
    if claimed is None:
        flash(("flash.already_handled", {}), "error")
        return _messages_page(errors={}, status=409)
    flash(("flash.recorded", {"pieces": pieces, "name": member.name, "code": active[order_id].code}))
    return redirect(url_for("dashboard.messages"))


@blueprint.get("/messages/<id:message_id>/media/<int:position>")
@coordinators_only
def medium(message_id: int, position: int):
    """A voice note, photo or video a member sent, fetched from Twilio with the account's
    credentials (they never reach the browser), shown in the page; other files are downloaded."""
    message = _own_message(message_id)
    item = db().get(InboundMedia, (message.id, position)) if position < MAX_MEDIA else None
    if item is None:
        abort(404)
    try:
        fetched = channels.fetch_media(puntada().settings, item.url)
    except channels.MediaError as error:
        log.warning("medium %s/%s not shown: %s", message.id, position, error.reason)
        return Response(error.reason + "\n", status=error.status, mimetype="text/plain")
    kind = fetched.content_type.split(";")[0].strip().lower()
    inline = kind.split("/")[0] in ("audio", "image", "video") and kind != "image/svg+xml"
    response = Response(fetched.content, mimetype=kind if inline else "application/octet-stream")
    response.headers["Content-Disposition"] = (
        "inline" if inline else f'attachment; filename="mensaje-{message.id}-{position}"')
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.get("/pay")
@coordinators_only
def pay():
    """What each member earned in a month: pieces per order × the order's piece rate."""
    month, bad = _month(request.args.get("month"))
    rows = queries.pay(session=db(), cooperative=g.viewer.cooperative, month=month)
    total = sum((r.amount for r in rows), Decimal("0.00"))
    page = render_template("pay.html", month=month, rows=rows, total=total,
                           pieces=sum(r.pieces for r in rows), errors={"month": "month"} if bad else {})
    return page, 400 if bad else 200


@blueprint.get("/pay.csv")
@coordinators_only
def pay_csv():
    """The month's pay as CSV: month,member,phone,order,item,pieces,piece_rate,amount."""
    month, bad = _month(request.args.get("month"))
    if bad:
        return render_template("error.html", status=400, message="errors.month_csv"), 400
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "member", "phone", "order", "item", "pieces", "piece_rate", "amount"])
    for row in queries.pay(session=db(), cooperative=g.viewer.cooperative, month=month):
        for line in row.lines:
            rate = line.order.piece_rate
            writer.writerow([f"{month:%Y-%m}", _cell(row.member.name), row.member.phone,
                             _cell(line.order.code), _cell(line.order.item), line.pieces,
                             "" if rate is None else rate, "" if line.amount is None else line.amount])
    name = f"puntada-pay-{month:%Y-%m}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blueprint.get("/simulator")
@coordinators_only
def simulator():
    """A phone on the screen: write as any member and see what the bot answers."""
    return _simulator_page(_whole(request.args.get("member", "")), errors={})


def _simulator_page(member_id: int | None, *, errors: dict, status: int = 200):
    everyone = store.members(session=db(), cooperative_id=g.viewer.cooperative.id)
    chosen = next((m for m in everyone if m.id == member_id), everyone[0] if everyone else None)
    conversation = []
    if chosen is not None:
        query = (
            select(InboundMessage)
            .where(InboundMessage.member_id == chosen.id)
            .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
            .limit(CONVERSATION)
        )
        conversation = list(reversed(db().scalars(query).all()))
    page = render_template("simulator.html", members=everyone, chosen=chosen,
                           conversation=conversation, errors=errors)
    return page, status


@blueprint.post("/simulator")
@coordinators_only
def simulate():
    """Send the text as the member, through the same path as Twilio's webhook."""
    member_id = _whole(request.form.get("member", ""))
    body = request.form.get("body", "").strip()
    cooperative = g.viewer.cooperative
    member = db().get(Member, member_id) if member_id else None
    if member is None or member.cooperative_id != cooperative.id or not member.active:
        return _simulator_page(None, errors={"member": "simulator_member"}, status=400)
    if not body:
        return _simulator_page(member.id, errors={"body": "simulator_body"}, status=400)
    number = cooperative.whatsapp_number if member.channel == Channel.WHATSAPP else cooperative.sms_number
    receive(puntada().engine, Inbound(
        sid="SM" + uuid.uuid4().hex,
        sender=address_for(member.phone, member.channel),
        recipient=address_for(number, member.channel),
        body=body,
    ))
    return redirect(url_for("dashboard.simulator", member=member.id))


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: one starting like a formula gets a leading quote."""
    return f"'{text}" if text[:1] in FORMULA_STARTS else text


def _whole(text: str | None) -> int | None:
    """A whole number typed in ASCII digits (str.isdigit() also takes "²", which int() refuses)."""
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def _month(text: str | None) -> tuple[date, bool]:
    """?month=2026-11 → the 1st of that month; else this month (and whether the value was bad)."""
    this_month = clock.today(g.viewer.cooperative, clock.now()).replace(day=1)
    if not text:
        return this_month, False
    found = re.fullmatch(r"([0-9]{4})-([0-9]{2})", text.strip())
    if found is None or not FIRST_YEAR <= int(found.group(1)) <= LAST_YEAR:
        return this_month, True
    try:
        return date(int(found.group(1)), int(found.group(2)), 1), False
    except ValueError:
        return this_month, True


def _own_cooperative(session) -> Cooperative:
    return session.get(Cooperative, g.viewer.cooperative.id)


def _own_member(member_id: int) -> Member:
    member = db().get(Member, member_id)
    if member is None or member.cooperative_id != g.viewer.cooperative.id:
        abort(404)
    return member


def _own_message(message_id: int) -> InboundMessage:
    message = db().get(InboundMessage, message_id)
    if message is None or message.cooperative_id != g.viewer.cooperative.id:
        abort(404)
    return message
