"""Coordinators' commands: 'resumen', 'faltan', 'aviso', 'nueva', 'anotar'."""

from __future__ import annotations

import unicodedata

from rapidfuzz import fuzz, process

from bot import languages, outbox, overview, statements, store
from bot.models import Channel, Member, Role, Source
from bot.parsing import Intent
from bot.phones import BadPhone, to_e164
from bot.render import render, segments, septets
from handlers.context import Context, Reply, first_name, progress, puzzled, reply, standing
from handlers.report import choose_order, day_of, when

MAX_BROADCAST_SEGMENTS = 2  # what each member pays for one notice, the club's name included
MAX_NAMES = 12  # "faltan" lists this many names, then "and N more"


def help(context: Context, intent: Intent) -> Reply:
    """The coordinator's commands, with examples."""
    return reply("help_coordinator")


def summary(context: Context, intent: Intent) -> Reply:
    """Progress and pace per active order, pieces today, silent members."""
    orders = context.orders
    silent = overview.silent_members(
        session=context.session, cooperative=context.cooperative, orders=orders, today=context.today
    )
    today = store.pieces_on(
        session=context.session, cooperative_id=context.cooperative.id, day=context.today
    )
    lines = [{**progress(o), "pace": standing(context, o)} for o in orders]
    return reply("summary", day=context.today, today=today, orders=lines, silent=len(silent))


def missing(context: Context, intent: Intent) -> Reply:
    """Who has work assigned and has not reported today."""
    reported = store.reported_on(
        session=context.session, cooperative_id=context.cooperative.id, day=context.today
    )
    working = overview.working_members(
        session=context.session, cooperative=context.cooperative, orders=context.orders
    )
    names = [m.name for m in working if m.id not in reported]
    return reply("missing", names=names[:MAX_NAMES], more=max(len(names) - MAX_NAMES, 0),
                 count=len(names))


def broadcast(context: Context, intent: Intent) -> Reply:
    """Queue the text to every active member who has not opted out."""
    coop = context.cooperative.name
    # Measured as each member gets it: in her language's template, with the club's name.
    codes = languages.codes()
    cost = max(segments(render("broadcast", code, coop=coop, text=intent.text)) for code in codes)
    if cost > MAX_BROADCAST_SEGMENTS:
        framing = max(septets(render("broadcast", code, coop=coop, text="")) + 1 for code in codes)
        room = MAX_BROADCAST_SEGMENTS * 153 - framing  # 153 characters a segment in a long SMS
        return puzzled("broadcast_too_long", length=len(intent.text), limit=room)
    sender = context.member
    queued = 0
    for member in store.members(session=context.session, cooperative_id=context.cooperative.id):
        if member.id == sender.id or member.opted_out:
            continue
        queued += outbox.queue_for_member(
            session=context.session,
            member=member,
            key=f"broadcast:{context.inbound.message_sid}:{member.id}",
            kind="broadcast",
            template="broadcast",
            coop=context.cooperative.name,
            text=intent.text,
        )
    return reply("broadcast_queued", count=queued)


def add_member(context: Context, intent: Intent) -> Reply:
    """Register a new embroiderer and welcome her."""
    try:
        phone = to_e164(intent.phone, context.cooperative.country)
    except BadPhone:
        return puzzled("bad_phone", phone=intent.phone)
    existing = store.member_by_phone(
        session=context.session, cooperative_id=context.cooperative.id, phone=phone
    )
    if existing is not None:
        return puzzled("member_exists", name=existing.name, phone=phone)
    member = Member(
        cooperative_id=context.cooperative.id,
        name=" ".join(intent.text.split())[:120],
        phone=phone,
        role=Role.EMBROIDERER,
        language=context.cooperative.language,
        channel=Channel.SMS,
    )
    context.session.add(member)
    context.session.flush()
    outbox.queue_for_member(
        session=context.session,
        member=member,
        key=f"welcome:{member.id}",
        kind="welcome",
        template="welcome",
        name=first_name(member),
        coop=context.cooperative.name,
    )
    return reply("member_added", name=member.name, phone=phone)


def record(context: Context, intent: Intent) -> Reply:
    """Record pieces for a member who told the coordinator in person ('anotar Rosa 20 ayer')."""
    found = find_member(context, intent.text)
    if isinstance(found, Reply):
        return found
    her = statements.member(context.connection, cooperative_id=context.cooperative.id, phone=found.phone)
    assigned = statements.active_orders(context.connection, cooperative_id=context.cooperative.id, member=her)
    chosen = []
    for item in intent.items:
        order = choose_order(item.code, context.orders, [o for o in assigned if o.mine
                                                          and (not item.choices or o.code in item.choices)])
        if isinstance(order, list):
            if not order:
                return puzzled("no_orders")
            return puzzled("which_order_for", name=found.name, codes=order, pieces=item.pieces)
        chosen.append((item.pieces, order, day_of(context, item)))
    for pieces, order, day in chosen:
        context.record(her, order, pieces, source=Source.COORDINATOR, recorded_by_id=context.member.id,
                       day=day)
    return reply(
        "recorded_for",
        name=found.name,
        items=[{"pieces": pieces, **progress(order), **when(context, day)} for pieces, order, day in chosen],
        month=context.month_total(her),
    )


def find_member(context: Context, who: str) -> Member | Reply:
    """The one member meant by a phone, a full name, a first name or a near spelling."""
    cooperative = context.cooperative
    everyone = store.members(session=context.session, cooperative_id=cooperative.id)
    if any(ch.isdigit() for ch in who):
        try:
            phone = to_e164(who, cooperative.country)
        except BadPhone:
            return puzzled("bad_phone", phone=who)
        matches = [m for m in everyone if m.phone == phone]
    else:
        matches = _by_name(everyone, who)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        return puzzled("member_not_found", who=who)
    return puzzled("member_ambiguous", names=[m.name for m in matches[:4]])


def _by_name(everyone: list[Member], who: str) -> list[Member]:
    wanted = _fold(who)
    for match in (
        lambda m: _fold(m.name) == wanted,
        lambda m: _fold(m.name).startswith(wanted + " "),
        lambda m: wanted in _fold(m.name).split(),
    ):
        found = [m for m in everyone if match(m)]
        if found:
            return found
    names = {m.id: _fold(m.name) for m in everyone}
    scored = process.extract(wanted, names, scorer=fuzz.token_set_ratio, score_cutoff=85)
    best = max((score for _, score, _ in scored), default=0)
    ids = {key for _, score, key in scored if score == best}
    return [m for m in everyone if m.id in ids]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())
