"""The dashboard's catalogs are whole and current: what a translator edits is what the pages use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot import languages
from bot.admin import REASONS
from bot.dashboard.i18n import TRANSLATIONS, page_languages
from bot.dashboard.texts import TEXTS
from tests import ROOT


def catalog(code: str):
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source)


def ids(messages) -> set[str]:
    return {message.id for message in messages if message.id}


def test_the_template_holds_every_text_of_the_code(tmp_path):
    """`make catalogs` was run after the last text changed: extracting again finds the same ids."""
    fresh = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "N_",
                    "--no-location", "-o", str(fresh), "."], cwd=ROOT, check=True, capture_output=True)
    with fresh.open("rb") as source, (TRANSLATIONS / "messages.pot").open("rb") as kept:
        extracted, template = ids(read_po(source)), ids(read_po(kept))
    assert extracted == template
    assert set(TEXTS.values()) | set(REASONS.values()) <= template


def test_spanish_translates_every_text():
    untranslated = [message.id for message in catalog("es") if message.id and not message.string]
    assert untranslated == []


@pytest.mark.parametrize("code", ["es", "en"])
def test_each_compiled_catalog_is_its_catalog(code):
    """The .mo the pages read says what the .po a translator edits says (`make catalogs` compiles)."""
    with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").open("rb") as compiled:
        mo = {m.id: m.string for m in read_mo(compiled) if m.id and m.string}
    po = {m.id: m.string for m in catalog(code) if m.id and m.string}
    assert mo == po


def test_the_pages_speak_every_language_with_a_catalog():
    assert page_languages() == ("es", "en")
    assert set(page_languages()) <= set(languages.codes())
