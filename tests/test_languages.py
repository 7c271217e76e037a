"""Languages are data: Aymara's words are read, its replies fall back to Spanish one text at a time."""

from __future__ import annotations

import pytest

from bot import languages, render, resources, words
from bot.models import Member
from bot.parsing import Intent, Item, Kind, parse
from tests import factories as f
from tests.factories import ROSA


@pytest.mark.parametrize(("text", "expected"), [
    ("jisa", Intent(Kind.CONFIRM)),
    ("janiwa", Intent(Kind.REJECT)),
    ("jani", Intent(Kind.REJECT)),
    ("kamisaki 20", Intent(Kind.REPORT, items=(Item(20),))),
    ("kamisaraki mama, tunka", Intent(Kind.REPORT, items=(Item(10),))),
    ("waliki, hice phisqa", Intent(Kind.REPORT, items=(Item(5),))),
    ("jallalla suxta blusas", Intent(Kind.REPORT, items=(Item(6),))),
    ("maya", Intent(Kind.REPORT, items=(Item(1),))),
    ("paya", Intent(Kind.REPORT, items=(Item(2),))),
    ("kimsa", Intent(Kind.REPORT, items=(Item(3),))),
    ("pusi", Intent(Kind.REPORT, items=(Item(4),))),
    ("paqallqu", Intent(Kind.REPORT, items=(Item(7),))),
    ("kimsaqallqu", Intent(Kind.REPORT, items=(Item(8),))),
    ("llätunka", Intent(Kind.REPORT, items=(Item(9),))),
    ("llatunka", Intent(Kind.REPORT, items=(Item(9),))),
    ("A tunka", Intent(Kind.REPORT, items=(Item(10, "A"),))),
    ("kamisaki", Intent(Kind.UNKNOWN, problem="no_number")),
])
def test_aymara_words_are_read(text, expected):
    assert parse(text, ["A", "MT"]) == expected


def test_each_word_is_compared_in_its_own_language():
    """Spanish hears b for v and s for c before e and i; English and Aymara words stay as typed."""
    assert words.load().keys("Veinte") >= {"es:beinte", "en:veinte", "ay:veinte"}
    assert words.load().keys("city") >= {"es:sity", "en:city"}


def test_the_registry_knows_every_language_the_files_speak():
    codes = set(languages.codes())
    folders = {p.name for p in (resources.templates() / "sms").iterdir() if p.is_dir()}
    files = {p.stem for p in (resources.templates() / "words").glob("*.toml")}
    assert folders <= codes and files <= codes
    assert all(languages.get(code).chain()[-1] == "es" for code in codes)
    assert languages.get("ay").chain() == ["ay", "es"]
    assert languages.get("xx").code == "es"  # an unknown code is answered in Spanish


def test_a_member_who_speaks_aymara_is_answered_in_spanish_until_a_translator_writes_it(
    engine, club, now, tmp_path, monkeypatch
):
    f.text(engine, ROSA, "idioma aymara", at=now)
    assert f.get(engine, Member, club.rosa.id).language == "ay"
    assert f.text(engine, ROSA, "tunka", at=now) == (
        "Rosa, anoté 10 en el pedido A. Tu mes: 10. Pedido A: 10/15.000 (0 %)")
    # A translator adds one text: only that one changes; the rest still fall back to Spanish.
    folder = tmp_path / "sms" / "ay"
    folder.mkdir(parents=True)
    (folder / "recorded.txt").write_text(
        "{{ name }}, {{ items[0].pieces|num(lang) }} qillqantata, pedido {{ items[0].code }}. "
        "Phaxsi: {{ month|num(lang) }}.\n")
    monkeypatch.setattr(render, "EXTRA_ROOTS", (tmp_path,))
    assert f.text(engine, ROSA, "paya", at=now) == "Rosa, 2 qillqantata, pedido A. Phaxsi: 12."
    assert f.text(engine, ROSA, "total", at=now).startswith("Rosa, este mes llevas 12 piezas")
