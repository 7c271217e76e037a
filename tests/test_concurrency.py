"""Two transactions at once on PostgreSQL: her messages one after the other, orders locked in one order.

SQLite runs one writer at a time, so nothing is read while another writes; PostgreSQL lets
them run together, and these stories hold another transaction open to show what the second
message sees and waits for.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import insert, text

from bot.models import Report
from tests import factories as f
from tests.factories import LIDIA, ROSA


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


@pytest.mark.parametrize("body", ["B 5 A 10", "A 10 B 5"])
def test_two_orders_in_one_message_lock_them_in_one_order(database_url, engine, club, now, body):
    """Another transaction holds order A and is about to take B: her "B 5 A 10" must wait for A
    before touching B, or PostgreSQL finds a deadlock and aborts one of the two."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: nothing else holds a row")
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
