"""The words of every language Puntada reads, from templates/words/<language>.toml.

Each language's file is read once; the parser uses all of them on every message, each word
compared in its own language: a word's key in a language is the word folded (no case, no
accents, no doubled letters) with that language's sound rules applied. Tables hold keys as
"language:key" strings, so a Spanish rule never bends an English word and the same letters
in two languages stay two entries.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache

from bot import languages, resources

_REPEATS = re.compile(r"(.)\1+")

# The tables of [words] and [time] that every file may give (a missing one is empty).
WORD_TABLES = ("greetings", "thanks", "honorifics", "pieces", "done", "have", "ordinary", "after_one",
               "after_code", "order", "before_code", "before_name", "mistake", "sorry", "replace", "no",
               "nothing", "plus", "or", "but", "defects", "good", "all", "again", "both", "dont_know",
               "restate", "with", "of", "for", "of_articles", "news", "between", "guess", "minus", "that",
               "stops", "guess_after", "back")
TIME_TABLES = ("leads", "articles", "units", "money", "at", "of", "day_parts", "months")
NOT_FINISHED = ("left", "future", "money", "running", "total", "others", "given", "told", "delivered", "sent",
                "hold")
DAYS = ("today", "yesterday", "before_yesterday", "parts", "vague", "ago")
DAYS_AGO = {"today": 0, "yesterday": 1, "before_yesterday": 2}


def fold(word: str) -> str:
    """Lower case without accents: 'Señora' -> 'senora', 'llätunka' -> 'llatunka'."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Numbers:
    """One language's number words, as keys of that language."""

    units: dict[str, int] = field(default_factory=dict)
    tens: dict[str, int] = field(default_factory=dict)
    whole: dict[str, int] = field(default_factory=dict)  # every single word with its value
    prefixes: dict[str, int] = field(default_factory=dict)  # "veinti" before a unit
    hundreds: dict[str, int] = field(default_factory=dict)
    not_alone: frozenset[str] = frozenset()  # hundreds that are no number by themselves
    hundred: frozenset[str] = frozenset()  # "hundred", after a unit or "a"
    a: frozenset[str] = frozenset()
    thousand: frozenset[str] = frozenset()
    joins: frozenset[str] = frozenset()  # "y" of "treinta y cinco"
    one: frozenset[str] = frozenset()  # "un", "una": a count only in some places
    dozen: frozenset[str] = frozenset()  # "docena": twelve of what comes before
    half: frozenset[str] = frozenset()  # "media docena", "docena y media"
    times: dict[str, int] = field(default_factory=dict)  # Aymara "kimsa tunka": three tens

    def words(self) -> frozenset[str]:
        """Every key that is part of a number."""
        return (frozenset(self.whole) | frozenset(self.hundreds) | self.thousand | frozenset(self.prefixes)
                | self.hundred | self.dozen | frozenset(self.times))


@dataclass(frozen=True)
class Language:
    """One language's rules for reading a word."""

    code: str
    sounds: tuple[tuple[re.Pattern, str], ...]

    def key(self, word: str) -> str:
        """The word as this language compares it: 'Veintidós' -> 'beintidos' in Spanish."""
        return _key(word, self)

    def keys(self, words: Iterable[str]) -> frozenset[str]:
        """Keys of these words, never the empty key of a lone 'h'."""
        return frozenset(self.key(w) for w in words) - {""}


@lru_cache(maxsize=65536)
def _key(word: str, language: Language) -> str:
    key = _REPEATS.sub(r"\1", fold(word))
    for pattern, replacement in language.sounds:
        key = pattern.sub(replacement, key)
    return _REPEATS.sub(r"\1", key)


Phrase = tuple[str, ...]  # "language:key" of each word


@dataclass
class Words:
    """Every language's words, merged."""

    languages: list[Language] = field(default_factory=list)
    tables: dict[str, set[str]] = field(default_factory=dict)  # name -> {"es:hola", "en:hi", …}
    numbers: dict[str, Numbers] = field(default_factory=dict)  # language -> its number words
    function_words: set[str] = field(default_factory=set)  # folded, as typed: "a", "de" …
    not_codes: set[str] = field(default_factory=set)  # folded, as typed
    commands: dict[str, list[Phrase]] = field(default_factory=dict)  # at a message's start
    anywhere: dict[str, list[Phrase]] = field(default_factory=dict)  # anywhere in a message
    not_finished: dict[str, list[Phrase]] = field(default_factory=dict)  # by group: left, future …
    phrases: dict[str, list[Phrase]] = field(default_factory=dict)  # every [words] table, as phrases
    days: dict[str, list[Phrase]] = field(default_factory=dict)  # today, yesterday … and parts
    weekdays: dict[str, int] = field(default_factory=dict)  # "es:lunes" -> 0 (Monday)
    months: dict[str, int] = field(default_factory=dict)  # "es:enero" -> 1
    garments: dict[str, list[Phrase]] = field(default_factory=dict)  # kind -> its words, every language
    not_finished_after: dict[str, set[str]] = field(default_factory=dict)  # "es:manana" -> {"es:la" …}
    language_names: dict[str, str] = field(default_factory=dict)  # "es:ingles" -> "en"

    def keys(self, word: str) -> frozenset[str]:
        """The word's key in every language: {'es:beinte', 'en:veinte', 'ay:veinte'}."""
        return _all_keys(word, tuple(self.languages))

    def table(self, name: str) -> frozenset[str]:
        """One merged table, empty if no language has it."""
        return frozenset(self.tables.get(name, ()))

    def phrase(self, language: Language, text: str) -> Phrase:
        return tuple(f"{language.code}:{language.key(w)}" for w in text.split())


@lru_cache(maxsize=65536)
def _all_keys(word: str, languages_: tuple[Language, ...]) -> frozenset[str]:
    return frozenset(f"{lang.code}:{key}" for lang in languages_ if (key := lang.key(word)))


@cache
def load() -> Words:
    """The words of every language in the registry that has a words file."""
    words = Words()
    folder = resources.templates() / "words"
    for code in languages.codes():
        path = folder / f"{code}.toml"
        if path.exists():
            with path.open("rb") as source:
                merge(words, code, tomllib.load(source))
    return words


def merge(words: Words, code: str, data: dict) -> None:
    """Add one language's file to the merged words."""
    language = Language(code, tuple((re.compile(p), r) for p, r in data.get("sounds", ())))
    words.languages.append(language)
    tag = f"{code}:"
    plain = data.get("words", {})
    for name in WORD_TABLES:
        entries = plain.get(name, ())
        words.tables.setdefault(name, set()).update(tag + k for k in language.keys(entries))
        words.phrases.setdefault(name, []).extend(words.phrase(language, p) for p in entries)
    timing = data.get("time", {})
    for name in TIME_TABLES:
        words.tables.setdefault(f"time.{name}", set()).update(
            tag + k for k in language.keys(timing.get(name, ())))
    words.function_words |= {fold(w) for w in plain.get("function_words", ())}
    words.not_codes |= {fold(w) for w in plain.get("not_codes", ())}
    words.numbers[code] = _numbers(language, data.get("numbers", {}))
    for section, target in (("commands", words.commands), ("anywhere", words.anywhere)):
        for name, phrases in data.get(section, {}).items():
            target.setdefault(name, []).extend(words.phrase(language, p) for p in phrases)
    for group, phrases in data.get("not_finished", {}).items():
        words.not_finished.setdefault(group, []).extend(words.phrase(language, p) for p in phrases)
        words.tables.setdefault(f"not_finished.{group}", set()).update(
            tag + language.key(p) for p in phrases if " " not in p)
    for word, before in data.get("not_finished_after", {}).items():
        words.not_finished_after.setdefault(tag + language.key(word), set()).update(
            tag + k for k in language.keys(before))
    days = data.get("days", {})
    for name in DAYS:
        words.days.setdefault(name, []).extend(words.phrase(language, p) for p in days.get(name, ()))
    for number, day in enumerate(days.get("weekdays", ())):
        words.weekdays[tag + language.key(day)] = number
    for number, month in enumerate(days.get("months", ()), 1):
        words.months[tag + language.key(month)] = number
    for kind, names in data.get("garments", {}).items():
        words.garments.setdefault(kind, []).extend(words.phrase(language, p) for p in names)
    for target_code, names in data.get("languages", {}).items():
        words.language_names.update({tag + k: target_code for k in language.keys(names)})


def _numbers(language: Language, data: dict) -> Numbers:
    def table(name: str) -> dict[str, int]:
        return {language.key(w): int(v) for w, v in data.get(name, {}).items()}

    units, tens, prefixes = table("units"), table("tens"), table("prefixes")
    whole = {**units, **tens, **table("whole")}
    glue = data.get("glue", ())
    spanish_units = {k: v for k, v in units.items() if v < 10}
    # One-word compounds: dieci + seis, veinti + tres, treinta + y + cinco.
    for prefix, base in prefixes.items():
        whole.update({language.key(prefix + u): base + v for u, v in spanish_units.items()
                      if base + v > 15})
    for ten, value in tens.items():
        if value >= 30:
            whole.update({language.key(ten + joint + u): value + v
                          for u, v in spanish_units.items() for joint in glue})
    return Numbers(
        units=units, tens=tens, whole=whole, prefixes=prefixes, hundreds=table("hundreds"),
        not_alone=language.keys(data.get("not_alone", ())), hundred=language.keys(data.get("hundred", ())),
        a=language.keys(data.get("a", ())), thousand=language.keys(data.get("thousand", ())),
        joins=language.keys(data.get("and", ())), one=language.keys(data.get("one", ())),
        dozen=language.keys(data.get("dozen", ())), half=language.keys(data.get("half", ())),
        times=table("times"),
    )
