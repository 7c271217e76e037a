"""Alembic, driven from code: `puntada db upgrade` and the tests use the same migrations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import resources


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for this project and database: the migrations shipped inside
    the package (bot.migrations), wherever Puntada is installed."""
    config = Config()
    config.set_main_option("script_location", str(resources.migrations()))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


@contextmanager
def fresh_database(server_url: str, *, prefix: str = "puntada") -> Iterator[str]:
    """A new PostgreSQL database on `server_url`'s server, migrated, dropped afterwards
    (for tests and benchmarks that must start from nothing)."""
    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
