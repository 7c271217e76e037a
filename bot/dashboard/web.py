"""What every dashboard request shares: its database session and the viewer."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g
from sqlmodel import Session

from bot import puntada
from bot.dashboard.access import load_viewer


def db() -> Session:
    """This request's session for reading (writes go through unit_of_work)."""
    if "db" not in g:
        g.db = Session(puntada().engine, expire_on_commit=False)
    return g.db


def close_db(_error=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def load() -> None:
    """Before each dashboard request: who is looking."""
    g.viewer = load_viewer(db())


def no_store(response):
    """After each dashboard response: never kept by a browser or a proxy (a shared laptop's back button)."""
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site, never another origin (an open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
