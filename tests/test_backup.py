"""The restore drill: back up a working club, restore it elsewhere, and carry on from it."""

from __future__ import annotations

import subprocess
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.backup import libpq_url
from bot.db import make_engine
from bot.models import InboundMessage, Outbox, Report
from tests import factories as f
from tests.factories import JUANA, LIDIA, ROSA


def test_backup_and_restore_keep_every_report(engine, club, now, runner, tmp_path, database_url):
    f.text(engine, ROSA, "hice 20", at=now)
    f.text(engine, LIDIA, "35", at=now)
    f.text(engine, JUANA, "aviso Reunion el lunes", at=now)
    target = tmp_path / "puntada.backup"
    result = runner.invoke(args=["db", "backup", str(target)])
    assert result.output == f"backup written to {target}\n"
    restored_url = _restore(database_url, target, tmp_path)
    restored = make_engine(restored_url)
    try:
        for model in (Report, InboundMessage, Outbox):
            assert f.count(restored, model) == f.count(engine, model)
        assert f.done(restored, club.order.id) == 55
        # The restored database takes the next message as if nothing had happened.
        reply = f.text(restored, ROSA, "5", at=now)
        assert reply == "Rosa, anoté 5 en el pedido A. Tu mes: 25. Pedido A: 60/15.000 (0 %)"
    finally:
        restored.dispose()
        _drop(database_url, restored_url)


def test_backup_refuses_to_overwrite(runner, tmp_path):
    target = tmp_path / "exists.backup"
    target.write_text("keep me")
    result = runner.invoke(args=["db", "backup", str(target)])
    assert result.exit_code == 1
    assert result.output == f"Error: {target} exists; choose a new file name\n"
    assert target.read_text() == "keep me"


def _restore(database_url: str, backup, tmp_path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{backup}"  # the backup is itself a database: copy it into place
    name = f"puntada_restore_{uuid.uuid4().hex[:8]}"
    _admin(database_url, f'CREATE DATABASE "{name}"')
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq_url(url)}", str(backup)], check=True)
    return url


def _drop(database_url: str, restored_url: str) -> None:
    if not database_url.startswith("sqlite"):
        _admin(database_url, f'DROP DATABASE IF EXISTS "{make_url(restored_url).database}" WITH (FORCE)')


def _admin(database_url: str, statement: str) -> None:
    engine = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()
