"""Alembic, driven from code: `puntada db upgrade` and the tests use the same migrations."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.config import ROOT


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for this project and database."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)
