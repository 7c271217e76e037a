"""Where the files shipped with Puntada are, installed or in a checkout: templates/ (SMS
texts, pages, catalogs, word lists, the language registry) and migrations/ are packaged as
bot.templates and bot.migrations (pyproject.toml's package-dir), so an installed `puntada`
finds them from any folder."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path


@cache
def templates() -> Path:
    """The templates/ folder."""
    return Path(str(files("bot.templates")))


@cache
def migrations() -> Path:
    """The migrations/ folder (Alembic's script location)."""
    return Path(str(files("bot.migrations")))
