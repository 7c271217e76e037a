"""SQLite's writers of one process share a transaction when they arrive together.

At 18:00 many messages wait for SQLite's single writer; `bot.db.together` runs those of one
process in one transaction with one fsync, each as if alone. These tests hold the first
writer inside its transaction while others arrive, then look at what was committed.
"""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from sqlalchemy import event, exc, text

from bot import db
from bot.db import make_engine, together


@pytest.fixture
def engine(sqlite_template, tmp_path):
    path = tmp_path / "puntada.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (word TEXT NOT NULL)")
    yield engine
    engine.dispose()


def commits(engine) -> list[int]:
    counted = [0]
    event.listen(engine, "commit", lambda _connection: counted.__setitem__(0, counted[0] + 1))
    return counted


def note(word: str):
    def work(connection):
        if word == "boom":
            raise ValueError("a bug in one message")
        connection.execute(text("INSERT INTO note (word) VALUES (:w)"), {"w": word})
        return word.upper()
    return work


def words(engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(text("SELECT word FROM note")).scalars())


def arriving_while_the_first_writes(engine, batch: list, *, leader: str = "first") -> dict:
    """Note `leader`, and while that is inside its transaction let every work of `batch`
    arrive; returns each name's result or error."""
    inside, release = threading.Event(), threading.Event()
    outcomes = {}

    def first(connection):
        inside.set()
        release.wait(5)
        return note(leader)(connection)

    def call(name, work):
        try:
            outcomes[name] = together(engine, work)
        except Exception as error:  # the test looks at which error reached which caller
            outcomes[name] = error

    threads = [threading.Thread(target=call, args=(leader, first))]
    threads[0].start()
    assert inside.wait(5)
    for name, work in batch:
        threads.append(threading.Thread(target=call, args=(name, work)))
        threads[-1].start()
    deadline = time.monotonic() + 5
    while len(db._groups[engine].pending) < len(batch) and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_writes_that_arrive_together_share_one_commit_and_each_gets_its_own_result(engine):
    counted = commits(engine)
    outcomes = arriving_while_the_first_writes(engine, [(w, note(w)) for w in ("rosa", "lidia", "elena")])
    assert outcomes == {"first": "FIRST", "rosa": "ROSA", "lidia": "LIDIA", "elena": "ELENA"}
    assert counted == [2]  # the first alone, then the three that waited, together
    assert words(engine) == ["elena", "first", "lidia", "rosa"]


def test_a_failing_write_fails_alone_and_the_others_are_committed(engine):
    outcomes = arriving_while_the_first_writes(engine, [(w, note(w)) for w in ("rosa", "boom", "elena")])
    assert isinstance(outcomes.pop("boom"), ValueError)
    assert outcomes == {"first": "FIRST", "rosa": "ROSA", "elena": "ELENA"}
    assert words(engine) == ["elena", "first", "rosa"]


def test_a_failing_statement_in_one_write_fails_that_write_alone(engine):
    def bad(connection):
        connection.exec_driver_sql("SELECT * FROM no_such_table")  # an OperationalError from SQLite

    outcomes = arriving_while_the_first_writes(engine, [("rosa", note("rosa")), ("bad", bad)])
    assert type(outcomes.pop("bad")).__name__ == "OperationalError"
    assert outcomes == {"first": "FIRST", "rosa": "ROSA"}
    assert words(engine) == ["first", "rosa"]


def test_when_the_commit_fails_every_write_waiting_with_it_hears_so(engine):
    failing = []

    @event.listens_for(engine, "commit")
    def disk_full(_connection):
        if failing:
            raise exc.OperationalError("COMMIT", None, Exception("database or disk is full"))

    def first_then_fail(connection):
        failing.append(True)  # the first write's own commit is what fails next
        return note("first")(connection)

    outcomes = arriving_while_the_first_writes(
        engine, [("first", first_then_fail), ("rosa", note("rosa"))], leader="lead")
    assert outcomes["lead"] == "LEAD"
    assert isinstance(outcomes["first"], exc.OperationalError)
    assert outcomes["rosa"] is outcomes["first"]  # the same failure, heard by both, not run again
    assert words(engine) == ["lead"]


def test_a_write_that_starts_another_inside_itself_is_refused_not_left_waiting(engine):
    def nested(connection):
        return together(engine, note("inner"))

    with pytest.raises(RuntimeError, match="inside a write"):
        together(engine, nested)
    assert together(engine, note("after")) == "AFTER"  # nothing is left held


def test_a_lone_write_is_its_own_transaction(engine):
    counted = commits(engine)
    assert together(engine, note("rosa")) == "ROSA"
    with pytest.raises(ValueError):
        together(engine, note("boom"))
    assert counted == [1] and words(engine) == ["rosa"]
