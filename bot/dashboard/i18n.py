"""The dashboard's words in the reader's language: gettext catalogs through Flask-Babel.

The texts are in bot/dashboard/texts.py (by key) and admin's reasons (by code); their English
is the catalogs' message ids, and templates/web/translations/<language>/ holds each
language's catalog (`make catalogs` extracts, updates and compiles them). A text missing from
a language's catalog is taken from the languages it falls back to (templates/languages.toml),
Spanish last. The pages are offered in every language that has a compiled catalog.
"""

from __future__ import annotations

from functools import cache, cached_property

from babel import support
from flask import Flask, g, session
from flask_babel import Babel, Domain, gettext

from bot import languages, resources
from bot.admin import REASONS, Invalid
from bot.dashboard.texts import TEXTS

TRANSLATIONS = resources.templates() / "web" / "translations"
SOURCE = "en"  # the catalogs' message ids are the English texts


@cache
def page_languages() -> tuple[str, ...]:
    """The languages the pages can be read in: those with a compiled catalog, in the registry's order."""
    return tuple(code for code in languages.codes()
                 if (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").exists())


class _Catalogs(Domain):
    """Flask-Babel's domain, each language's catalog backed by those it falls back to."""

    def get_translations(self):
        return _translations(language())


@cache
def _translations(code: str) -> support.Translations:
    chain = languages.get(code).chain()
    if SOURCE in chain:  # past English nothing is needed: English is the message ids themselves
        chain = chain[: chain.index(SOURCE) + 1]
    first, *rest = [support.Translations.load(str(TRANSLATIONS), [each]) for each in chain]
    for fallback in rest:
        first.add_fallback(fallback)
    return first


class _Babel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return _Catalogs(translation_directories=[str(TRANSLATIONS)])


def init_app(app: Flask) -> None:
    """Flask-Babel on the app, choosing each request's language."""
    _Babel(app, locale_selector=language, default_locale=languages.DEFAULT,
           default_translation_directories=str(TRANSLATIONS))


def language() -> str:
    """The language of this request: the one chosen in the session, Spanish by default."""
    if "lang" not in g:
        chosen = session.get("lang")
        g.lang = chosen if chosen in page_languages() else languages.DEFAULT
    return g.lang


def t(key: str, /, **values) -> str:
    """The text named `key` in the request's language, with its %(placeholders)s filled in."""
    return gettext(TEXTS[key], **values)


def because(error: Invalid) -> str:
    """Why an input was refused, in the request's language (with the line of a file, when it has one)."""
    text = gettext(REASONS[error.code], **error.values)
    return f"{t('errors.on_line', line=error.line)} {text}" if error.line else text
