"""Fixtures: an app on a fresh database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, SQLModel

from bot import clock, create_app, puntada
from bot.config import Settings
from bot.migrate import fresh_database, upgrade
from tests import factories

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config) -> None:
    """Under Debian's faketime, start the run again in a form Python's timers survive.

    faketime moves the wall clock of the whole run, every process it starts included, which
    is how a run on another day is tried. libfaketime 0.9.10 also moves CLOCK_MONOTONIC, and
    then every timed wait on a lock or condition (threading.Event.wait(5), so APScheduler's
    loop, Thread.join(3)) never returns. It reads FAKETIME_DONT_FAKE_MONOTONIC when a process
    starts, so the run starts again with it, and with tests/faketime/ on PYTHONPATH, whose
    sitecustomize mends the one call that setting breaks (time.sleep).
    """
    if "faketime" in os.environ.get("LD_PRELOAD", "") and "FAKETIME_DONT_FAKE_MONOTONIC" not in os.environ:
        config.pluginmanager.getplugin("capturemanager").suspend_global_capture(in_=True)
        mend = str(Path(__file__).parent / "faketime")
        path = os.pathsep.join(filter(None, [mend, os.environ.get("PYTHONPATH", "")]))
        env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": path}
        os.execve(sys.executable, sys.orig_argv, env)


def pytest_terminal_summary(terminalreporter) -> None:
    """The understanding scores of tests/test_corpus.py, with every miss, at the end of the run."""
    from tests.test_corpus import SCORES, summary

    for line in summary(SCORES):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "puntada.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated once, dropped at the end."""
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with fresh_database(TEST_DATABASE_URL, prefix="puntada_test") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "puntada.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    _truncate(url)


def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(instance=str(tmp_path / "instance"), database_url=database_url, secret_key="test-secret",
                    messaging_backend="console",
                    spool_dir=str(tmp_path / "spool"))


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config.update(TESTING=True)
    yield app
    app.extensions["puntada"].engine.dispose()


@pytest.fixture
def signed_app(settings):
    """The app with TWILIO_AUTH_TOKEN set: every webhook must be signed."""
    app = create_app(replace(settings, twilio_auth_token="test-token", twilio_account_sid="AC" + "0" * 32))
    app.config.update(TESTING=True)
    yield app
    app.extensions["puntada"].engine.dispose()


@pytest.fixture
def engine(app):
    with app.app_context():
        return puntada().engine


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session for looking at what was stored (expire_on_commit off, fresh reads)."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def club(engine):
    """The story's club: a coordinator, three embroiderers, an exporter, order A for all."""
    return factories.club(engine)


@pytest.fixture
def now() -> datetime:
    """A Thursday evening in El Alto (2026-11-26 18:00 -04:00)."""
    return datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


@pytest.fixture
def frozen(now) -> Iterator[Callable[[datetime], None]]:
    """The whole program's clock stands at the story's moment; `frozen(at)` moves it to `at`."""
    clock.freeze(now)
    yield clock.freeze
    clock.reset()


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    """Every test starts and ends on the real clock, whatever it moved."""
    clock.reset()
    yield
    clock.reset()
