"""The database down or locked when a message arrives: kept on disk, recorded later, once."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot import Puntada, create_app, spool
from bot.db import make_engine
from bot.models import InboundMessage, Report
from tests import factories as f
from tests.factories import ROSA
from tests.test_webhook import form, message_of

SPOOLED = "Recibimos tu mensaje. Lo anotamos en unos minutos y te confirmamos por SMS."


@pytest.fixture
def down_app(settings):
    """The same app, spool and all, while its database does not answer."""
    app = create_app(replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/gone"))
    yield app
    app.extensions["puntada"].engine.dispose()


def test_a_message_while_the_database_is_down_is_kept_and_recorded_once_it_is_back(
    app, down_app, engine, club, settings
):
    directory = Path(settings.spool_dir)
    client = app.test_client()
    first = client.post("/twilio/messages", data=form(body="10", sid="SM" + "1" * 32))
    assert message_of(first).startswith("Rosa, anoté 10")
    # The database goes away mid-run.
    down = down_app.test_client()
    for body, sid in (("hice 20", "SM" + "2" * 32), ("5", "SM" + "3" * 32)):
        assert message_of(down.post("/twilio/messages", data=form(body=body, sid=sid))) == SPOOLED
    assert f.count(engine, InboundMessage) == 1
    assert len((directory / spool.SPOOL).read_text().splitlines()) == 2
    # A replay while it is still down loses nothing.
    assert spool.replay(down_app.extensions["puntada"].engine, directory) == spool.Replayed(left=2)
    # Back: the spool job records both, once, and tells Rosa what it recorded.
    assert spool.replay(engine, directory) == spool.Replayed(recorded=2)
    assert spool.replay(engine, directory) == spool.Replayed()
    assert f.reports(engine) == [("A", 10, "accepted"), ("A", 20, "accepted"), ("A", 5, "accepted")]
    assert [(to, kind) for to, kind, _ in f.outbox(engine)] == [(ROSA, "reply"), (ROSA, "reply")]
    assert f.outbox(engine)[0][2] == "Rosa, anoté 20 en el pedido A. Tu mes: 30. Pedido A: 30/15.000 (0 %)"
    # Twilio sending the same message again after all this counts nothing.
    client.post("/twilio/messages", data=form(body="hice 20", sid="SM" + "2" * 32))
    assert f.done(engine, club.order.id) == 35
    assert list(directory.glob("*.jsonl")) == []


def test_a_locked_sqlite_database_spools_too(app, engine, club, settings, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    app.extensions["puntada"] = Puntada(settings, make_engine(database_url, busy_timeout_ms=200))
    blocker = sqlite3.connect(make_url(database_url).database, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        reply = message_of(app.test_client().post("/twilio/messages", data=form(body="hice 20")))
    finally:
        blocker.rollback()
        blocker.close()
    assert reply == SPOOLED
    assert spool.replay(engine, Path(settings.spool_dir)) == spool.Replayed(recorded=1)
    assert f.reports(engine) == [("A", 20, "accepted")]


def test_a_replay_that_died_halfway_is_taken_up_again(engine, club, settings, now):
    directory = Path(settings.spool_dir)
    for i in range(3):
        spool.append(directory, spool.Inbound(f"SM{i:032d}", ROSA, f.COOP_NUMBER, str(4 + i), now))
    spool._take(directory)  # a replay took the file, then its process was killed
    f.text(engine, ROSA, "4", at=now, sid=f"SM{0:032d}")  # and it had recorded the first one
    assert spool.replay(engine, directory) == spool.Replayed(recorded=2, repeated=1)
    assert f.count(engine, Report) == 3
