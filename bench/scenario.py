"""The benchmark's world: fresh databases, cooperatives with many members, signed webhooks.

Seeding goes through bot.admin for what has rules (cooperatives, buyers, orders) and
through bulk SQL for what there is a lot of (members, a million past reports).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from bot import admin, clock
from bot.db import make_engine, unit_of_work
from bot.migrate import fresh_database, upgrade
from bot.models import Assignment, Member, Role

AUTH_TOKEN = "bench-token"
ACCOUNT_SID = "AC" + "b" * 32
PUBLIC_BASE_URL = "https://bot.example.org"
WEBHOOK_URL = f"{PUBLIC_BASE_URL}/twilio/messages"
PG_SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def coop_number(k: int) -> str:
    return f"+591{62000100 + k}"


def member_phone(k: int, i: int) -> str:
    return f"+591{70000000 + k * 10_000 + i}"


@dataclass(frozen=True)
class World:
    ids: list[int]  # each cooperative's id
    numbers: list[str]  # each cooperative's number
    phones: list[list[str]]  # each cooperative's embroiderers
    on_b: set[str]  # phones also assigned to order B (a bare "20" gets "which order?")


def seed(url: str, *, cooperatives: int = 1, members: int = 500, with_b: bool = True) -> World:
    """`cooperatives` clubs of `members` embroiderers and two coordinators; order A for all,
    order B assigned to one member in five."""
    engine = make_engine(url)
    ids, numbers, phones, on_b = [], [], [], set()
    with unit_of_work(engine) as session:
        admin.add_buyer(session=session, name="Andes Export", contacts=("+59172200001",), language="es",
                        region="BO")
        for k in range(cooperatives):
            coop = admin.add_cooperative(session=session, name=f"Club {k}", number=coop_number(k))
            rows = [dict(cooperative_id=coop.id, name=f"Coordinadora {k}-{c}",
                         phone=member_phone(k, 9000 + c),
                         role=Role.COORDINATOR, language="es", channel="sms", opted_out=False, active=True,
                         created_at=clock.now()) for c in range(2)]
            club = [member_phone(k, i) for i in range(members)]
            rows += [dict(cooperative_id=coop.id, name=f"Bordadora {i} Mamani", phone=p,
                          role=Role.EMBROIDERER, language="es" if i % 7 else "en", channel="sms",
                          opted_out=False, active=True, created_at=clock.now()) for i, p in enumerate(club)]
            session.execute(insert(Member), rows)
            admin.add_order(session=session, cooperative=coop, buyer_name="Andes Export", code="A",
                            item="blusas", quantity=60_000, due="2027-12-23", assign="all")
            if with_b:
                order_b = admin.add_order(session=session, cooperative=coop, buyer_name="Andes Export",
                                          code="B", item="manteles", quantity=20_000, due="2027-12-15",
                                          assign=club[0])
                ids = session.execute(text("SELECT id, phone FROM member WHERE cooperative_id = :c"),
                                      {"c": coop.id}).all()
                chosen = {i for i, p in ids if p in set(club[::5])}
                session.execute(insert(Assignment), [dict(order_id=order_b.id, member_id=i)
                                                     for i in chosen - {_id(ids, club[0])}])
                on_b |= set(club[::5])
            ids.append(coop.id)
            numbers.append(coop.sms_number)
            phones.append(club)
    engine.dispose()
    return World(ids, numbers, phones, on_b)


def _id(rows, phone):
    return next(i for i, p in rows if p == phone)


def add_past_reports(url: str, count: int) -> None:
    """`count` accepted reports spread over the past year, in one INSERT … SELECT (SQLite)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=OFF")  # loading only; the benchmark runs FULL
        first, last = connection.execute(text("SELECT min(id), max(id) FROM member")).one()
        order = connection.execute(text("SELECT id, cooperative_id FROM orders WHERE code = 'A'")).first()
        connection.execute(text("""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1)
            INSERT INTO report (cooperative_id, member_id, order_id, pieces, status, at, local_date, source)
            SELECT :coop, :first + i % (:last - :first + 1), :order, 1 + i % 20, 'accepted',
                   datetime('now', '-' || (i % 365) || ' days', '-4 hours'),
                   date('now', '-4 hours', '-' || (i % 365) || ' days'), 'sms'
            FROM n
        """), dict(count=count, coop=order.cooperative_id, first=first, last=last, order=order.id))
        connection.execute(text(
            "UPDATE orders SET done = (SELECT coalesce(sum(pieces), 0) FROM report "
            "WHERE order_id = orders.id "
            "AND status = 'accepted')"))
        rebuild_totals(connection)
    engine.dispose()


def rebuild_totals(connection) -> None:
    """Fill whatever running totals the schema keeps from the reports (after bulk loading)."""
    tables = set(connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
    if "member_month" in tables:
        connection.execute(text("DELETE FROM member_month"))
        connection.execute(text("""
            INSERT INTO member_month (member_id, month, pieces)
            SELECT member_id, substr(local_date, 1, 7) || '-01', sum(pieces) FROM report
            WHERE status = 'accepted' GROUP BY member_id, substr(local_date, 1, 7)
        """))


# --- databases ----------------------------------------------------------------------------


@contextmanager
def sqlite_template(builder) -> Iterator[str]:
    """A migrated SQLite file that `builder(url)` fills once; copies are handed out with copy_of."""
    folder = Path(tempfile.mkdtemp(prefix="puntada-bench-"))
    url = f"sqlite:///{folder / 'template.db'}"
    upgrade(url)
    world = builder(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    try:
        yield url, world
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def copy_of(template_url: str) -> Iterator[str]:
    """A fresh copy of a template database for one run."""
    source = Path(make_url(template_url).database)
    target = source.with_name(f"run-{uuid.uuid4().hex[:8]}.db")
    shutil.copy(source, target)
    try:
        yield f"sqlite:///{target}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new PostgreSQL database on the local server, migrated, dropped afterwards."""
    with fresh_database(PG_SERVER, prefix="puntada_bench") as url:
        yield url


def durability(url: str) -> str:
    """What the server's commits promise, as the benchmark saw it."""
    engine = make_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            result = f"journal_mode={mode}, synchronous={names[level]}"
        else:
            sync = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            fsync = connection.exec_driver_sql("SHOW fsync").scalar()
            result = f"synchronous_commit={sync}, fsync={fsync}"
    engine.dispose()
    return result


# --- the load -----------------------------------------------------------------------------

WORDS = ["uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once",
         "doce", "trece", "catorce", "quince"]


def body_for(rng: random.Random, phone: str, world: World) -> str:
    """One message as members really send them (codes where she has two orders)."""
    n = rng.randint(1, 30)
    roll = rng.random()
    if phone in world.on_b:
        forms = [f"A {n}", f"B {n}", f"{n}A", f"pedido B {n}", f"A {n} B {rng.randint(1, 9)}",
                 f"hice {n} blusas", "total", f"hice {n} blusas y {rng.randint(1, 9)} manteles"]
        return rng.choice(forms)
    if roll < 0.35:
        return str(n)
    if roll < 0.50:
        return f"hice {n} blusas"
    if roll < 0.60:
        return f"ya termine {rng.choice(WORDS)}"
    if roll < 0.70:
        return f"buenas tardes hoy {n} pzs gracias"
    if roll < 0.78:
        return f"A {n}"
    if roll < 0.88:
        return rng.choice(["total", "cuanto llevo", "estado", "status"])
    if roll < 0.91:
        return rng.choice(["ayuda", "help", "?"])
    if roll < 0.95:  # the longer messages members write, clause after clause
        return rng.choice([f"buenas noches doña Juana, hoy hice {n} blusas, mañana le llevo. Bendiciones",
                           f"hice {n} ayer y {rng.randint(1, 9)} hoy", "cuando nos pagan?",
                           f"me dieron 40, termine {n}"])
    return rng.choice([f"{n} piezas", f"termine {n} piezas", f"hice {n}"])


def signed_requests(world: World, count: int, *, prefix: str, seed: int = 5) -> list[str]:
    """`count` webhooks as Twilio posts them, each "signature<TAB>form", distinct MessageSids."""
    rng = random.Random(seed)
    validator = RequestValidator(AUTH_TOKEN)
    everyone = [(number, phone) for number, club in zip(world.numbers, world.phones, strict=True)
                for phone in club]
    lines = []
    for i in range(count):
        number, phone = rng.choice(everyone)
        sid = "SM" + hashlib.md5(f"{prefix}{i}".encode()).hexdigest()
        sender = f"whatsapp:{phone}" if rng.random() < 0.1 else phone
        to = f"whatsapp:{number}" if sender.startswith("whatsapp:") else number
        form = {
            "ToCountry": "BO", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
            "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
            "Body": body_for(rng, phone, world), "FromCountry": "BO", "To": to, "ToZip": "",
            "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
            "ApiVersion": "2010-04-01",
        }
        lines.append(validator.compute_signature(WEBHOOK_URL, form) + "\t" + urlencode(form))
    return lines
