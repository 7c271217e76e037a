"""Read one inbound message into an Intent: piece counts, orders, days and commands.

Members type on basic phones: no accents, typos, b/v and c/s/z mixed up, greetings and
thanks around the number, the garment instead of the order's letter. Everything here is
pure; the words are data (templates/words/, bot/words.py), the commands come from the
handlers' table, and the cooperative's orders (code, item, buyer) give the words that name
them. How a report's clauses are read (what governs each count, which day and order it is
for) is bot/reading.py. The handlers decide what an intent means for the sender and for
what the bot asked her last. When a message could mean two things we say so (a problem, or
several choices) rather than guess, because a wrong count costs a member money.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from rapidfuzz.distance import OSA

from bot import words as word_lists
from bot.words import Numbers, Phrase, Words, fold

MAX_PIECES = 99_999


class Kind(StrEnum):
    """What a message can mean: the parser's own readings, and the built-in commands' names.

    A command is known by its name alone (handlers.COMMANDS); these are here so that code and
    tests can name the usual ones.
    """

    REPORT = "report"
    CORRECT = "correct"
    UNDO = "undo"
    STATUS = "status"
    HELP = "help"
    STOP = "stop"
    START = "start"
    LANGUAGE = "language"
    CONFIRM = "confirm"
    REJECT = "reject"
    SUMMARY = "summary"
    MISSING = "missing"
    BROADCAST = "broadcast"
    ADD_MEMBER = "add_member"
    RECORD = "record"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Day:
    """The day a count is for: so many days ago ("ayer" is 1), or a weekday ("el martes", 0 is Monday)."""

    ago: int | None = None
    weekday: int | None = None
    of_month: int | None = None  # "el 25": the 25th, this month or the last
    month: int | None = None  # "el 25 de noviembre"


@dataclass(frozen=True)
class Item:
    """Pieces on one order (or on one of `choices`, when a word could mean several), on one day."""

    pieces: int
    code: str | None = None
    day: Day | None = None  # None: not said (today, or the day of the report she corrects)
    choices: tuple[str, ...] = ()  # the orders the word she used could mean: the bot asks
    parts: tuple[int, ...] = field(default=(), compare=False)  # the counts added up into it ("5 y 5")
    named: str = field(default="", compare=False)  # how she named the order: code, item, buyer, other


@dataclass(frozen=True)
class Intent:
    kind: str
    items: tuple[Item, ...] = ()
    language: str | None = None
    text: str = ""
    phone: str = ""
    problem: str = ""
    # What a message says beyond its counts, for the handlers to read against what came before:
    orders: tuple[str, ...] = ()  # orders named without a count: an answer ("blusas"), a correction
    not_orders: tuple[str, ...] = ()  # orders she says she did not work on ("no hice manteles")
    old: tuple[int, ...] = ()  # counts she says were wrong ("no eran 20")
    day: Day | None = None  # a day named without a count ("eso era de ayer")
    correction: str = ""  # "command" (corregir 18), "said" (equivoque, eran) or "maybe" (perdon…, "no, 18")
    again: bool = False  # "otras 20", "5 mas": a new batch, never her last message resent
    note: bool = False  # a question or news for the coordinator
    answer: str = ""  # "yes", "no", "both" or "unsure": how it answers the bot's question
    unsure: bool = False  # "unos 20", "creo que 20": recorded only once she confirms the reading
    reason: str = field(default="", compare=False)  # the words that made a count not a report


@dataclass(frozen=True, order=True)
class OrderWords:
    """What a member may call an order: its code, its item ("blusas bordadas"), its buyer."""

    code: str
    item: str = ""
    buyer: str = ""


Reader = Callable[["Message", int, str], Intent]  # the message, where its phrase ends, its name


@dataclass(frozen=True)
class Syntax:
    """How the parser finds one command: its name (its phrases in the words files), how the
    rest of the message is read, and two rules: `alone` (a si/no must be the whole message,
    give or take thanks) and `refuses_count` ("total 200" is not a report)."""

    name: str
    reader: Reader | None = None
    alone: bool = False
    refuses_count: bool = False


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "num", "time" or "date"
    raw: str  # as typed
    keys: frozenset[str]  # a word's key in every language ("es:beinte"); empty for others
    start: int
    end: int

    def key_in(self, language: str) -> str:
        """The word's key in one language ('' for a number, a time or a date)."""
        prefix = language + ":"
        return next((k[len(prefix):] for k in self.keys if k.startswith(prefix)), "")


# Times and dates come first so "18:30" or "25/11" never read as counts.
_TOKEN = re.compile(
    r"""
    (?P<time>(?<!\d)\d{1,2}:\d{2}(?!\d)(?:\s*(?:am|pm)\b)?
        |(?<!\d)\d{1,2}\s*(?:am|pm|a\.\s?m\.|p\.\s?m\.|hrs?|hs)(?![^\W\d_]))
    |(?P<date>(?<!\d)\d{1,2}/\d{1,2}(?:/\d{2,4})?(?!\d)
        |(?<!\d)\d{1,2}[-.]\d{1,2}[-.]\d{2,4}(?!\d))
    |(?P<num>\d+(?:[.,]\d+)*)
    |(?P<word>[^\W\d_]+)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PERCENT_AFTER = re.compile(r"\s*%")
_NAME_EDGES = " \t\r\n:;,.-=>\"'"
_CODE_LETTERS = re.compile(r"[a-z]{1,3}")
# What is not the member's words: markup and code ("<b>", "alert(1)", "{{7*7}}"), each character
# turned into a space so positions stay those of the text; the keycap emoji's digits ("2️⃣") are
# plain digits; the letter O inside a number ("2O", "1O0") is the zero she meant.
_MARKUP = re.compile(r"<[^<>]{0,300}>|\$?\{[^{}]{0,200}\}|[^\W\d_][\w.]*\([^()]{0,100}\)")
_KEYCAP = re.compile("([0-9#*])\ufe0f?\u20e3")
_LETTER_O = re.compile(r"(?<![^\W_])\d+[oO][\doO]*(?![^\W_])")


def clean(text: str) -> str:
    """The text as the parser reads it: NFC, no markup, keycap digits and O-for-zero as digits."""
    text = _KEYCAP.sub(r"\1", unicodedata.normalize("NFC", text))
    text = _MARKUP.sub(lambda m: " " * len(m.group()), text)
    return _LETTER_O.sub(lambda m: m.group().replace("o", "0").replace("O", "0"), text)


@dataclass(frozen=True)
class _Mark:
    first: int  # token index span
    last: int
    value: int = 0
    problem: str = ""  # "decimal", "zero", "too_big" for a count; "unknown_code" for a code
    code: str | None = None  # set for an order code, None for a count


@dataclass(frozen=True)
class Ref:
    """Words naming an order: tokens[first:last + 1] name `codes` (one, or several to choose from)."""

    first: int
    last: int
    codes: frozenset[str]
    how: str  # "code", "item", "buyer" (or "buyer?" when alone it may be an ordinary word), "other"


@dataclass(frozen=True)
class Vocabulary:
    """The words that name a cooperative's active orders."""

    codes: frozenset[str]
    items: dict[str, frozenset[str]] = field(default_factory=dict)  # "es:blusas" -> {"A"}
    phrases: tuple[tuple[Phrase, frozenset[str], str], ...] = ()  # several words: item or buyer
    buyer_words: dict[str, frozenset[str]] = field(default_factory=dict)  # one word of a buyer's name
    other: frozenset[str] = frozenset()  # garments no active order is for
    fuzzy: tuple[tuple[str, str, frozenset[str]], ...] = ()  # (language, key, codes), keys of 5+ letters


@dataclass
class Message:
    """One message being read: its text, tokens, the cooperative's orders, and the parser."""

    text: str
    tokens: list[Token]
    vocabulary: Vocabulary
    parser: Parser
    _keys: dict[str, list[str]] = field(default_factory=dict)

    @property
    def codes(self) -> frozenset[str]:
        return self.vocabulary.codes

    def keys_in(self, language: str) -> list[str]:
        """Every token's key in one language ('' for numbers, times and dates), read once."""
        if language not in self._keys:
            self._keys[language] = [t.key_in(language) if t.kind == "word" else "" for t in self.tokens]
        return self._keys[language]


# --------------------------------------------------------------------------- the parser


class Parser:
    """Reads messages with the words of every language and the commands of one table."""

    def __init__(self, words: Words, grammar: Sequence[Syntax]):
        self.words = words
        self.grammar = {syntax.name: syntax for syntax in grammar}
        t = words.table
        self.greetings = t("greetings")
        self.courtesy = t("greetings") | t("thanks")
        self.pieces = t("pieces")
        self.honorifics = t("honorifics")
        self.done = t("done")
        self.garment_words = frozenset(f"{phrase[0]}" for phrases in words.garments.values()
                                       for phrase in phrases if len(phrase) == 1)
        self.after_one = t("after_one") | self.pieces | self.courtesy | self.garment_words
        # A one-letter function word after a number ("20 a") is a code only before these;
        # before a name or any other word it is a preposition ("20 a Juana").
        self.after_code = (self.pieces | self.garment_words | (self.courtesy - self.honorifics)
                           | t("after_code"))
        self.order_words = t("order")
        self.code_markers = self.order_words | t("before_code")
        self.mistake = t("mistake")
        self.were = frozenset(k for k in self.mistake if k.split(":", 1)[1] in ("eran", "era", "were", "was"))
        self.time = {name: t(f"time.{name}") for name in word_lists.TIME_TABLES}
        self.numbers = [(code, numbers) for code, numbers in words.numbers.items() if numbers.whole]
        # Number words of six letters or more, for typos: one letter wrong is still that number.
        # Not units ("mayani" is a name's letter away) nor languages whose numbers are all short words.
        self.spelt = {code: [(k, v) for k, v in {**numbers.whole, **numbers.hundreds}.items()
                             if len(k) >= 6 and k not in numbers.units]
                      for code, numbers in words.numbers.items() if len(numbers.tens) > 1}
        self.ones = frozenset(f"{code}:{k}" for code, numbers in words.numbers.items() for k in numbers.one)
        self.dozen = self._number_table("dozen")
        self.thousands = self._number_table("thousand")
        self.half = self._number_table("half")
        number_words = frozenset(f"{code}:{k}" for code, numbers in words.numbers.items()
                                 for k in numbers.words())
        commands = {name: phrases for name, phrases in words.commands.items() if name in self.grammar}
        self.first_phrases = _index(commands)
        self.anywhere_phrases = _index({name: phrases for name, phrases in words.anywhere.items()
                                        if name in self.grammar})
        self.not_finished = _index(words.not_finished)
        not_finished_words = frozenset(p[0] for ps in words.not_finished.values() for p in ps if len(p) == 1)
        self.days = _index({name: words.days.get(name, ()) for name in word_lists.DAYS_AGO})
        self.day_parts_index = _index({"part": words.days.get("parts", ())})
        self.vague_days = _index({"vague": words.days.get("vague", ())})
        self.ago_words = frozenset(p[0] for p in words.days.get("ago", ()) if len(p) == 1)
        self.future_words = t("not_finished.future")
        self.tables = {name: _index({name: words.phrases.get(name, ())}) for name in word_lists.WORD_TABLES}
        self.protected = (self.courtesy | self.pieces | self.done | t("have") | t("ordinary") | number_words
                          | frozenset(k for phrases in commands.values() for p in phrases for k in p)
                          | not_finished_words | self.garment_words | frozenset(words.weekdays)
                          | frozenset(p[0] for ps in words.days.values() for p in ps))
        self.word_keys = self.protected | self.time["leads"] | self.time["units"]
        # Typos are forgiven on single words of five letters or more, in their own language.
        self.fuzzy = [(phrase[0], name) for name, phrases in commands.items() for phrase in phrases
                      if len(phrase) == 1 and len(phrase[0].split(":", 1)[1]) >= 5]
        # "anotar 20 blusas a doña Ines": between the count and the name; "… Rosa gracias": after it.
        self.before_name = (t("before_name") | self.pieces | self.garment_words | self._joins()
                            | (self.courtesy - self.honorifics))
        self.day_words = frozenset(p[0] for name in word_lists.DAYS_AGO for p in words.days.get(name, ())
                                   if len(p) == 1) | frozenset(words.weekdays)
        self.after_name = (self.pieces | self.garment_words | self.done | self.day_words
                           | (self.courtesy - self.honorifics))
        self._vocabularies: dict[tuple, Vocabulary] = {}
        self._tables = {name: t(name) for name in word_lists.WORD_TABLES}

    def _joins(self) -> frozenset[str]:
        return frozenset(f"{code}:{k}" for code, numbers in self.words.numbers.items() for k in numbers.joins)

    def _number_table(self, name: str) -> frozenset[str]:
        return frozenset(f"{code}:{k}" for code, numbers in self.words.numbers.items()
                         for k in getattr(numbers, name))

    def table(self, name: str) -> frozenset[str]:
        """One [words] table's single-word keys, in every language."""
        return self._tables[name]

    # ----------------------------------------------------------------------- entry point

    def parse(self, text: str, orders: Collection[str | OrderWords] = ()) -> Intent:
        """Read one message; `orders` are the active orders of the member's cooperative (their
        codes, or codes with their items and buyers)."""
        from bot import reading  # the report reader uses this parser's tables

        text = clean(text if isinstance(text, str) else "")
        tokens = self.tokenize(text)
        if not tokens:
            return Intent(Kind.HELP) if "?" in text else _unknown("empty")
        message = Message(text, tokens, self.vocabulary(orders), self)
        first = self._first_meaningful(tokens)
        if self.phrase(tokens, first, "dont_know"):  # "no se": not a "no"
            return _unknown("no_number", answer="unsure", note="?" in text)
        command = self._command_at(tokens, first)
        syntax = self.grammar.get(command[0]) if command else None
        if syntax is not None and syntax.reader is not None:
            return syntax.reader(message, command[1], syntax.name)
        if command:
            name, end = command
            has_count = bool(self._counts(message, 0, len(tokens))[0])
            if syntax.refuses_count and has_count:
                return _unknown("not_a_report")  # "total 200", "faltan 10": not pieces just made
            if not syntax.alone or (not has_count and self._short_answer(tokens, end)
                                    and not self._says_more(message, end)):
                return Intent(name)
        anywhere = self._find_anywhere(tokens)
        correct = self.grammar.get(Kind.CORRECT)
        if anywhere and anywhere[0] == Kind.CORRECT and correct and correct.reader:
            return correct.reader(message, anywhere[1], correct.name)
        intent = reading.read(message, Kind.REPORT)
        if anywhere and not intent.items and intent.problem != "not_a_report" and not (
                anywhere[0] == Kind.HELP and intent.note):
            return Intent(anywhere[0])  # "hola quiero ver mi total"; not "no entiendo el diseño, me explica?"
        return intent

    def tokenize(self, text: str) -> list[Token]:
        """Split text into words, numbers, times and dates with their positions."""
        tokens = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or "word"
            raw = match.group()
            keys = self.words.keys(raw) if kind == "word" else frozenset()
            tokens.append(Token(kind, raw, keys, *match.span()))
        return tokens

    # ----------------------------------------------------------------------- the orders' words

    def vocabulary(self, orders: Collection[str | OrderWords]) -> Vocabulary:
        """The words naming these orders (built once for each set of orders)."""
        entries = tuple(sorted((o if isinstance(o, OrderWords) else OrderWords(o)) for o in orders
                               if (o.code if isinstance(o, OrderWords) else o)))
        found = self._vocabularies.get(entries)
        if found is None:
            if len(self._vocabularies) > 256:
                self._vocabularies.clear()
            found = self._vocabularies[entries] = _vocabulary(self, entries)
        return found

    def refs(self, message: Message, lo: int, hi: int) -> list[Ref]:
        """Words between tokens[lo:hi] that name an order by its item or its buyer."""
        vocabulary, tokens = message.vocabulary, message.tokens
        found, i = [], lo
        while i < hi:
            phrase = self._phrase_ref(vocabulary, tokens, i, hi)
            if phrase:
                found.append(phrase)
                i = phrase.last + 1
                continue
            ref = self._word_ref(vocabulary, tokens[i], i)
            if ref:
                found.append(ref)
            i += 1
        return found

    @staticmethod
    def _phrase_ref(vocabulary: Vocabulary, tokens: Sequence[Token], i: int, hi: int) -> Ref | None:
        best = None
        for phrase, codes, how in vocabulary.phrases:
            end = i + len(phrase)
            longer = best is None or len(phrase) > best.last - best.first + 1
            if end <= hi and longer and all(tokens[j].kind == "word" and key in tokens[j].keys
                                            for j, key in zip(range(i, end), phrase, strict=True)):
                best = Ref(i, end - 1, codes, how)
        return best

    def _word_ref(self, vocabulary: Vocabulary, token: Token, i: int) -> Ref | None:
        if token.kind != "word":
            return None
        codes = frozenset().union(*(vocabulary.items.get(k, ()) for k in token.keys))
        if codes:
            return Ref(i, i, codes, "item")
        buyer = frozenset().union(*(vocabulary.buyer_words.get(k, ()) for k in token.keys))
        if buyer:
            return Ref(i, i, buyer, "buyer?")
        if not vocabulary.other.isdisjoint(token.keys):
            return Ref(i, i, frozenset(), "other")
        return self._fuzzy_ref(vocabulary, token, i)

    def _fuzzy_ref(self, vocabulary: Vocabulary, token: Token, i: int) -> Ref | None:
        """An item word with one letter wrong ('mnteles', 'chalynas'), if only one is that close."""
        if len(token.raw) < 5 or not self.word_keys.isdisjoint(token.keys):
            return None
        matches = set()
        for tagged in token.keys:
            language, key = tagged.split(":", 1)
            for their_language, their_key, codes in vocabulary.fuzzy:
                if their_language == language and abs(len(key) - len(their_key)) <= 1 and \
                        OSA.distance(key, their_key, score_cutoff=1) <= 1:
                    matches.add(codes)
        if len(matches) != 1:
            return None
        return Ref(i, i, matches.pop(), "item")

    # ----------------------------------------------------------------------- words

    @staticmethod
    def isin(token: Token, table: frozenset[str]) -> bool:
        """Whether a word is in a table, in any of its languages."""
        return token.kind == "word" and not table.isdisjoint(token.keys)

    def phrase(self, tokens: Sequence[Token], i: int, name: str) -> int | None:
        """The end of the longest phrase of table `name` starting at tokens[i], if one does."""
        found = self._match_phrase(tokens, i, self.tables[name])
        return found[1] if found else None

    def _match_phrase(self, tokens: Sequence[Token], i: int, index) -> tuple[str, int] | None:
        """The phrase starting at tokens[i] (the longest), with the index after it."""
        if i >= len(tokens) or tokens[i].kind != "word":
            return None
        candidates = [entry for key in tokens[i].keys for entry in index.get(key, ())]
        for phrase, name in sorted(candidates, key=lambda entry: -len(entry[0])):
            end = i + len(phrase)
            window = tokens[i:end]
            if len(window) == len(phrase) and all(
                t.kind == "word" and k in t.keys for t, k in zip(window, phrase, strict=True)
            ):
                return name, end
        return None

    def _fuzzy_command(self, token: Token) -> str | None:
        """The command a typo'd word most likely means, if exactly one is close enough."""
        best: dict[str, int] = {}
        for tagged in token.keys:
            language, key = tagged.split(":", 1)
            if len(key) < 5 or tagged in self.protected:
                continue
            limit = 1 if len(key) < 9 else 2
            for candidate, name in self.fuzzy:
                their_language, their_key = candidate.split(":", 1)
                if their_language != language:
                    continue
                distance = OSA.distance(key, their_key, score_cutoff=limit)
                if distance > limit:
                    continue
                # In short words a changed letter too often makes another real word ("pasar"/"parar").
                if len(key) <= 6 and len(key) == len(their_key) and sorted(key) != sorted(their_key):
                    continue
                best[name] = min(distance, best.get(name, limit + 1))
        if not best:
            return None
        closest = min(best.values())
        winners = [name for name, distance in best.items() if distance == closest]
        return winners[0] if len(winners) == 1 else None

    def _command_at(self, tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
        """The command at the first meaningful word, forgiving typos."""
        found = self._match_phrase(tokens, i, self.first_phrases)
        if found or i >= len(tokens) or tokens[i].kind != "word":
            return found
        name = self._fuzzy_command(tokens[i])
        return (name, i + 1) if name else None

    def first_meaningful(self, tokens: Sequence[Token], i: int = 0) -> int:
        """Index of the first token from i that is not a greeting or filler ("perdon" is meant)."""
        sorry = self._tables["sorry"]
        while i < len(tokens) and self.isin(tokens[i], self.greetings) and not self.isin(tokens[i], sorry):
            i += 1
        return i

    _first_meaningful = first_meaningful

    def _find_anywhere(self, tokens: Sequence[Token]) -> tuple[str, int] | None:
        """The first status/help/undo/correct phrase anywhere in the message."""
        for i in range(len(tokens)):
            found = self._match_phrase(tokens, i, self.anywhere_phrases)
            if found:
                return found
        return None

    def day_parts(self, text: str) -> frozenset[str]:
        """The parts of the day a text names ('en la tarde'): two batches of 20, not one resent."""
        tokens = self.tokenize(clean(text))
        found = set()
        for i in range(len(tokens)):
            match = self._match_phrase(tokens, i, self.day_parts_index)
            if match:
                found.add(fold(tokens[match[1] - 1].raw))
        return frozenset(found)

    def vetoes(self, tokens: Sequence[Token], lo: int, hi: int) -> list[tuple[int, int, str]]:
        """The words saying a count is not pieces just finished: (first, end, group) of each."""
        found, i = [], lo
        while i < hi:
            match = self._match_phrase(tokens, i, self.not_finished)
            if match is None:
                i += 1
                continue
            group, end = match
            before = tokens[i - 1].keys if i > 0 and tokens[i - 1].kind == "word" else frozenset()
            allowed = set().union(*(self.words.not_finished_after.get(k, ()) for k in tokens[i].keys))
            managed = i > 0 and (self.isin(tokens[i - 1], self.done) or (
                i > 1 and fold(tokens[i - 1].raw) in ("a", "de") and self.isin(tokens[i - 2], self.done)))
            if before.isdisjoint(allowed) and not managed:  # not "pude hacer 10", "alcance a hacer 10"
                found.append((i, min(end, hi), group))
            i = end
        return found

    def not_finished_in(self, tokens: Sequence[Token], lo: int = 0, hi: int | None = None) -> bool:
        """Whether the message says its count is not pieces just finished ('me faltan 10')."""
        return bool(self.vetoes(tokens, lo, len(tokens) if hi is None else hi))

    def _says_more(self, message: Message, end: int) -> bool:
        """Whether what follows a si/no names a day or an order ('no, fue hoy', 'no, manteles')."""
        tokens = message.tokens
        return any(self._match_phrase(tokens, j, self.days)
                   or self._word_ref(message.vocabulary, t, j) is not None
                   for j, t in enumerate(tokens[end:], end))

    def _short_answer(self, tokens: Sequence[Token], end: int) -> bool:
        """Whether a si/no is the whole message, give or take thanks and two words."""
        rest = [t for t in tokens[end:] if not self.isin(t, self.courtesy)]
        return len(rest) <= 2

    # ----------------------------------------------------------------------- counts

    def _number_words(self, message: Message, i: int) -> tuple[int, int] | None:
        """A number written in words starting at tokens[i], in the language that reads most of it."""
        best = None
        for code, numbers in self.numbers:
            found = _number_words(numbers, message.keys_in(code), i)
            if found and (best is None or found[1] > best[1]):
                best = found
        if best and best[0] == 1000 and best[1] == i + 1:
            # "mil" alone is a thousand pieces ("hice mil", "mil blusas"), "mil gracias" is thanks.
            tokens = message.tokens
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            before = tokens[i - 1] if i > 0 else None
            thanks = self.courtesy - self.greetings
            if (after is not None and self.isin(after, self.courtesy)) or (
                    before is not None and self.isin(before, thanks)):
                return None
        return best

    def _misspelt_number(self, token: Token, i: int) -> tuple[int, int] | None:
        """A number word of six letters or more with one letter wrong ('trenta', 'beynte'), when only
        one number is that close and the word is no other known word."""
        if token.kind != "word" or len(token.raw) < 5 or not self.word_keys.isdisjoint(token.keys):
            return None
        values = set()
        for tagged in token.keys:
            language, key = tagged.split(":", 1)
            for their_key, value in self.spelt.get(language, ()):
                if len(key) < 6 and len(their_key) <= len(key):
                    continue  # a five-letter word only as a longer number with a letter dropped ("tweny")
                if abs(len(key) - len(their_key)) <= 1 and OSA.distance(key, their_key, score_cutoff=1) <= 1:
                    values.add(value)
        return (values.pop(), i + 1) if len(values) == 1 else None

    def _is_lone_one(self, message: Message, first: int, last: int, hi: int) -> bool:
        """Whether a lone 'un'/'una'/'one' is a count: 'hice una', 'una blusa', not 'una pregunta'."""
        tokens = message.tokens
        if first != last or not self.isin(tokens[first], self.ones):
            return True
        if last + 1 >= hi:
            return True
        after = tokens[last + 1]
        return after.kind == "word" and (
            self.isin(after, self.after_one) or _code_of(after, message.codes) is not None
            or self._word_ref(message.vocabulary, after, last + 1) is not None
        )

    def _context_blocks(self, message: Message, first: int, last: int) -> set[int] | None:
        """Token indices to ignore when a number is a time, date, duration, money or percent."""
        tokens, time = message.tokens, self.time

        def at(i: int) -> Token | None:
            return tokens[i] if 0 <= i < len(tokens) and tokens[i].kind == "word" else None

        def isin(i: int, table: frozenset[str]) -> bool:
            token = at(i)
            return token is not None and not table.isdisjoint(token.keys)

        if isin(first - 1, time["articles"]) and isin(first - 2, time["leads"]):  # "a las 5"
            return {first - 2, first - 1}
        if _hours(tokens, first, last):  # "de 8 a 12 hice 6"
            return set()
        if isin(first - 1, time["at"]) or isin(last + 1, time["units"]) or isin(first - 1, time["money"]):
            return set()
        if isin(last + 1, time["of"]) and (
            (isin(last + 2, time["articles"]) and isin(last + 3, time["day_parts"]))
            or isin(last + 2, time["months"])
        ):
            return set()  # "5 de la tarde", "25 de noviembre"
        if _PERCENT_AFTER.match(message.text, tokens[last].end):
            return set()
        return None

    def _dozens(self, message: Message, value: int, last: int) -> tuple[int, int]:
        """'3 docenas', 'docena y media': a count before a dozen word is dozens; where it ends."""
        tokens = message.tokens
        if last + 1 >= len(tokens) or not self.isin(tokens[last + 1], self.dozen):
            return value, last
        value, last = value * 12, last + 1
        if last + 2 < len(tokens) and self.isin(tokens[last + 1], self._joins()) and \
                self.isin(tokens[last + 2], self.half):
            value, last = value + 6, last + 2
        return value, last

    def _count_at(self, message: Message, i: int, hi: int) -> tuple[int, str, int] | int:
        """The count starting at tokens[i]: (value, problem, last index), or the index to go on from."""
        tokens = message.tokens
        token = tokens[i]
        if token.kind == "num":
            value, problem = _digits_count(token.raw)
            if not problem and i + 1 < hi and self.isin(tokens[i + 1], self.thousands):
                return value * 1000, "", i + 1  # "2 mil", "hice 2 mil"
            return value, problem, i
        if self.isin(token, self.half):  # "media docena", "half a dozen"
            j = i + 2 if i + 2 < hi and fold(tokens[i + 1].raw) == "a" else i + 1
            if j < hi and self.isin(tokens[j], self.dozen):
                return 6, "", j
            return i + 1
        if self.isin(token, self.dozen):  # "docena y media", "a dozen"
            return 1, "", i - 1
        found = self._number_words(message, i) or self._misspelt_number(token, i)
        if not found:
            return i + 1
        value, end = found
        dozen_next = end < hi and self.isin(tokens[end], self.dozen)
        if not dozen_next and not self._is_lone_one(message, i, end - 1, hi):
            return end  # "una pregunta", "un saludo"
        return value, "zero" if value == 0 else "", end - 1

    def _counts(self, message: Message, lo: int, hi: int) -> tuple[list[_Mark], set[int]]:
        """Counts between tokens[lo:hi], plus token indices that must not be read as codes."""
        tokens = message.tokens
        marks, blocked, i = [], set(), lo
        while i < hi:
            if tokens[i].kind in ("time", "date"):
                i += 1
                continue
            found = self._count_at(message, i, hi)
            if isinstance(found, int):
                i = found
                continue
            value, problem, last = found
            first = min(i, last + 1) if last < i else i
            if not problem or problem == "zero":
                value, last = self._dozens(message, value, last)
                last = max(last, i)
            if value > MAX_PIECES:
                value, problem = 0, "too_big"
            context = self._context_blocks(message, first, last)
            if context is None:
                marks.append(_Mark(first, last, value, problem))
            else:
                blocked |= context | set(range(first, last + 1))
            i = last + 1
        return marks, blocked

    def _neighbour(self, tokens: Sequence[Token], i: int, step: int, lo: int, hi: int) -> int:
        """Index of the nearest token in direction step that is not a piece word."""
        j = i + step
        while lo <= j < hi and self.isin(tokens[j], self.pieces | self.garment_words):
            j += step
        return j

    def _codes(self, message: Message, lo: int, hi: int, counts: list[_Mark],
               blocked: set[int]) -> list[_Mark]:
        """Order codes next to a count ('A 20', '20a', 'pedido B ... 10')."""
        tokens = message.tokens
        starts = {m.first for m in counts}
        ends = {m.last for m in counts}
        inside = {i for m in counts for i in range(m.first, m.last + 1)}
        marks = []
        for i in range(lo, hi):
            code = _code_of(tokens[i], message.codes) if i not in blocked and i not in inside else None
            if code is None:
                continue
            before, after = self._neighbour(tokens, i, -1, lo, hi), self._neighbour(tokens, i, 1, lo, hi)
            marker = i > lo and self.isin(tokens[i - 1], self.code_markers)
            suffix = before in ends and self._suffix_code_ok(message, i, hi, blocked)
            if after in starts or marker or suffix:
                marks.append(_Mark(i, i, code=code))
        return marks

    def lone_code(self, message: Message, lo: int, hi: int) -> str | None:
        """The order code that is the whole of tokens[lo:hi] but greetings and thanks ('A', 'la M')."""
        rest = [i for i in range(lo, hi) if not self.isin(message.tokens[i], self.courtesy)]
        if len(rest) == 2 and self.isin(message.tokens[rest[0]], self.code_markers):
            rest = rest[1:]
        if len(rest) != 1:
            return None
        return _code_of(message.tokens[rest[0]], message.codes)

    def _suffix_code_ok(self, message: Message, i: int, hi: int, blocked: Collection[int] = ()) -> bool:
        """Whether a code after a number is meant as one: not the 'a' of '20 a Maria', '20 a 5 bs'."""
        tokens = message.tokens
        if fold(tokens[i].raw) not in self.words.function_words:
            return True
        if i + 1 in blocked:
            return False
        if i + 1 >= hi or tokens[i + 1].kind != "word":
            return True
        return self.isin(tokens[i + 1], self.after_code) or _code_of(tokens[i + 1], message.codes) is not None

    def _is_word_not_code(self, token: Token) -> bool:
        """Whether a short word is an ordinary word rather than an order code."""
        return fold(token.raw) in self.words.not_codes or self.isin(token, self.word_keys)

    def _code_attempts(self, message: Message, lo: int, hi: int, counts: list[_Mark], taken: set[int],
                       exempt: Collection[int]) -> list[_Mark]:
        """Letters meant as an order code that is not active: 'B20', 'MT 20', 'pedido X 20'.

        Marked with the problem "unknown_code" so the bot asks instead of using her usual order.
        A capitalised word right by the count is a code unless it is an ordinary word, so
        lower-case letters ('20 y', 'b 20') stay words unless glued to the number or after
        'pedido'; tokens in `exempt` (where a coordinator types a name) are only codes when glued.
        """
        tokens = message.tokens
        starts = {m.first for m in counts}
        ends = {m.last for m in counts}
        glued_to = {m.first for m in counts if tokens[m.first].kind == "num"}
        marks = []
        for i in range(lo, hi):
            token = tokens[i]
            letters = fold(token.raw)
            if i in taken or token.kind != "word" or not _CODE_LETTERS.fullmatch(letters):
                continue
            ordinary = self._is_word_not_code(token)
            glued = (i + 1 in glued_to and token.end == tokens[i + 1].start) or (
                i - 1 in glued_to and tokens[i - 1].end == token.start
            )
            before, after = self._neighbour(tokens, i, -1, lo, hi), self._neighbour(tokens, i, 1, lo, hi)
            by_count = after in starts or before in ends
            previous = tokens[i - 1] if i > lo else None
            after_marker = previous is not None and self.isin(previous, self.code_markers)
            after_order = previous is not None and self.isin(previous, self.order_words)
            capital = token.raw.isupper() and i not in exempt
            if (
                (glued and (len(letters) == 1 or not ordinary))
                or (capital and by_count and not ordinary)
                or (capital and after_marker and len(letters) == 1 and not ordinary)
                or (after_order and not ordinary)
                or (after_order and letters == "a" and (after in starts or after >= hi))
            ):
                marks.append(_Mark(i, i, code=letters.upper(), problem="unknown_code"))
        return marks

    def marks(self, message: Message, lo: int, hi: int, exempt: Collection[int] = ()) -> list[_Mark]:
        """Counts and codes between tokens[lo:hi], in message order, with unknown code attempts."""
        counts, blocked = self._counts(message, lo, hi)
        found = counts + self._codes(message, lo, hi, counts, blocked)
        if counts:
            taken = blocked | {i for m in found for i in range(m.first, m.last + 1)}
            found += self._code_attempts(message, lo, hi, counts, taken, exempt)
        return sorted(found, key=lambda m: m.first)


def _vocabulary(parser: Parser, orders: tuple[OrderWords, ...]) -> Vocabulary:
    """Each order's words: its code, its garment's words in every language, its item's own
    words, its buyer's name; a word two orders share names both (the bot asks)."""
    words = parser.words
    codes = frozenset(fold(o.code).upper() for o in orders)
    items: dict[str, set[str]] = {}
    phrases: dict[tuple[Phrase, str], set[str]] = {}
    buyer_words: dict[str, set[str]] = {}
    named_kinds = set()
    for order in orders:
        code = fold(order.code).upper()
        head = _head_word(parser, order.item)
        for kind, names in words.garments.items():
            if head and any(len(p) == 1 and p[0] in words.keys(head) for p in names):
                named_kinds.add(kind)
                for p in names:
                    if len(p) == 1:
                        items.setdefault(p[0], set()).add(code)
                    else:
                        phrases.setdefault((p, "item"), set()).add(code)
        for form in _forms(head):
            for key in words.keys(form):
                items.setdefault(key, set()).add(code)
        buyer = [w for w in re.findall(r"[^\W\d_]+", order.buyer) if len(w) >= 3
                 and fold(w) not in words.function_words]
        if len(buyer) > 1:  # "casa textil": a token has every language's keys, one language's do
            phrases.setdefault((words.phrase(words.languages[0], " ".join(buyer)), "buyer"), set()).add(code)
        for w in buyer:
            if len(w) >= 4:
                for key in words.keys(w):
                    if key not in parser.protected:
                        buyer_words.setdefault(key, set()).add(code)
    # With no order's item known, a garment word is just a word for pieces.
    other = frozenset()
    if any(o.item for o in orders):
        other = frozenset(p[0] for kind, names in words.garments.items() if kind not in named_kinds
                          for p in names if len(p) == 1) - frozenset(items)
    fuzzy = tuple((key.split(":", 1)[0], key.split(":", 1)[1], frozenset(c)) for key, c in items.items()
                  if len(key.split(":", 1)[1]) >= 5)
    return Vocabulary(
        codes=codes, items={k: frozenset(v) for k, v in items.items()},
        phrases=tuple((p, frozenset(c), how) for (p, how), c in phrases.items()),
        buyer_words={k: frozenset(v) for k, v in buyer_words.items() if k not in items},
        other=other, fuzzy=fuzzy,
    )


def _head_word(parser: Parser, item: str) -> str:
    """The garment an item names: its first word of three letters or more ('blusas' of 'blusas bordadas')."""
    for word in re.findall(r"[^\W\d_]+", item):
        if len(word) >= 3 and fold(word) not in parser.words.function_words:
            return word
    return ""


def _forms(word: str) -> set[str]:
    """A garment word's singular, plural and diminutive ('cojines' -> cojin, cojines, cojincitos…)."""
    word = fold(word)
    if not word:
        return set()
    stems = {word}
    if word.endswith("es") and len(word) > 4:
        stems.add(word[:-2])
    if word.endswith("s"):
        stems.add(word[:-1])
    forms = set(stems)
    for stem in stems:
        forms |= {stem + "s", stem + "es"}
        if stem[-1] in "aeo":
            forms |= {stem[:-1] + "ita", stem[:-1] + "itas", stem[:-1] + "ito", stem[:-1] + "itos"}
        else:
            forms |= {stem + "ito", stem + "itos", stem + "cito", stem + "citos"}
    return {f for f in forms if len(f) >= 3}


def _index(phrases: dict[str, Iterable[tuple[str, ...]]]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Phrases by the key of their first word."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for name, entries in phrases.items():
        for phrase in entries:
            if phrase:
                index.setdefault(phrase[0], []).append((phrase, name))
    return index


def _unknown(problem: str, **values) -> Intent:
    """An intent the caller must answer with help, saying what was wrong."""
    return Intent(Kind.UNKNOWN, problem=problem, **values)


def _digits_count(raw: str) -> tuple[int, str]:
    """Value or problem of a typed number: '1.500' is 1500, '2.5' is a decimal."""
    groups = re.split(r"[.,]", raw)
    separators = set(re.findall(r"[.,]", raw))
    thousands = len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
    if len(groups) > 1 and not (thousands and len(separators) == 1):
        return 0, "decimal"
    digits = "".join(groups).lstrip("0")
    if len(digits) > 6:  # a phone number, not a count; also keeps int() cheap
        return 0, "too_big"
    value = int(digits) if digits else 0
    if value == 0:
        return 0, "zero"
    return (0, "too_big") if value > MAX_PIECES else (value, "")


def _below_hundred(n: Numbers, keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number under 100 in words at keys[i] ('treinta y cinco', 'twenty five', 'kimsa tunka')."""
    if i >= len(keys):
        return None
    key, after = keys[i], keys[i + 1 : i + 3]
    if key in n.units and after and after[0] in n.times and n.times[after[0]] == 10:
        value = n.units[key] * 10  # Aymara: "kimsa tunka" is three tens, "… mayani" one more
        if len(after) > 1 and after[1] in n.units:
            return value + n.units[after[1]], i + 3
        return value, i + 2
    if key in n.tens and len(after) == 2 and after[0] in n.joins and after[1] in n.units:
        return n.tens[key] + n.units[after[1]], i + 3
    if key in n.tens and (n.tens[key] >= 20 or key in n.times) and after and after[0] in n.units:
        return n.tens[key] + n.units[after[0]], i + 2  # "twenty five", "veinte cinco", "tunka mayani"
    if key in n.prefixes and after and after[0] in n.units:
        return n.prefixes[key] + n.units[after[0]], i + 2  # "veinti tres"
    if key in n.whole:
        return n.whole[key], i + 1
    return None


def _after_join(n: Numbers, keys: Sequence[str], j: int, read) -> tuple[int, int] | None:
    """What follows at keys[j], or after a "y" there ("ciento y cinco", "mil y quinientos")."""
    rest = read(n, keys, j)
    if rest is None and j < len(keys) and keys[j] in n.joins:
        rest = read(n, keys, j + 1)
    return rest


def _below_thousand(n: Numbers, keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number under 1000 in words ('ciento veinte', 'doscientas', 'dos cientos', 'a hundred and five')."""
    if i < len(keys) and keys[i] in n.hundreds:
        rest = _after_join(n, keys, i + 1, _below_hundred)
        if rest:
            return n.hundreds[keys[i]] + rest[0], rest[1]
        return None if keys[i] in n.not_alone else (n.hundreds[keys[i]], i + 1)
    head = keys[i] if i < len(keys) else ""
    if (head in n.units or head in n.a) and i + 1 < len(keys) and keys[i + 1] in n.hundred:
        hundreds, j = n.units.get(head, 1) * 100, i + 2
        rest = _after_join(n, keys, j, _below_hundred)
        return (hundreds + rest[0], rest[1]) if rest else (hundreds, j)
    return _below_hundred(n, keys, i)


def _number_words(n: Numbers, keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number written in one language's words starting at keys[i], with the index after it."""
    head = _below_thousand(n, keys, i)
    start = head[1] if head else i
    if start < len(keys) and keys[start] in n.thousand:
        tail = _after_join(n, keys, start + 1, _below_thousand)
        value = (head[0] if head else 1) * 1000 + (tail[0] if tail else 0)
        return value, tail[1] if tail else start + 1
    return head


def _hours(tokens: Sequence[Token], first: int, last: int) -> bool:
    """Whether tokens[first:last + 1] is one end of 'de 8 a 12', 'from 8 to 12' (hours of the day)."""
    def word(i: int, *raw: str) -> bool:
        return 0 <= i < len(tokens) and tokens[i].kind == "word" and fold(tokens[i].raw) in raw

    def hour(i: int) -> bool:
        token = tokens[i] if 0 <= i < len(tokens) else None
        return token is not None and token.kind == "num" and token.raw.isdigit() and int(token.raw) <= 24

    if first != last or not hour(first):
        return False
    return (word(first - 1, "de", "from") and word(first + 1, "a", "to") and hour(first + 2)) or (
        word(first - 1, "a", "to") and hour(first - 2) and word(first - 3, "de", "from"))


def _code_of(token: Token, codes: frozenset[str]) -> str | None:
    """The order code this word spells, if it is one of the cooperative's codes."""
    if token.kind != "word" or len(token.raw) > 3:
        return None
    code = fold(token.raw).upper()
    return code if code in codes else None


def _items(marks: Sequence[_Mark]) -> tuple[tuple[Item, ...], str]:
    """Pair counts with codes; the problem code when they cannot be read safely."""
    counts = [m for m in marks if m.code is None]
    codes = [m for m in marks if m.code is not None]
    if not counts:
        return (), "no_number"
    if not codes:
        return ((), "several_numbers") if len(counts) > 1 else _checked([(counts[0], None)])
    pattern = "".join("N" if m.code is None else "C" for m in marks)
    if len(codes) != len(counts):
        return (), "mixed_codes"
    if pattern == "CN" * len(codes):  # "A 10 B 5"
        pairs = [(marks[k + 1], marks[k].code) for k in range(0, len(marks), 2)]
    elif pattern == "NC" * len(codes):  # "10 A 5 B"
        pairs = [(marks[k], marks[k + 1].code) for k in range(0, len(marks), 2)]
    else:
        return (), "mixed_codes"
    if len({m.code for m in codes}) < len(codes):
        return (), "several_numbers"  # "A 10 A 5": ask her to send it once
    return _checked(pairs)


def _checked(pairs: Sequence[tuple[_Mark, str | None]]) -> tuple[tuple[Item, ...], str]:
    """Items, or the first count's problem (decimal, zero, too_big)."""
    for mark, _ in pairs:
        if mark.problem:
            return (), mark.problem
    return tuple(Item(mark.value, code) for mark, code in pairs), ""


# --------------------------------------------------------------------------- command arguments
# The readers a command's table entry names: each reads what follows the command's phrase.


def read_correction(message: Message, after: int, name: str = Kind.CORRECT) -> Intent:
    """'corregir 18', 'corrijo, 12 ayer y 5 hoy': what follows the phrase, read as a report is."""
    from bot import reading

    intent = reading.read(message, name, lo=after)
    if not intent.items and not intent.problem and not (intent.orders or intent.day or intent.not_orders):
        intent = reading.read(message, name)
    if intent.kind == name and not (intent.items or intent.orders or intent.day or intent.not_orders):
        return _unknown("missing_count")
    return intent


def _rest_after(message: Message, end: int) -> str:
    """The text typed after tokens[end - 1], without separators at its start."""
    return message.text[message.tokens[end - 1].end :].lstrip(_NAME_EDGES).rstrip()


def read_text(message: Message, end: int, name: str = Kind.BROADCAST) -> Intent:
    """'aviso …': everything after the phrase, as typed."""
    if end >= len(message.tokens):
        return _unknown("missing_text")
    return Intent(name, text=_rest_after(message, end))


def _phone_span(message: Message, i: int) -> tuple[str, int]:
    """The phone number starting at tokens[i] ('+591 7123 4567') and the index after it."""
    tokens, text = message.tokens, message.text
    plus = tokens[i].start > 0 and text[tokens[i].start - 1] == "+"
    digits, j = "", i
    while j < len(tokens) and tokens[j].kind in ("num", "date"):
        if j > i and text[tokens[j - 1].end : tokens[j].start].strip(" -.") != "":
            break
        digits += "".join(c for c in tokens[j].raw if c.isdecimal())
        j += 1
        # Stop once the digits make a whole number, so a count typed after it stays a count.
        if len(digits) >= (10 if plus else 7):
            break
    return ("+" if plus else "") + digits, j


def read_member(message: Message, end: int, name: str = Kind.ADD_MEMBER) -> Intent:
    """'nueva 71234567 Rosa Mamani': a phone and a name, in either order."""
    tokens, text = message.tokens, message.text
    phone_at = next((i for i in range(end, len(tokens)) if tokens[i].kind in ("num", "date")), None)
    if phone_at is None:
        return _unknown("missing_phone")
    phone, after = _phone_span(message, phone_at)
    if not 7 <= len(phone.lstrip("+")) <= 15:
        return _unknown("missing_phone")
    if phone_at > end:
        who = text[tokens[end - 1].end : tokens[phone_at].start].strip(_NAME_EDGES + "+")
    else:
        who = _rest_after(message, after).strip(_NAME_EDGES)
    if not any(c.isalpha() for c in who):
        return _unknown("missing_text")
    return Intent(name, text=who, phone=phone)


def read_record(message: Message, end: int, name: str = Kind.RECORD) -> Intent:
    """'anotar Rosa 20', 'anotar Rosa 20 ayer': a member's name or phone, then what to record for her."""
    p, tokens, text = message.parser, message.tokens, message.text
    if end >= len(tokens):
        return _unknown("missing_text")
    first = tokens[end]
    plus = first.start > 0 and text[first.start - 1] == "+"
    if first.kind == "num" and (plus or len(first.raw) >= 7):
        _, count_from = _phone_span(message, end)
        who = text[first.start - plus : tokens[count_from - 1].end]
    else:
        marks = p.marks(message, end, len(tokens), exempt={end})
        if marks and marks[0].first == end:
            return _record_count_first(message, end, name)
        count_from = marks[0].first if marks else len(tokens)
        who = text[first.start : tokens[count_from - 1].end] if count_from > end else ""
    if not who.strip(_NAME_EDGES):
        return _unknown("missing_text")
    # The name is checked too: "anotar Rosa le faltan 20" must not find Rosa and record 20.
    if p.not_finished_in(tokens, end):
        return _unknown("not_a_report")
    return _recorded(message, count_from, len(tokens), name, who.strip(_NAME_EDGES))


def _recorded(message: Message, lo: int, hi: int, name: str, who: str) -> Intent:
    from bot import reading

    intent = reading.read(message, name, lo=lo, hi=hi, text=who)
    if intent.kind == name and not intent.items:
        return _unknown("missing_count")
    return intent


def _day_in(message: Message, lo: int, hi: int) -> Day | None:
    """The first day named in tokens[lo:hi] ('... Rosa ayer')."""
    from bot import reading

    found = reading._marks(message, lo, hi, [])
    return found.days[min(found.days)][1] if found.days else None


def _record_count_first(message: Message, end: int, name: str) -> Intent:
    """'anotar 20 Rosa', 'anotar 20 a Rosa Mamani', 'anotar A 5 Ines': the count first.

    A capitalised last word is her name ('anotar 20 ANA'), not an order code.
    """
    p, tokens, text = message.parser, message.tokens, message.text
    hi = len(tokens)
    marks = p.marks(message, end, hi, exempt={hi - 1})
    starts = {m.first: m for m in marks}
    j = marks[0].last + 1
    while j < hi:  # the counts and codes typed before the name
        if j in starts:
            j = starts[j].last + 1
        elif p.isin(tokens[j], p.before_name):
            j += 1
        else:
            break
    name_from = j
    while j < hi and j not in starts and not p.isin(tokens[j], p.after_name):
        j += 1
    who = text[tokens[name_from].start : tokens[j - 1].end] if j > name_from else ""
    if not any(c.isalpha() for c in who):
        return _unknown("missing_text")
    if p.not_finished_in(tokens, end):
        return _unknown("not_a_report")
    if any(m.first >= j for m in marks if m.code is None):
        return _unknown("several_numbers")  # "anotar 20 Rosa 5"
    count_end = max(m.last for m in marks if m.first < name_from) + 1
    intent = _recorded(message, end, count_end, name, who.strip(_NAME_EDGES))
    tail_day = _day_in(message, j, hi) if j < hi else None
    if tail_day and intent.kind == name:  # "anotar 20 Rosa ayer"
        items = tuple(Item(i.pieces, i.code, i.day or tail_day, i.choices) for i in intent.items)
        intent = Intent(name, items=items, text=intent.text)
    return intent


def read_language(message: Message, end: int, name: str = Kind.LANGUAGE) -> Intent:
    """'english' alone, or 'idioma en' / 'language spanish'."""
    names, tokens = message.parser.words.language_names, message.tokens
    named = next((names[k] for k in tokens[end - 1].keys if k in names), None)
    if named:  # "english", "espanol"
        return Intent(name, language=named)
    for token in tokens[end : end + 2]:
        found = next((names[k] for k in token.keys if k in names), None) if token.kind == "word" else None
        if found:
            return Intent(name, language=found)
    return _unknown("missing_text")


# --------------------------------------------------------------------------- entry point


@cache
def default_parser() -> Parser:
    """The parser of the handlers' command table and every language's words."""
    from handlers import grammar  # the command table lives with the handlers

    return Parser(word_lists.load(), grammar())


def parse(text: str, orders: Collection[str | OrderWords] = ()) -> Intent:
    """Read one inbound message; `orders` are the active orders of the member's cooperative."""
    return default_parser().parse(text, orders)
