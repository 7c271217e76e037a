"""Every reply fits what it costs: member replies in one GSM-7 segment with long real values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot import languages, resources
from bot.progress import Pace
from bot.render import is_gsm7, number, render, segments

TEMPLATES = resources.templates()
# The languages whose replies are written (the others fall back to Spanish, text by text).
LANGUAGES = [code for code in languages.codes() if (TEMPLATES / "sms" / code).is_dir()]

LONG_NAME = "Maximiliana Guadalupe Mamani Quispe"  # the bot uses her first name
FIRST = "Maximiliana"
LONG_COOP = "Club de Madres Bartolina Sisa de la Zona Villa Ingenio El Alto"[:60]  # the longest allowed
BIG = {"code": "MTX", "done": 149_999, "qty": 150_000}
BIG2 = {"code": "ABC", "done": 99_999, "qty": 100_000}
BIG3 = {"code": "XYZ", "done": 9_999, "qty": 10_000}
TODAY, LONG_AGO = {"ago": 0, "day": date(2026, 11, 26)}, {"ago": 5, "day": date(2026, 11, 21)}
ORDERS = [{"code": "MTX", "item": "servilletas"}, {"code": "ABC", "item": "polleras"},
          {"code": "XYZ", "item": "chalinas"}]
LONG = {
    "recorded": dict(name=FIRST, items=[{"pieces": 99_999, **BIG, **LONG_AGO}], orders=[BIG], month=999_999),
    "recorded:two": dict(name=FIRST, items=[{"pieces": 300, **BIG, **LONG_AGO},
                                            {"pieces": 300, **BIG2, **TODAY}],
                         orders=[BIG, BIG2], month=999_999),
    # Three orders in one message (the "anoté 11 en A, 4 en M, 8 en C … completo!").
    "recorded:three": dict(name=FIRST, items=[{"pieces": 300, **BIG, **LONG_AGO},
                                              {"pieces": 300, **BIG2, **TODAY},
                                              {"pieces": 300, **BIG3, **LONG_AGO}],
                           orders=[{**BIG, "done": 150_000}, BIG2, {**BIG3, "done": 10_000}], month=999_999),
    "held": dict(name=FIRST, items=[{"code": "MTX", "pieces": 99_999, **LONG_AGO}]),
    "held:two": dict(name=FIRST, items=[{"code": "MTX", "pieces": 99_999, **LONG_AGO},
                                        {"code": "AB", "pieces": 9_999, **LONG_AGO}]),
    "check": dict(name=FIRST, items=[{"code": "MTX", "pieces": 99_999, **LONG_AGO}]),
    "check:two": dict(name=FIRST, items=[{"code": "MTX", "pieces": 99_999, **LONG_AGO},
                                         {"code": "AB", "pieces": 9_999, **LONG_AGO}]),
    "which_order": dict(pieces=99_999, orders=ORDERS),
    "not_her_order": dict(pieces=99_999, order=ORDERS[0], orders=ORDERS[1:]),
    "media_pending": dict(kind="audio", pieces=99_999, orders=ORDERS),
    "media_pending:photo": dict(kind="photo", pieces=99_999, orders=ORDERS),
    "question_dropped": dict(name=FIRST, pieces=99_999),
    "resent": dict(name=FIRST, pieces=99_999, minutes=10),
    "already_recorded": dict(name=FIRST, pieces=99_999, code="MTX", month=999_999),
    "nothing_done": dict(name=FIRST),
    "several_orders": dict(orders=ORDERS),
    "which_to_correct": dict(reports=[{"pieces": 99_999, "code": "MTX"}, {"pieces": 99_999, "code": "ABC"}]),
    "how_many": dict(pieces=99_999),
    "how_many_of": dict(item="servilletas", code="MTX"),
    "how_many_of:any": dict(item=None, code=None),
    "passed_on": dict(name=FIRST, coordinator="Maximiliana", held=[]),
    "passed_on:held": dict(name=FIRST, coordinator="Maximiliana", held=[{"pieces": 99_999, "code": "MTX"}]),
    "passed_on:nobody": dict(name=FIRST, coordinator="", held=[]),
    **{f"media:{kind}": dict(kind=kind, coordinator="Maximiliana")
       for kind in ("audio", "photo", "video", "sticker", "document", "location")},
    "corrected": dict(name=FIRST, old=99_999, new=99_999, old_code="MTX", month=999_999, **BIG, **LONG_AGO),
    "corrected:order": dict(name=FIRST, old=99_999, new=99_999, old_code="ABC", month=999_999, **BIG,
                            **LONG_AGO),
    "corrected:day": dict(name=FIRST, old=99_999, new=99_999, old_code="MTX", month=999_999, **BIG, **TODAY),
    "undone": dict(name=FIRST, pieces=99_999, month=999_999, **BIG),
    "rejected": dict(name=FIRST, pieces=99_999),
    "status": dict(name=FIRST, month=999_999, today=99_999, orders=[BIG]),
    "status:three": dict(name=FIRST, month=999_999, today=99_999, orders=[BIG, BIG, BIG]),
    "help": dict(codes=["A", "MT"]),
    "unknown_sender": dict(coop=LONG_COOP),
    "inactive": dict(coop=LONG_COOP),
    "welcome": dict(name=FIRST, coop=LONG_COOP),
    "stopped_contact": {},
}
MEMBER_TEMPLATES = {
    "wrong_number", "unknown_sender", "inactive", "coordinator_only", "no_orders",
    "nothing_to_correct", "nothing_to_undo", "nothing_to_confirm", "stopped", "started", "language",
    "help", "welcome", "stopped_contact", "recorded", "held", "which_order", "corrected", "undone",
    "rejected", "status", "check", "not_her_order", "media", "media_pending", "question_dropped", "resent",
    "already_recorded", "nothing_done", "several_orders", "which_to_correct", "how_many", "how_many_of",
    "passed_on",
}
PROBLEMS = ["", "empty", "no_number", "not_a_report", "unknown_code", "several_numbers", "decimal", "zero",
            "too_big", "mixed_codes", "or_numbers", "which_day",
            "missing_text", "missing_phone", "missing_count"]


def _cases():
    for name in sorted(MEMBER_TEMPLATES):
        variants = [k for k in LONG if k == name or k.startswith(name + ":")] or [name]
        for variant in variants:
            for language in LANGUAGES:
                yield pytest.param(name, LONG.get(variant, {}), language, id=f"{variant}-{language}")
    for problem in PROBLEMS:
        for language in LANGUAGES:
            values = {"problem": problem, "code": "XYZ", "codes": ["A", "B", "MT", "XYZ", "Q"]}
            yield pytest.param("not_understood", values, language,
                               id=f"not_understood-{problem or 'other'}-{language}")


@pytest.mark.parametrize("name, values, language", list(_cases()))
def test_member_replies_fit_one_gsm7_segment(name, values, language):
    text = render(name, language, **values)
    assert is_gsm7(text), f"{text!r} would go out as UCS-2"
    assert len(text) <= 160, f"{len(text)} characters: {text!r}"
    assert segments(text) == 1


def test_templates_exist_in_every_language():
    names = {lang: {p.name for p in (TEMPLATES / "sms" / lang).glob("*.txt")} for lang in LANGUAGES}
    assert names["es"] == names["en"]


@pytest.mark.parametrize("path", sorted((TEMPLATES / "sms").glob("*/*.txt")), ids=lambda p: p.name)
def test_sms_templates_avoid_characters_that_force_ucs2(path: Path):
    text = path.read_text()
    for ch in "áíóúÁÍÓÚ\u00a0“”’–—…":
        assert ch not in text, f"{path.name} has {ch!r}"


def test_coordinator_summary_stays_in_gsm7():
    pace = Pace(done=9_200, quantity=15_000, remaining=5_800, percent=61, needed_per_day=290,
                recent_per_day=310, projected=date(2026, 12, 14), at_risk=False)
    text = render("summary", "es", day=date(2026, 11, 26), today=420, silent=3,
                  orders=[{"code": "A", "done": 9_200, "qty": 15_000, "pace": pace}])
    assert text == ("Resumen 26 nov. Hoy: 420 piezas. A: 9.200/15.000 (61 %), 290/dia necesario, "
                    "ritmo 310/dia, fin 14 dic. Sin reportar 2+ dias: 3.")
    assert is_gsm7(text)


def test_names_and_notices_with_accents_are_sent_in_gsm7():
    text = render("broadcast", "es", coop="Club Sofía", text="Reunión “mañana” – traigan hilo…")
    assert text == 'Club Sofia: Reunion "mañana" - traigan hilo...'
    assert is_gsm7(text)


def test_numbers_are_formatted_per_language():
    assert (number(15_000, "es"), number(15_000, "en"), number(999, "es")) == ("15.000", "15,000", "999")


def test_segments_count_gsm7_and_ucs2():
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("€" * 80) == 1  # extension characters take two septets
    assert segments("á" * 70) == 1
    assert segments("á" * 71) == 2
