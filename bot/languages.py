"""The languages Puntada speaks, from templates/languages.toml: code, name, Babel locale,
date patterns, and the language each falls back to."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache

from bot import resources

DEFAULT = "es"


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    locale: str  # Babel's: how numbers and dates are written
    day: str  # Babel date pattern: "d MMM"
    day_with_year: str
    fallback: str  # "" for the default language

    def chain(self) -> list[str]:
        """This language, then each it falls back to, ending with the default."""
        codes, language = [self.code], self
        while language.fallback and language.fallback not in codes:
            codes.append(language.fallback)
            language = get(language.fallback)
        if DEFAULT not in codes:
            codes.append(DEFAULT)
        return codes


@cache
def registry() -> dict[str, Language]:
    """Every language, by code, in the file's order."""
    with (resources.templates() / "languages.toml").open("rb") as source:
        data = tomllib.load(source)
    return {
        code: Language(code=code, name=entry["name"], locale=entry["locale"], day=entry["day"],
                       day_with_year=entry.get("day_with_year", entry["day"]),
                       fallback=entry.get("fallback", "" if code == DEFAULT else DEFAULT))
        for code, entry in data.items()
    }


def codes() -> list[str]:
    """Every language's code: ['es', 'en', 'ay']."""
    return list(registry())


def get(code: str | None) -> Language:
    """The language with this code, or the default one."""
    return registry().get(code or DEFAULT) or registry()[DEFAULT]
