"""Puntada's tests: the stories of its users, on SQLite and PostgreSQL."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout the tests run in
