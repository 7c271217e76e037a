"""Read one inbound message into an Intent: piece counts, order codes and commands.

Members type on basic phones: no accents, typos, b/v and c/s/z mixed up, greetings and
thanks around the number. Everything here is pure; the words are data (templates/words/,
bot/words.py) and the commands come from the handlers' table (their names, which of them
take arguments and how those are read). The handlers decide what an intent means for the
sender's role. When a message could mean two things we return UNKNOWN with a problem code
rather than guess, because a wrong count costs a member money.
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
from bot.words import Numbers, Words, fold

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
class Item:
    pieces: int
    code: str | None = None


@dataclass(frozen=True)
class Intent:
    kind: str
    items: tuple[Item, ...] = ()
    language: str | None = None
    text: str = ""
    phone: str = ""
    problem: str = ""


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


@dataclass(frozen=True)
class _Mark:
    first: int  # token index span
    last: int
    value: int = 0
    problem: str = ""  # "decimal", "zero", "too_big" for a count; "unknown_code" for a code
    code: str | None = None  # set for an order code, None for a count


@dataclass
class Message:
    """One message being read: its text, tokens, the cooperative's codes, and the parser."""

    text: str
    tokens: list[Token]
    codes: frozenset[str]
    parser: Parser
    _keys: dict[str, list[str]] = field(default_factory=dict)

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
        self.after_one = t("after_one") | self.pieces | self.courtesy
        # A one-letter function word after a number ("20 a") is a code only before these;
        # before a name or any other word it is a preposition ("20 a Juana").
        self.after_code = self.pieces | (self.courtesy - self.honorifics) | t("after_code")
        self.order_words = t("order")
        self.code_markers = self.order_words | t("before_code")
        self.mistake = t("mistake")
        self.dozens = t("not_finished.dozens")
        self.time = {name: t(f"time.{name}") for name in word_lists.TIME_TABLES}
        self.numbers = [(code, numbers) for code, numbers in words.numbers.items() if numbers.whole]
        self.ones = frozenset(f"{code}:{k}" for code, numbers in words.numbers.items() for k in numbers.one)
        number_words = frozenset(f"{code}:{k}" for code, numbers in words.numbers.items()
                                 for k in numbers.words())
        commands = {name: phrases for name, phrases in words.commands.items() if name in self.grammar}
        self.first_phrases = _index(commands)
        self.anywhere_phrases = _index({name: phrases for name, phrases in words.anywhere.items()
                                        if name in self.grammar})
        self.not_finished = _index({"": words.not_finished})
        not_finished_words = frozenset(p[0] for p in words.not_finished if len(p) == 1)
        self.protected = (self.courtesy | self.pieces | t("done") | t("ordinary") | number_words
                          | frozenset(k for phrases in commands.values() for p in phrases for k in p)
                          | not_finished_words)
        self.word_keys = self.protected | self.time["leads"] | self.time["units"]
        # Typos are forgiven on single words of five letters or more, in their own language.
        self.fuzzy = [(phrase[0], name) for name, phrases in commands.items() for phrase in phrases
                      if len(phrase) == 1 and len(phrase[0].split(":", 1)[1]) >= 5]
        # "anotar 20 blusas a doña Ines": between the count and the name; "… Rosa gracias": after it.
        self.before_name = t("before_name") | self.pieces | self._joins() | (self.courtesy - self.honorifics)
        self.after_name = self.pieces | t("done") | (self.courtesy - self.honorifics)

    def _joins(self) -> frozenset[str]:
        return frozenset(f"{code}:{k}" for code, numbers in self.words.numbers.items() for k in numbers.joins)

    # ----------------------------------------------------------------------- entry point

    def parse(self, text: str, codes: Collection[str] = ()) -> Intent:
        """Read one message; `codes` are the active order codes of the member's cooperative."""
        text = unicodedata.normalize("NFC", text if isinstance(text, str) else "")
        tokens = self.tokenize(text)
        if not tokens:
            return Intent(Kind.HELP) if "?" in text else _unknown("empty")
        message = Message(text, tokens, frozenset(fold(c).upper() for c in codes if c), self)
        command = self._command_at(tokens, self._first_meaningful(tokens))
        syntax = self.grammar.get(command[0]) if command else None
        if syntax is not None and syntax.reader is not None:
            return syntax.reader(message, command[1], syntax.name)
        marks = self.marks(message, 0, len(tokens))
        has_count = any(m.code is None for m in marks)
        if command:
            name, end = command
            if syntax.refuses_count and has_count:
                return _unknown("not_a_report")  # "total 200", "faltan 10": not pieces just made
            if not syntax.alone or (not has_count and self._short_answer(tokens, end)):
                return Intent(name)
        return self._without_command(message, marks, has_count)

    def tokenize(self, text: str) -> list[Token]:
        """Split text into words, numbers, times and dates with their positions."""
        tokens = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or "word"
            raw = match.group()
            keys = self.words.keys(raw) if kind == "word" else frozenset()
            tokens.append(Token(kind, raw, keys, *match.span()))
        return tokens

    def _without_command(self, message: Message, marks: list[_Mark], has_count: bool) -> Intent:
        """A report, or a command found later in the message ('quiero corregir, eran 18')."""
        tokens = message.tokens
        anywhere = self._find_anywhere(tokens)
        correct = self.grammar.get(Kind.CORRECT)
        if anywhere and anywhere[0] == Kind.CORRECT and correct and correct.reader:
            return correct.reader(message, anywhere[1], correct.name)
        if anywhere and not has_count:
            return Intent(anywhere[0])
        if correct and correct.reader and any(self.isin(t, self.mistake) for t in tokens):
            return correct.reader(message, 0, correct.name)
        if any(self.isin(t, self.dozens) for t in tokens):
            return _unknown("not_a_report")  # "una docena", "media docena": we do not multiply
        return self.with_items(Kind.REPORT, marks, not_finished=self.not_finished_in(tokens))

    # ----------------------------------------------------------------------- words

    @staticmethod
    def isin(token: Token, table: frozenset[str]) -> bool:
        """Whether a word is in a table, in any of its languages."""
        return token.kind == "word" and not table.isdisjoint(token.keys)

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

    def _first_meaningful(self, tokens: Sequence[Token]) -> int:
        """Index of the first token that is not a greeting or filler."""
        i = 0
        while i < len(tokens) and self.isin(tokens[i], self.greetings):
            i += 1
        return i

    def _find_anywhere(self, tokens: Sequence[Token]) -> tuple[str, int] | None:
        """The first status/help/undo/correct phrase anywhere in the message."""
        for i in range(len(tokens)):
            found = self._match_phrase(tokens, i, self.anywhere_phrases)
            if found:
                return found
        return None

    def not_finished_in(self, tokens: Sequence[Token]) -> bool:
        """Whether the message says its count is not pieces just finished ('me faltan 10')."""
        for i in range(len(tokens)):
            if not self._match_phrase(tokens, i, self.not_finished):
                continue
            before = tokens[i - 1].keys if i > 0 and tokens[i - 1].kind == "word" else frozenset()
            allowed = set().union(*(self.words.not_finished_after.get(k, ()) for k in tokens[i].keys))
            if before.isdisjoint(allowed):
                return True
        return False

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
        return best

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

    def _counts(self, message: Message, lo: int, hi: int) -> tuple[list[_Mark], set[int]]:
        """Counts between tokens[lo:hi], plus token indices that must not be read as codes."""
        tokens = message.tokens
        marks, blocked, i = [], set(), lo
        while i < hi:
            token = tokens[i]
            if token.kind in ("time", "date"):
                i += 1
                continue
            if token.kind == "num":
                value, problem = _digits_count(token.raw)
                span = (i, i)
            else:
                found = self._number_words(message, i)
                if not found:
                    i += 1
                    continue
                value, end = found
                problem = "zero" if value == 0 else "" if value <= MAX_PIECES else "too_big"
                span = (i, end - 1)
                if not self._is_lone_one(message, i, end - 1, hi):
                    i = end
                    continue
            context = self._context_blocks(message, *span)
            if context is None:
                marks.append(_Mark(span[0], span[1], value, problem))
            else:
                blocked |= context | set(range(span[0], span[1] + 1))
            i = span[1] + 1
        return marks, blocked

    def _neighbour(self, tokens: Sequence[Token], i: int, step: int, lo: int, hi: int) -> int:
        """Index of the nearest token in direction step that is not a piece word."""
        j = i + step
        while lo <= j < hi and self.isin(tokens[j], self.pieces):
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
            if after in starts or marker or (before in ends and self._suffix_code_ok(message, i, hi)):
                marks.append(_Mark(i, i, code=code))
        return marks

    def _suffix_code_ok(self, message: Message, i: int, hi: int) -> bool:
        """Whether a code after a number is meant as one: not the 'a' of '20 a Maria'."""
        tokens = message.tokens
        if fold(tokens[i].raw) not in self.words.function_words:
            return True
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

    def with_items(self, kind: str, marks: Sequence[_Mark], single: bool = False, text: str = "",
                   not_finished: bool = False) -> Intent:
        """An intent carrying counts, or UNKNOWN saying why they cannot be used.

        With a count, `not_finished` (a remaining, future, money or running-total message) wins
        over everything else, then a code that is not an active order's, then the count's own
        problems.
        """
        attempt = next((m for m in marks if m.problem == "unknown_code"), None)
        items, problem = _items([m for m in marks if m.problem != "unknown_code"])
        if problem == "no_number":
            return _unknown("missing_count") if kind != Kind.REPORT else _unknown(problem)
        if not_finished:
            return _unknown("not_a_report")
        if attempt:
            return Intent(Kind.UNKNOWN, text=attempt.code or "", problem="unknown_code")
        if problem:
            return _unknown(problem)
        if single and len(items) > 1:
            return _unknown("several_numbers")
        return Intent(kind, items=items, text=text)


def _index(phrases: dict[str, Iterable[tuple[str, ...]]]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Phrases by the key of their first word."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for name, entries in phrases.items():
        for phrase in entries:
            if phrase:
                index.setdefault(phrase[0], []).append((phrase, name))
    return index


def _unknown(problem: str) -> Intent:
    """An intent the caller must answer with help, saying what was wrong."""
    return Intent(Kind.UNKNOWN, problem=problem)


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
    """A number under 100 in words at keys[i] ('treinta y cinco', 'twenty five')."""
    if i >= len(keys):
        return None
    key, after = keys[i], keys[i + 1 : i + 3]
    if key in n.tens and len(after) == 2 and after[0] in n.joins and after[1] in n.units:
        return n.tens[key] + n.units[after[1]], i + 3
    if key in n.tens and n.tens[key] >= 20 and after and after[0] in n.units:
        return n.tens[key] + n.units[after[0]], i + 2  # "twenty five", "veinte cinco"
    if key in n.prefixes and after and after[0] in n.units:
        return n.prefixes[key] + n.units[after[0]], i + 2  # "veinti tres"
    if key in n.whole:
        return n.whole[key], i + 1
    return None


def _below_thousand(n: Numbers, keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number under 1000 in words ('ciento veinte', 'doscientas', 'a hundred and five')."""
    if i < len(keys) and keys[i] in n.hundreds:
        rest = _below_hundred(n, keys, i + 1)
        if rest:
            return n.hundreds[keys[i]] + rest[0], rest[1]
        return None if keys[i] in n.not_alone else (n.hundreds[keys[i]], i + 1)
    head = keys[i] if i < len(keys) else ""
    if (head in n.units or head in n.a) and i + 1 < len(keys) and keys[i + 1] in n.hundred:
        hundreds, j = n.units.get(head, 1) * 100, i + 2
        if j < len(keys) and keys[j] in n.joins:
            rest = _below_hundred(n, keys, j + 1)
            return (hundreds + rest[0], rest[1]) if rest else (hundreds, j)
        rest = _below_hundred(n, keys, j)
        return (hundreds + rest[0], rest[1]) if rest else (hundreds, j)
    return _below_hundred(n, keys, i)


def _number_words(n: Numbers, keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number written in one language's words starting at keys[i], with the index after it."""
    head = _below_thousand(n, keys, i)
    start = head[1] if head else i
    if start < len(keys) and keys[start] in n.thousand:
        tail = _below_thousand(n, keys, start + 1)
        if not head and not tail:
            return None  # "mil gracias" is thanks, not a thousand pieces
        value = (head[0] if head else 1) * 1000 + (tail[0] if tail else 0)
        return value, tail[1] if tail else start + 1
    return head


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
    """'corregir 18': the count after the phrase, else anywhere in the message."""
    p, tokens = message.parser, message.tokens
    marks = p.marks(message, after, len(tokens))
    if not any(m.code is None for m in marks):
        marks = p.marks(message, 0, len(tokens))
    return p.with_items(name, marks, single=True, not_finished=p.not_finished_in(tokens))


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
    """'anotar Rosa 20': a member's name or phone, then the count(s) to record for her."""
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
    marks = p.marks(message, count_from, len(tokens))
    # The name is checked too: "anotar Rosa le faltan 20" must not find Rosa and record 20.
    not_finished = p.not_finished_in(tokens)
    return p.with_items(name, marks, text=who.strip(_NAME_EDGES), not_finished=not_finished)


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
    not_finished = p.not_finished_in(tokens)
    return p.with_items(name, marks, text=who.strip(_NAME_EDGES), not_finished=not_finished)


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


def parse(text: str, codes: Collection[str] = ()) -> Intent:
    """Read one inbound message; `codes` are the active order codes of the member's cooperative."""
    return default_parser().parse(text, codes)
