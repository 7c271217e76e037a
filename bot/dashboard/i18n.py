"""The dashboard's words: templates/web/strings/<language>.toml, looked up by key in templates."""

from __future__ import annotations

import tomllib
from functools import cache

from flask import g, session

from bot import languages, resources

STRINGS = resources.templates() / "web" / "strings"
LANGUAGES = tuple(code for code in languages.codes() if (STRINGS / f"{code}.toml").exists())


@cache
def strings(language: str) -> dict[str, str]:
    """Every string of one language, with dotted keys ('login.title')."""
    with open(STRINGS / f"{language}.toml", "rb") as source:
        return _flatten(tomllib.load(source))


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def language() -> str:
    """The language of this request: the one chosen in the session, Spanish by default."""
    if "lang" not in g:
        chosen = session.get("lang")
        g.lang = chosen if chosen in LANGUAGES else LANGUAGES[0]
    return g.lang


def t(key: str, /, **values) -> str:
    """The text for `key` in the request's language, with {placeholders} filled in."""
    text = strings(language())[key]
    return text.format(**values) if values else text
