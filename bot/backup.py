"""Backups while Puntada runs: SQLite's online backup, PostgreSQL's pg_dump."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup could not be made; the message says why in one line."""


def backup(database_url: str, target: Path) -> None:
    """Copy the whole database to `target`, consistently, without stopping anything."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _sqlite(Path(url.database), target)
    else:
        _postgresql(libpq_url(database_url), target)


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as the PostgreSQL tools read it (no '+psycopg')."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    # The online backup API copies a consistent snapshot while writers keep writing (WAL).
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


def _postgresql(url: str, target: Path) -> None:
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed (Debian: postgresql-client)")
    done = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", f"--dbname={url}"],
        capture_output=True, text=True, timeout=3600,
    )
    if done.returncode != 0:
        raise BackupError((done.stderr.strip().splitlines() or ["pg_dump failed"])[-1])
