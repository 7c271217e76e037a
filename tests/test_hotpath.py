"""The hot path and the handlers answer alike: same replies, rows and queued notices.

The evening's common messages ("20", "A 5", "total", …) skip the ORM (bot/hotpath.py);
everything else goes through handlers/. The same story is told twice on fresh databases,
once as it runs and once with the hot path switched off, and what each leaves behind must
be the same, down to every stored reply, report, running total and outbox row.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlmodel import Session

from bot import create_app, hotpath, puntada
from bot.db import unit_of_work
from bot.models import Cooperative, InboundMessage, Member, Order, Outbox, Report
from tests import factories as f
from tests.conftest import _truncate
from tests.factories import ELENA, EXPORTER_CONTACT, JUANA, LIDIA, ROSA

STRANGER = "+59179999999"


def story(engine, now) -> list[str]:
    """An evening at the club: every kind of message the hot path takes, and its neighbours."""
    club = f.club(engine)
    f.order(engine, club, code="B", quantity=1_000, assign=LIDIA)
    f.order(engine, club, code="C", quantity=40, assign=LIDIA)  # small: milestones and completion
    with unit_of_work(engine) as session:
        session.get(Cooperative, club.cooperative.id).flood_limit = 6
    said = [
        (ROSA, "20"), (ROSA, "hice 12 blusas"), (ROSA, "ya termine quince"), (ROSA, "A 5"),
        (LIDIA, "C 12"), (LIDIA, "C 30"), (ROSA, "total"), (ROSA, "cuanto llevo?"),
        (LIDIA, "20"), (LIDIA, "A 10 B 5"), (LIDIA, "B 7"), (LIDIA, "Z 5"), (LIDIA, "me faltan 10"),
        (LIDIA, "0"), (LIDIA, "1,5"), (LIDIA, "ayuda"), (LIDIA, "hola"), (LIDIA, "estado"),
        (f"whatsapp:{ELENA}", "10"), (f"whatsapp:{ELENA}", "total"), (ELENA, "help"),
        (ELENA, "350"), (ELENA, "si"), (ELENA, "12"), (ELENA, "corregir 8"), (ELENA, "borrar"),
        (ELENA, "400"), (ELENA, "25"),  # a held count dropped when she moves on
        (JUANA, "20"), (JUANA, "ayuda"), (JUANA, "resumen"),
        (EXPORTER_CONTACT, "estado"), (STRANGER, "hola"), (ROSA, "baja"), (ROSA, "5"),
    ]
    replies = [f.text(engine, sender, body, at=now + timedelta(minutes=2 * i), sid=f"SM{i:032d}")
               for i, (sender, body) in enumerate(said)]
    later = now + timedelta(hours=2)
    replies += [f.text(engine, ROSA, str(n), at=later + timedelta(seconds=n), sid=f"SM9{n:031d}")
                for n in range(1, 10)]  # past the flood limit: no replies, her reports count
    replies.append(f.text(engine, ROSA, "99", at=now + timedelta(hours=1), sid=f"SM{3:032d}"))  # a retry
    return replies


def snapshot(engine) -> dict:
    """What the story left behind, without ids (the two runs number their rows alike anyway)."""
    with Session(engine) as session:
        phones = dict(session.execute(select(Member.id, Member.phone)).all())
        codes = dict(session.execute(select(Order.id, Order.code)).all())
        sids = dict(session.execute(select(InboundMessage.id, InboundMessage.message_sid)).all())
        return {
            "inbound": [(m.message_sid, m.sender, m.channel, m.body, m.intent, m.understood, m.reply,
                         phones.get(m.member_id), m.cooperative_id, m.received_at)
                        for m in session.scalars(select(InboundMessage).order_by(InboundMessage.id))],
            "reports": [(phones[r.member_id], codes[r.order_id], r.pieces, r.status, r.at, r.local_date,
                         r.source, sids.get(r.inbound_id), r.replaces_id is not None)
                        for r in session.scalars(select(Report).order_by(Report.id))],
            "orders": [(o.code, o.done, o.status) for o in session.scalars(select(Order).order_by(Order.id))],
            "outbox": [(o.key, o.recipient, o.channel, o.kind, o.body, o.content_variables, o.status)
                       for o in session.scalars(select(Outbox).order_by(Outbox.id))],
            "members": [(m.phone, m.opted_out, m.language, m.last_inbound_at)
                        for m in session.scalars(select(Member).order_by(Member.id))],
        }


def fresh_engine(settings, tmp_path, sqlite_template):
    """A second, empty database like the test's own."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = tmp_path / "again.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        _truncate(url)
    app = create_app(replace(settings, database_url=url))
    with app.app_context():
        return puntada().engine


def test_the_hot_path_leaves_what_the_handlers_leave(
    engine, settings, tmp_path, sqlite_template, now, monkeypatch
):
    taken = []
    answer = hotpath.answer
    monkeypatch.setattr(hotpath, "answer", lambda *a: taken.append(1) or answer(*a))
    fast_replies = story(engine, now)
    fast = snapshot(engine)
    assert len(taken) > 20  # the story did go through the hot path

    monkeypatch.setattr(hotpath, "answer", lambda *a: None)
    engine.dispose()
    slow_engine = fresh_engine(settings, tmp_path, sqlite_template)
    slow_replies = story(slow_engine, now)
    slow = snapshot(slow_engine)
    slow_engine.dispose()

    assert fast_replies == slow_replies
    for table in fast:
        assert fast[table] == slow[table], table


@pytest.mark.parametrize("body, intent", [("20", "report"), ("total", "status"), ("ayuda", "help"),
                                          ("hola", "unknown"), ("A 5", "report")])
def test_an_embroiderers_common_message_takes_the_hot_path(engine, club, now, body, intent, monkeypatch):
    answers = []
    answer = hotpath.answer
    monkeypatch.setattr(hotpath, "answer", lambda *a: answers.append(answer(*a)) or answers[-1])
    f.text(engine, ROSA, body, at=now)
    assert answers[0] is not None and answers[0].intent == intent


@pytest.mark.parametrize("sender, body", [(JUANA, "20"), (ROSA, "350"), (ROSA, "corregir 5"),
                                          (EXPORTER_CONTACT, "estado"), (STRANGER, "20"), (ROSA, "baja")])
def test_the_rest_goes_to_the_handlers(engine, club, now, sender, body, monkeypatch):
    answers = []
    answer = hotpath.answer
    monkeypatch.setattr(hotpath, "answer", lambda *a: answers.append(answer(*a)) or answers[-1])
    f.text(engine, sender, body, at=now)
    assert answers == [None]


def test_her_held_count_committed_while_she_waited_for_her_row_is_not_missed(database_url, engine, club, now):
    """"350" and "20" at the same moment: "20" waits for her row, then must see "350" held
    (and drop it, as she moved on) though it was committed after "20" started reading."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: nothing is read while another writes")
    with engine.connect() as connection:
        writing = connection.begin()
        connection.execute(text("SELECT id FROM member WHERE id = :id FOR UPDATE"), {"id": club.rosa.id})
        connection.execute(insert(Report).values(
            cooperative_id=club.cooperative.id, member_id=club.rosa.id, order_id=club.order.id, pieces=350,
            status="held", at=now, local_date=now.date(), source="sms"))
        replies = []
        second = threading.Thread(target=lambda: replies.append(f.text(engine, ROSA, "20", at=now)))
        second.start()
        _until_one_waits_for_a_lock(engine)
        writing.commit()
    second.join(10)
    assert replies == ["Rosa, anoté 20 en el pedido A. Tu mes: 20. Pedido A: 20/15.000 (0 %)"]
    assert f.reports(engine, club.rosa.id) == [("A", 350, "cancelled"), ("A", 20, "accepted")]


def _until_one_waits_for_a_lock(engine) -> None:
    deadline = time.monotonic() + 10
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()")).scalar_one()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second message never waited for her row")


@pytest.mark.parametrize("body", ["B 5 A 10", "A 10 B 5"])
@pytest.mark.parametrize("fast", [True, False], ids=["hot path", "handlers"])
def test_two_orders_in_one_message_lock_them_in_one_order(database_url, engine, club, now, body, fast,
                                                         monkeypatch):
    """Another transaction holds order A and is about to take B: her "B 5 A 10" must wait for A
    before touching B, or PostgreSQL finds a deadlock and aborts one of the two."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: nothing else holds a row")
    if not fast:
        monkeypatch.setattr(hotpath, "answer", lambda *a: None)
    order_b = f.order(engine, club, code="B", assign=LIDIA)
    with engine.connect() as connection:
        other = connection.begin()
        connection.execute(text("SET LOCAL lock_timeout = '3s'"))
        connection.execute(text("UPDATE orders SET done = done WHERE id = :id"), {"id": club.order.id})
        replies = []
        second = threading.Thread(target=lambda: replies.append(f.text(engine, LIDIA, body, at=now)))
        second.start()
        _until_one_waits_for_a_lock(engine)
        connection.execute(text("UPDATE orders SET done = done WHERE id = :id"), {"id": order_b.id})
        other.commit()
    second.join(10)
    assert replies and replies[0].startswith("Lidia, anoté ")
    assert (f.done(engine, club.order.id), f.done(engine, order_b.id)) == (10, 5)
