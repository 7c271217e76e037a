"""How a report is read: a message's clauses, what governs each count, its order and its day.

A member writes the way she talks: "hice 20 ayer y 10 hoy", "hice 25 señora, mañana le llevo",
"16 de 20 que me dieron", "hice 20 pero 2 salieron mal", "me equivoque eran 15 no 20". The
message is cut into clauses (at punctuation, at "y", "pero", "que", at a second day), and
each count is read in its own clause:

- what governs it: the nearest "hice" or veto word before it ("me faltan 10", "voy a hacer
  20", "me dieron 30"), else the nearest after it ("20 por dia"); a veto drops only the counts
  it governs, so a clear "hice 25" is recorded whatever else the message says;
- what it is: pieces she made, or what she was given ("de 20"), pieces with a fault (taken
  off the count before), "18 buenas" (what counts), a count she denies ("no 20"), a total she
  restates ("son 35"), a count she replaces ("hice 25 digo 24");
- which order: a code, the garment or the buyer she names in its clause, else the only one the
  message names; and which day: the day word of its clause, else of the clause before.

Counts on one order and day are added when the message says so ("5 y 5", "en la mañana 8 en
la tarde 7"); otherwise two numbers are a question, never a sum. Whatever the message says
without a count (an order, a day, a count she denies, "perdon", "no se") goes into the intent
for the handlers, who know what she was asked and what she reported before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.parsing import Day, Intent, Item, Kind, Message, Ref, Token

_SENTENCE = frozenset(".;!?¡¿\n")
_COMMA = frozenset(",")
# How a clause joins the one before it.
PLUS, OR, BUT, COMMA, SENTENCE, REPLACE, DAY, MINUS = (
    "plus", "or", "but", "comma", "sentence", "replace", "day", "minus")
_KEEP = ("done", "good", "defect", "minus")
_NOTE_VETOES = frozenset({"delivered", "given", "told", "money"})


@dataclass
class _Count:
    first: int
    last: int
    value: int
    problem: str
    clause: int = 0
    role: str = "done"  # done, good, defect; or dropped as vetoed, given, negated, restated, replaced
    group: str = ""  # the veto's group
    ref: frozenset[str] | None = None  # the orders it is for (several: to choose)
    how: str = ""
    day: Day | None = None
    part: str = ""
    between: bool = False  # "entre 20 y 25"
    guessed: bool = False  # "unos 20", "20 creo"


@dataclass
class _Clause:
    lo: int
    hi: int
    joiner: str  # how it joins the clause before
    day: Day | None = None
    part: str = ""
    counts: list[_Count] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    vetoed: bool = False
    day_first: int | None = None  # where its day word is
    part_first: int | None = None
    punctuated: bool = False  # a comma or stop before it, besides its joining word
    days: list[tuple[int, Day]] = field(default_factory=list)  # every day word in it, where


@dataclass
class _Marks:
    """What the words of the message are, by token index."""

    days: dict[int, tuple[int, Day]] = field(default_factory=dict)  # first -> (end, day)
    parts: dict[int, tuple[int, str]] = field(default_factory=dict)  # first -> (end, part)
    vetoes: list[tuple[int, int, str]] = field(default_factory=list)
    covered: set[int] = field(default_factory=set)  # inside a count, a veto or a day


def read(message: Message, kind: str, *, lo: int = 0, hi: int | None = None, text: str = "") -> Intent:
    """Read tokens[lo:hi] as a report (or a correction, or a coordinator's record)."""
    p, tokens = message.parser, message.tokens
    hi = len(tokens) if hi is None else hi
    marks, blocked = p._counts(message, lo, hi)
    both = _both(message, lo, hi)
    marks = [m for m in marks if m.first not in both]  # "las dos" answers "which order?": both
    if any(not m.problem for m in marks):  # "hice 12. llamame al 71598234": a phone is no count
        marks = [m for m in marks if not (m.problem == "too_big" and _phone(tokens[m.first]))]
    marks = [m for n, m in enumerate(marks) if not _weekday_date(message, m, marks[n + 1:])]
    code_marks = p._codes(message, lo, hi, marks, blocked)
    counts = [_Count(m.first, m.last, m.value, m.problem) for m in marks]
    found = _marks(message, lo, hi, counts)
    refs = _refs(message, lo, hi, counts, code_marks, found)
    clauses = _clauses(message, lo, hi, counts, refs, found)
    _govern(message, clauses, found, _correction(message, lo, hi, kind))
    _roles(message, clauses, counts)
    _doubts(message, clauses)
    problem = _attach(message, clauses)
    attempt = None
    if any(c.role in _KEEP for c in counts):
        taken = blocked | {i for m in marks + code_marks for i in range(m.first, m.last + 1)}
        attempts = p._code_attempts(message, lo, hi, marks, taken, ())
        attempt = attempts[0].code if attempts else None
    return _intent(message, kind, lo, hi, clauses, counts, refs, found, problem, attempt, text)


# --------------------------------------------------------------------------- what the words are


def _code_of_token(message: Message, i: int) -> str | None:
    from bot.parsing import _code_of

    return _code_of(message.tokens[i], message.codes)


def _weekday_date(message: Message, mark, later) -> bool:
    """'jueves 26: 8 chalinas': the number after a weekday is its date when a count follows."""
    p, tokens = message.parser, message.tokens
    before = tokens[mark.first - 1] if mark.first > 0 else None
    return (before is not None and not before.keys.isdisjoint(p.words.weekdays) and 1 <= mark.value <= 31
            and any(m.first == mark.last + 1 for m in later))


def _phone(token: Token) -> bool:
    return token.kind == "num" and sum(c.isdigit() for c in token.raw) >= 7


def _both(message: Message, lo: int, hi: int) -> set[int]:
    """'las dos' as a short answer (both orders), not 'termine las dos blusas' nor 'a las dos'."""
    p, tokens = message.parser, message.tokens
    meant = [i for i in range(lo, hi) if not p.isin(tokens[i], p.courtesy)]
    if len(meant) > 8:
        return set()
    for i in range(lo, hi):
        end = p.phrase(tokens, i, "both")
        if not end or (i > lo and fold_raw(tokens[i - 1]) in ("a", "hasta", "desde", "entre", "at")):
            continue  # "nos vemos a las dos"
        named = end < hi and (p.isin(tokens[end], p.pieces | p.garment_words)
                              or p._word_ref(message.vocabulary, tokens[end], end))
        alone = len(meant) <= 4 or end == hi or "," in message.text[tokens[end - 1].end:tokens[end].start]
        if not named and alone:
            return set(range(i, end))
    return set()


def _marks(message: Message, lo: int, hi: int, counts: Sequence[_Count]) -> _Marks:
    p, tokens = message.parser, message.tokens
    found = _Marks()
    found.covered = {i for c in counts for i in range(c.first, c.last + 1)}
    for first, end, group in p.vetoes(tokens, lo, hi):
        if not found.covered.intersection(range(first, end)):
            found.vetoes.append((first, end, group))
    vetoed = {i for first, end, _ in found.vetoes for i in range(first, end)}
    i = lo
    while i < hi:
        day = p._match_phrase(tokens, i, p.days)
        part = p._match_phrase(tokens, i, p.day_parts_index)
        weekday = next((p.words.weekdays[k] for k in tokens[i].keys if k in p.words.weekdays), None) \
            if tokens[i].kind == "word" else None
        if i in vetoed and not (day and part):  # "hasta hoy" is a running total, not a day
            i += 1
            continue
        if part:
            found.parts[i] = (min(part[1], hi), " ".join(t.raw.lower() for t in tokens[i:part[1]]))
        vague = p._match_phrase(tokens, i, p.vague_days)
        if vague:  # "la semana pasada": which day?
            found.days[i] = (min(vague[1], hi), VAGUE)
            i = vague[1]
            continue
        ago = _days_ago(message, i, hi)
        if ago is not None:  # "hace dos dias"
            found.days[i] = (i + 3, Day(ago=ago))
            i += 3
            continue
        if day:
            found.days[i] = (min(day[1], hi), Day(ago=_AGO[day[0]]))
        elif weekday is not None:
            found.days[i] = (i + 1, Day(weekday=weekday))
        ends = [e for e, _ in (found.days.get(i, (i + 1, None)), found.parts.get(i, (i + 1, "")))]
        i = max(ends) if (day or part or weekday is not None) else i + 1
    for i in range(lo, hi - 1):  # "el 25 hice 10": the 25th; "el 25 de noviembre"
        if fold_raw(tokens[i]) == "el" and tokens[i + 1].kind == "num" and tokens[i + 1].raw.isdigit() \
                and 1 <= int(tokens[i + 1].raw) <= 31 and i + 1 not in found.covered and i not in found.days \
                and p._context_blocks(message, i + 1, i + 1) is not None:
            month, end = None, i + 2
            if end + 1 < hi and p.isin(tokens[end], p.time["of"]):
                month = next((p.words.months[k] for k in tokens[end + 1].keys if k in p.words.months), None)
                end = end + 2 if month else end
            found.days[i] = (min(end, hi), Day(of_month=int(tokens[i + 1].raw), month=month))
    for first, (end, _) in list(found.days.items()) + list(found.parts.items()):
        found.covered |= set(range(first, end))
    for i in range(lo, hi):  # "mas o menos 15", "20 y pico": no "o", no "y" to cut at
        for table in ("guess", "guess_after"):
            end = p.phrase(tokens, i, table)
            if end and end - i > 1:
                found.covered |= set(range(i, end))
    found.covered |= vetoed
    return found


_AGO = {"today": 0, "yesterday": 1, "before_yesterday": 2}
VAGUE = Day(ago=-1)  # a day she did not name: "la semana pasada"


def _days_ago(message: Message, i: int, hi: int) -> int | None:
    """'hace dos dias', 'hace 3 dias': how many days ago, up to a week."""
    p, tokens = message.parser, message.tokens
    if i + 2 >= hi + 1 or not p.isin(tokens[i], p.ago_words) or i + 2 >= len(tokens):
        return None
    number = tokens[i + 1]
    value = int(number.raw) if number.kind == "num" and number.raw.isdigit() else None
    if value is None:
        found = p._number_words(message, i + 1)
        value = found[0] if found and found[1] == i + 2 else None
    unit = tokens[i + 2]
    if value is None or not 1 <= value <= 6 or fold_raw(unit) not in ("dias", "dia", "days", "day"):
        return None
    return value


def _refs(message: Message, lo: int, hi: int, counts: Sequence[_Count], code_marks,
          found: _Marks) -> list[Ref]:
    """The words naming an order: codes by a count, garments, buyers (a buyer's single word only
    after "de"/"para" or by a count, so "en la casa" is no order)."""
    p, tokens = message.parser, message.tokens
    inside = {i for c in counts for i in range(c.first, c.last + 1)}
    refs = [Ref(m.first, m.last, frozenset({m.code}), "code") for m in code_marks]
    code_at = {m.first for m in code_marks}
    lone = p.lone_code(message, lo, hi) if not counts else None
    if lone and not code_marks:
        i = next(i for i in range(lo, hi) if tokens[i].kind == "word" and not p.isin(tokens[i], p.courtesy)
                 and not p.isin(tokens[i], p.code_markers))
        refs.append(Ref(i, i, frozenset({lone}), "code"))
    for i in range(lo + 2, hi):  # "hice 20 de A y M": the second code named with the first
        code = _code_of_token(message, i)
        if code and i not in code_at and (p.isin(tokens[i - 1], p.table("plus")) or p.isin(
                tokens[i - 1], p.table("or"))) and any(r.last == i - 2 and r.how == "code" for r in refs):
            refs.append(Ref(i, i, frozenset({code}), "code"))
            code_at.add(i)
    starts, ends = {c.first for c in counts}, {c.last for c in counts}
    for ref in p.refs(message, lo, hi):
        if inside.intersection(range(ref.first, ref.last + 1)) or ref.first in code_at:
            continue
        if ref.how == "buyer?":
            before = tokens[ref.first - 1] if ref.first > lo else None
            by_count = p._neighbour(tokens, ref.first, -1, lo, hi) in ends or \
                p._neighbour(tokens, ref.last, 1, lo, hi) in starts
            marked = before is not None and (p.isin(before, p.table("of")) or p.isin(before, p.table("for"))
                                             or p.isin(before, p.order_words))
            if not (by_count or marked):
                continue
            ref = Ref(ref.first, ref.last, ref.codes, "buyer")
        refs.append(ref)
    return sorted(refs, key=lambda r: r.first)


# --------------------------------------------------------------------------- clauses


def _clauses(message: Message, lo: int, hi: int, counts: Sequence[_Count], refs: Sequence[Ref],
             found: _Marks) -> list[_Clause]:
    """The message cut at punctuation, joining words, and a second day or part of the day."""
    p, tokens, text = message.parser, message.tokens, message.text
    count_at = {c.first: c for c in counts}
    clauses = [_Clause(lo, lo, "")]
    skip_to = lo
    for k in range(lo, hi):
        if k < skip_to:
            continue
        current = clauses[-1]
        gap = text[tokens[k - 1].end : tokens[k].start] if k > lo else ""
        joiner = SENTENCE if _SENTENCE.intersection(gap) else COMMA if _COMMA.intersection(gap) else \
            PLUS if "+" in gap and k in count_at else ""
        stop = p.phrase(tokens, k, "stops") if k not in found.covered else None
        if stop:  # "punto", "coma", said to the phone
            clauses.append(_Clause(stop, stop, SENTENCE))
            skip_to = stop
            continue
        word_joiner, end = _joining_word(message, k, hi, found, count_at)
        if word_joiner:
            clauses.append(_Clause(end, end, word_joiner, punctuated=bool(joiner)))
            skip_to = end
            continue
        if not joiner and k in found.days and current.day_first is not None and current.counts:
            joiner = DAY
        if not joiner and k in found.parts and current.part_first is not None and current.counts:
            joiner = DAY
        if joiner and k > lo:
            clauses.append(_Clause(k, k, joiner))
            current = clauses[-1]
        current.hi = k + 1
        if k in count_at:
            current.counts.append(count_at[k])
        if k in found.days:
            current.days.append((k, found.days[k][1]))
        if k in found.days and current.day_first is None:
            current.day_first, current.day = k, found.days[k][1]
        if k in found.parts and current.part_first is None:
            current.part_first, current.part = k, found.parts[k][1]
    for index, clause in enumerate(clauses):
        clause.refs = [r for r in refs if clause.lo <= r.first < max(clause.hi, clause.lo + 1)]
        for count in clause.counts:
            count.clause = index
    return _fold_interjections(message, clauses)


def _joining_word(message: Message, k: int, hi: int, found: _Marks, count_at) -> tuple[str, int]:
    """Whether tokens[k] joins two clauses ('y', 'o', 'pero', 'digo'), and where the next begins."""
    p, tokens = message.parser, message.tokens
    if k in found.covered or tokens[k].kind != "word":
        return "", k
    end = p.phrase(tokens, k, "replace")
    if end:
        return REPLACE, end
    if p.phrase(tokens, k, "dont_know") or p.phrase(tokens, k, "both"):
        return "", k
    if p.isin(tokens[k], p.table("or")) and len(tokens[k].raw) <= 2:
        return OR, k + 1
    if p.isin(tokens[k], p.table("plus")):
        if fold_raw(tokens[k]) in ("mas", "more") and not _count_follows(message, k + 1, hi, count_at):
            return "", k  # "20 blusas mas": a new batch, said with "mas"
        return PLUS, k + 1
    if p.isin(tokens[k], p.table("but")):
        return BUT, k + 1
    if p.isin(tokens[k], p.table("minus")) and _count_follows(message, k + 1, hi, count_at):
        return MINUS, k + 1
    if p.isin(tokens[k], p.table("sorry")) and any(i < k for i in count_at) and k + 1 < hi and (
            k + 1 in count_at or p._word_ref(message.vocabulary, tokens[k + 1], k + 1)):
        return REPLACE, k + 1  # "termine 20 bluzas perdon manteles"
    return "", k


def fold_raw(token: Token) -> str:
    return token.raw.casefold()


def _count_follows(message: Message, j: int, hi: int, count_at) -> bool:
    p, tokens = message.parser, message.tokens
    while j < hi and tokens[j].kind == "word" and p.isin(tokens[j], p.pieces | p.garment_words):
        j += 1
    return j in count_at


def _fold_interjections(message: Message, clauses: list[_Clause]) -> list[_Clause]:
    """A clause that is only "no" or "perdon" ('hice 20, no, 22') says the next one replaces."""
    p, tokens = message.parser, message.tokens
    kept: list[_Clause] = []
    replace_next = False
    for clause in clauses:
        sorry = p.table("sorry")
        words = [t for t in tokens[clause.lo:clause.hi] if not p.isin(t, p.courtesy) or p.isin(t, sorry)]
        only_no = bool(words) and all(p.isin(t, p.table("no")) or p.isin(t, sorry) for t in words)
        if kept and only_no and not clause.counts and not clause.refs:
            replace_next = True
            continue
        if not words and not clause.counts and kept:
            continue
        if replace_next:
            clause.joiner, replace_next = REPLACE, False
        elif kept and words and p.isin(words[0], p.table("sorry")) and clause.joiner != SENTENCE:
            clause.joiner = REPLACE  # "hice 20 blusas, perdon manteles"
        kept.append(clause)
    for index, clause in enumerate(kept):
        for count in clause.counts:
            count.clause = index
    return kept


# --------------------------------------------------------------------------- what governs each count


def _govern(message: Message, clauses: Sequence[_Clause], found: _Marks, correction: str = "") -> None:
    """Drop the counts a veto governs: the nearest marker before a count, else after it, decides;
    a clause with no marker of its own ("voy a hacer 20 blusas y 10 manteles") follows the one before."""
    p, tokens = message.parser, message.tokens
    previous: tuple[int, str] | None = None
    hold = any(group == "hold" for _, _, group in found.vetoes)
    for clause in clauses:
        markers = [(i, "done") for i in range(clause.lo, clause.hi)
                   if p.isin(tokens[i], p.done) and i not in found.covered]
        today = any(d.ago == 0 for f, (_, d) in found.days.items() if clause.lo <= f < clause.hi) or any(
            fold_raw(t) in ("semana", "week") for t in tokens[clause.lo:clause.hi])
        markers += [(first, group) for first, end, group in found.vetoes if clause.lo <= first < clause.hi
                    and not ((correction or today) and group == "total")]  # "perdon, en total 18"
        markers.sort()
        if not markers and clause.joiner in (PLUS, COMMA) and previous is not None:
            markers = [previous]
        for count in clause.counts:
            before = [m for m in markers if m[0] < count.first]
            after = [m for m in markers if m[0] > count.last]
            governor = before[-1] if before else (after[0] if after else markers[0] if markers and
                                                                    markers[0][0] < clause.lo else None)
            if governor is not None and governor[1] != "done":
                count.role, count.group = "vetoed", governor[1]
            elif governor is None and _asked(message, count):
                count.role, count.group = "vetoed", "question"  # "cuanto pagan por blusa, 15 o 20 bs?"
            if hold:
                count.role, count.group = "vetoed", "hold"  # "termine 20 pero no las cuentes todavia"
        numbered = clause.counts or any(tokens[i].kind == "num" for i in range(clause.lo, clause.hi))
        previous = markers[-1] if markers and numbered else None
        clause.vetoed = bool(clause.counts) and all(c.role == "vetoed" for c in clause.counts)


def _asked(message: Message, count: _Count) -> bool:
    """Whether the words after a count, to the next comma or stop, end in a question ("15 o 20 bs?")."""
    rest = message.text[message.tokens[count.last].end:]
    end = next((i for i, ch in enumerate(rest) if ch in ",.;!\n?"), None)
    return end is not None and rest[end] == "?"


def _roles(message: Message, clauses: Sequence[_Clause], counts: Sequence[_Count]) -> None:
    """What each remaining count is: made, given, denied, restated, replaced, faulty or good."""
    p, tokens = message.parser, message.tokens
    earlier: list[_Count] = []
    for index, clause in enumerate(clauses):
        words = tokens[clause.lo:clause.hi]
        for count in clause.counts:
            near = tokens[count.last + 1:min(count.last + 4, clause.hi)]  # "2 salieron mal", "18 buenas"
            good = any(p.isin(t, p.table("good")) for t in near[:2])
            faulty = any(p.isin(t, p.table("defects")) for t in near)
            if count.role != "done":
                continue
            if _negated(message, count.first, clause.lo):
                count.role = "negated"
            elif _after(message, count.first, clause.lo, ("of",)) or _after(message, count.first, clause.lo,
                                                                             ("with",)):
                count.role = "given"  # "16 de 20", "con las 20 de ayer"
            elif _restated(message, count, counts, clause.lo) or _split(message, count, counts):
                count.role = "restated"
            elif good and any(c.role in _KEEP for c in earlier):
                count.role = "good"
            elif clause.joiner == MINUS and any(c.role in _KEEP for c in earlier):
                count.role = "minus"  # "3 docenas menos 2": she did the sum herself
            elif faulty and any(c.role in _KEEP for c in earlier):
                count.role = "defect"
            if count.role in _KEEP:
                if clause.joiner == REPLACE and index > 0 and earlier and earlier[-1].role in _KEEP \
                        and earlier[-1].clause < index:
                    earlier[-1].role = "replaced"
                earlier.append(count)
        if clause.joiner == REPLACE and not clause.counts and clause.refs and earlier:
            # "hice 20 blusas, perdon manteles": the order is replaced, the count stays
            last = max(c.clause for c in earlier)
            named = frozenset().union(*(r.codes for r in clause.refs))
            for count in earlier:
                if count.clause == last:
                    count.ref, count.how = named, clause.refs[0].how
            clause.refs = []
        if not clause.counts and any(p.isin(t, p.table("defects")) for t in words) \
                and any(p.isin(t, p.table("all")) for t in words):
            for count in earlier:  # "pero todas salieron mal"
                if count.role in _KEEP:
                    count.role = "replaced"


def _doubts(message: Message, clauses: Sequence[_Clause]) -> None:
    """'entre 20 y 25' is one or the other; 'unos 20', 'creo que 20', '20 creo' is a guess."""
    p, tokens = message.parser, message.tokens
    for clause in clauses:
        for count in clause.counts:
            j = count.first - 1
            if j >= 0 and fold_raw(tokens[j]) == "que":  # "creo que 15"
                j -= 1
            count.between = j >= clause.lo and p.isin(tokens[j], p.table("between"))
            before = any(p.phrase(tokens, k, "guess") == j + 1 for k in range(max(j - 3, 0), j + 1))
            after = count.last + 1 < len(tokens) and bool(p.phrase(tokens, count.last + 1, "guess_after"))
            count.guessed = before or after


def _skipped(message: Message, i: int, lo: int, tables: Sequence[str]) -> int:
    """The index before tokens[i], skipping words of these tables."""
    p, tokens = message.parser, message.tokens
    j = i - 1
    while j >= lo and tokens[j].kind == "word" and any(p.isin(tokens[j], p.table(t)) for t in tables):
        j -= 1
    return j


def _negated(message: Message, i: int, lo: int) -> bool:
    """'no 20', 'no hice 20', 'no eran 20', 'not 15'."""
    p, tokens = message.parser, message.tokens
    j = i - 1
    verbs = p.future_words  # "no pude terminar las 20"
    while j >= lo and tokens[j].kind == "word" and (
            p.isin(tokens[j], p.done) or p.isin(tokens[j], p.table("have")) or p.isin(tokens[j], p.mistake)
            or p.isin(tokens[j], p.table("of_articles")) or p.isin(tokens[j], verbs)):
        j -= 1
    return j >= lo and p.isin(tokens[j], p.table("no"))


def _after(message: Message, i: int, lo: int, tables: Sequence[str]) -> bool:
    """Whether tokens[i] comes right after a word of these tables (an article between allowed)."""
    p, tokens = message.parser, message.tokens
    j = i - 1
    if j >= lo and p.isin(tokens[j], p.table("of_articles")):
        j -= 1
    return j >= lo and any(p.isin(tokens[j], p.table(t)) for t in tables)


def _split(message: Message, count: _Count, counts: Sequence[_Count]) -> bool:
    """'hice 20, 10 de blusas y 10 de manteles': a count the counts after it add up to, each on
    an order or a day of its own."""
    p, tokens = message.parser, message.tokens
    later = [c for c in counts if c.first > count.last and c.role not in ("vetoed",)]
    if len(later) < 2 or sum(c.value for c in later) != count.value:
        return False

    def named(c: _Count) -> bool:
        near = range(max(c.first - 3, 0), min(c.last + 4, len(tokens)))
        return any(p._word_ref(message.vocabulary, tokens[i], i) or p.isin(tokens[i], p.day_words)
                   or (tokens[i].kind == "word" and _code_of_token(message, i)) for i in near)
    return all(named(c) for c in later)


def _restated(message: Message, count: _Count, counts: Sequence[_Count], lo: int) -> bool:
    """'son 35' after 15 and 20: the sum of the other counts, said again."""
    p, tokens = message.parser, message.tokens
    j = count.first - 1
    if j < lo or not (p.isin(tokens[j], p.table("restate")) or tokens[j].raw in ("=",)):
        return False
    others = [c.value for c in counts if c is not count and c.role != "vetoed" and c.first < count.first]
    if len(others) < 1:
        return False
    products = {a * b for n, a in enumerate(others) for b in others[n + 1:]}
    return count.value == sum(others) or count.value in products


# --------------------------------------------------------------------------- orders and days


def _attach(message: Message, clauses: Sequence[_Clause]) -> str:
    """Give each count its order and day; the problem when they cannot be read safely."""
    problem = ""
    previous_day: Day | None = None
    previous_part = ""
    for index, clause in enumerate(clauses):
        if clause.joiner == REPLACE and clause.day is not None and not clause.counts and index:
            counted = [c for c in clauses[:index] if c.counts]
            if counted:  # "hice 10 ayer, digo hoy"
                counted[-1].day, counted[-1].days = clause.day, [(clause.day_first, clause.day)]
    for index, clause in enumerate(clauses):
        if clause.day is None and clause.joiner != SENTENCE and index and previous_day is not None:
            clause.day = previous_day
        if not clause.part and clause.joiner != SENTENCE and index and previous_part and not clause.day:
            clause.part = previous_part
        previous_day, previous_part = clause.day, clause.part
        refs = [r for r in clause.refs if not _negated_ref(message, clauses, r)]
        kept = [c for c in clause.counts if c.role in _KEEP]
        for count in kept:  # "de las q me diste el martes hoy termine 15": the day nearest the count
            nearest = min(clause.days, key=lambda d: abs(d[0] - count.first), default=None)
            count.day, count.part = nearest[1] if nearest else clause.day, clause.part
        kept = [c for c in kept if c.ref is None]
        if not kept or not refs:
            continue
        problem = problem or _pair(kept, refs)
    _lend(message, clauses)
    _or_choices(message, clauses)
    return problem


def _lend(message: Message, clauses: Sequence[_Clause]) -> None:
    """A count with no order of its own takes the order the message names elsewhere: 'termine las
    blusas, 16' (a clause naming only the order), '10 blusas y 10 mas' (the same again)."""
    p, tokens = message.parser, message.tokens
    alone = {r.codes for clause in clauses
             if not clause.vetoed and not any(c.role in _KEEP for c in clause.counts)
             for r in clause.refs if not _negated_ref(message, clauses, r)}
    attached = {c.ref for clause in clauses for c in clause.counts if c.role in _KEEP and c.ref is not None}
    for clause in clauses:
        for count in clause.counts:
            if count.role not in _KEEP or count.ref is not None:
                continue
            again = any(p.isin(t, p.table("again")) for t in tokens[clause.lo:clause.hi])
            if len(alone) == 1 and not attached:
                count.ref, count.how = next(iter(alone)), "item"
            elif again and not alone and len(attached) == 1:
                count.ref, count.how = next(iter(attached)), "item"


def _only_refs(message: Message, clause: _Clause) -> bool:
    """Whether a clause is nothing but orders named ('y manteles', 'de lo de Andes')."""
    p, tokens = message.parser, message.tokens
    inside = {i for r in clause.refs for i in range(r.first, r.last + 1)}
    filler = p.table("of_articles") | p.table("of") | p.courtesy | p.code_markers
    return all(i in inside or p.isin(tokens[i], filler) or fold_raw(tokens[i]) == "lo"
               for i in range(clause.lo, clause.hi))


def _pair(kept: list[_Count], refs: list[Ref]) -> str:
    """Counts and the orders named in one clause: one order for all, or one each in turn."""
    merged: list[Ref] = []
    for ref in refs:
        if merged and merged[-1].codes == ref.codes:
            continue
        if any(m.codes == ref.codes for m in merged) and len(kept) == 1:
            continue
        merged.append(ref)
    if len({r.codes for r in merged}) == 1:
        for count in kept:
            count.ref, count.how = merged[0].codes, merged[0].how
        return ""
    if len(kept) == 1:  # "A 20 manteles": two orders for one count, ask
        kept[0].ref = frozenset().union(*(r.codes for r in merged))
        kept[0].how = "several"
        return ""
    if len(merged) != len(kept):
        return "mixed_codes"
    order = sorted([(c.first, "N") for c in kept] + [(r.first, "R") for r in merged])
    pattern = "".join(kind for _, kind in order)
    if pattern == "RN" * len(kept):
        pairs = zip(kept, merged, strict=True)
    elif pattern == "NR" * len(kept):
        pairs = zip(kept, merged, strict=True)
    else:
        return "mixed_codes"
    for count, ref in pairs:
        count.ref, count.how = ref.codes, ref.how
    return ""


def _or_choices(message: Message, clauses: Sequence[_Clause]) -> None:
    """'hice 20 de lo de Andes o de Casa Textil', 'hice 20 entre blusas y manteles', 'manteles y
    chalinas 10': one count, two orders named, and she did not say how many of each."""
    for index, clause in enumerate(clauses[1:], 1):
        before = clauses[index - 1]
        if clause.joiner not in (OR, PLUS) or not index:
            continue
        strict = clause.joiner == PLUS  # "y manteles" must be only that; "o de Casa Textil, no se" need not
        if clause.punctuated and strict:
            continue
        only = not strict or _only_refs(message, clause)
        if not clause.counts and clause.refs and before.counts and only:
            counts, refs = before.counts, clause.refs
        elif not before.counts and before.refs and clause.counts and _only_refs(message, before):
            counts, refs = clause.counts, before.refs
        else:
            continue
        for count in counts:
            if count.role in _KEEP:
                count.ref = (count.ref or frozenset()) | frozenset().union(*(r.codes for r in refs))
                count.how = "several"


# --------------------------------------------------------------------------- the intent


def _intent(message: Message, kind: str, lo: int, hi: int, clauses: Sequence[_Clause],
            counts: Sequence[_Count], refs: Sequence[Ref], found: _Marks, problem: str,
            attempt: str | None, text: str) -> Intent:
    p, tokens = message.parser, message.tokens
    words = tokens[lo:hi]
    kept = [c for c in counts if c.role in _KEEP]
    if any(c.problem == "zero" for c in kept) and len(counts) > 1:  # "manteles 0", "un 0 de mas"
        kept = [c for c in kept if c.problem != "zero"]
    correction = _correction(message, lo, hi, kind)
    context = {
        "old": tuple(c.value for c in counts if c.role in ("negated", "replaced") and c.value),
        "correction": correction,
        "again": any(p.isin(t, p.table("again")) for i, t in enumerate(words, lo)
                     if not _is_joiner(message, clauses, i)),
        "note": _note(message, lo, hi, counts),
        "answer": _answer(message, lo, hi),
        "text": text,
    }
    result_kind = Kind.CORRECT if correction and kind == Kind.REPORT else kind
    countless = {id(r) for clause in clauses if not any(c.role in _KEEP for c in clause.counts)
                 for r in clause.refs}
    orders = tuple(sorted({code for r in refs if not _negated_ref(message, clauses, r)
                           and (id(r) in countless or not _used(r, kept)) for code in r.codes}))
    not_orders = tuple(sorted({code for r in refs if _negated_ref(message, clauses, r) for code in r.codes}))
    days = [d for _, d in found.days.values()]
    lone_day = days[0] if days and not kept else None
    if not kept:
        return _without_counts(message, kind, result_kind, counts, orders, not_orders, lone_day, context,
                               words)
    if attempt:
        return Intent(Kind.UNKNOWN, text=attempt, problem="unknown_code")
    real = [c for c in kept if c.problem != "zero"] or kept
    bad = next((c.problem for c in real if c.problem), "")
    if bad:
        return Intent(Kind.UNKNOWN, problem=bad)
    if problem:
        return Intent(Kind.UNKNOWN, problem=problem)
    if _two_days(message, clauses) or _day_unclear(message, clauses, real):
        return Intent(Kind.UNKNOWN, problem="which_day")
    items, problem = _items(clauses, real)
    if problem:
        return Intent(Kind.UNKNOWN, problem=problem, note=context["note"])
    if kind == Kind.CORRECT and len(items) > 1 and len({(i.code, i.day) for i in items}) < len(items):
        return Intent(Kind.UNKNOWN, problem="several_numbers")
    total = bool(correction) and any(group == "total" for _, _, group in found.vetoes)
    # A guess ("unos 20"), or pieces with a fault taken off ("hice 20 pero 2 salieron mal"): the
    # bot asks "¿Anoto 18 en A?" and records once she says si.
    doubtful = any(c.guessed or c.role == "defect" for c in real) or _unfinished_among(message, clauses, real)
    return Intent(result_kind, items=items, orders=orders, not_orders=not_orders,
                  unsure=doubtful, reason="total" if total else "", **context)


def _two_days(message: Message, clauses: Sequence[_Clause]) -> bool:
    """'ayer y hoy 20', 'hice 20 entre ayer y hoy': a count and two days joined by "y"."""
    p, tokens = message.parser, message.tokens

    def alone(clause: _Clause) -> bool:
        return not clause.counts and clause.day is not None and all(
            p.isin(t, p.day_words | p.courtesy | p.done | p.table("between"))
            for t in tokens[clause.lo:clause.hi])

    for before, after in zip(clauses, clauses[1:], strict=False):
        if after.joiner != PLUS or before.day is None or after.day is None or before.day == after.day:
            continue
        if (alone(before) and after.counts) or (alone(after) and before.counts):
            return True
    return any(c.day == VAGUE for clause in clauses for c in clause.counts if c.role in _KEEP)


def _day_unclear(message: Message, clauses: Sequence[_Clause], kept: Sequence[_Count]) -> bool:
    """'ayer no pude mandar, hice 14': the day is in a clause that says what she did not do."""
    p, tokens = message.parser, message.tokens
    for clause in clauses:
        past = clause.day is not None and clause.day.ago != 0 and clause.day_first is not None
        if past and not clause.counts and any(p.isin(t, p.table("no")) for t in tokens[clause.lo:clause.hi]):
            return any(c.clause > clauses.index(clause) and clauses[c.clause].day_first is None
                       and c.day == clause.day for c in kept)
    return False


def _unfinished_among(message: Message, clauses: Sequence[_Clause], kept: Sequence[_Count]) -> bool:
    """'5 chalinas terminadas, les falta el fleco a 2': some of the pieces she counted are not done."""
    p, tokens = message.parser, message.tokens
    for clause in clauses:
        back = any(p.phrase(tokens, i, "back") for i in range(clause.lo, clause.hi))
        for count in clause.counts:
            if count.role == "vetoed" and count.group == "left" and back and any(
                    c.value > count.value and c.clause < count.clause for c in kept):
                return True
    return False


def _used(ref: Ref, kept: Sequence[_Count]) -> bool:
    return any(c.ref is not None and ref.codes <= c.ref for c in kept)


def _without_counts(message: Message, kind: str, result_kind: str, counts: Sequence[_Count],
                    orders: tuple[str, ...], not_orders: tuple[str, ...], day: Day | None, context: dict,
                    words: Sequence[Token]) -> Intent:
    """A message with no count to record: what it says instead."""
    p = message.parser
    vetoed = [c for c in counts if c.role == "vetoed"]
    if vetoed:
        return Intent(Kind.UNKNOWN, problem="not_a_report", reason=vetoed[0].group, note=context["note"])
    said = orders or day or context["old"] or not_orders
    if context["correction"] or kind == Kind.CORRECT:
        if said:
            return Intent(Kind.CORRECT, orders=orders, not_orders=not_orders, day=day, **context)
        return Intent(Kind.UNKNOWN, problem="missing_count")
    if kind != Kind.REPORT:
        return Intent(Kind.UNKNOWN, problem="missing_count")
    if any(c.problem == "zero" for c in counts if c.role in _KEEP) and not context["old"]:
        return Intent(Kind.UNKNOWN, problem="zero")
    nothing = any(p.isin(t, p.table("nothing")) for t in words) or bool(not_orders)
    problem = "nothing_done" if nothing and not orders and not context["old"] else "no_number"
    done = any(p.isin(t, p.done) for t in words)  # "ya termine": how many?
    return Intent(Kind.UNKNOWN, problem=problem, orders=orders, old=context["old"], day=day,
                  note=context["note"], answer=context["answer"], reason="done" if done else "")


def _is_joiner(message: Message, clauses: Sequence[_Clause], i: int) -> bool:
    """Whether tokens[i] was read as the word joining two clauses ('10 mas 10')."""
    return any(clause.lo == i + 1 and clause.joiner == PLUS for clause in clauses)


def _negated_ref(message: Message, clauses: Sequence[_Clause], ref: Ref) -> bool:
    """'no hice manteles', 'ninguna es de manteles', 'jani chalinas'."""
    lo = next((c.lo for c in clauses if c.lo <= ref.first < max(c.hi, c.lo + 1)), 0)
    if _negated(message, ref.first, lo):
        return True
    p, tokens = message.parser, message.tokens
    j = ref.first - 1
    while j >= lo and tokens[j].kind == "word" and (p.isin(tokens[j], p.table("have")) or p.isin(
            tokens[j], p.table("of")) or p.isin(tokens[j], p.table("of_articles"))):
        j -= 1
    return j >= lo and p.isin(tokens[j], p.table("nothing"))


def _items(clauses: Sequence[_Clause], kept: Sequence[_Count]) -> tuple[tuple[Item, ...], str]:
    """The counts as items: faults taken off, one order and day's counts added where she said so."""
    values = {id(c): c.value for c in kept}
    made: list[_Count] = []
    for count in kept:
        if count.role == "done":
            made.append(count)
            continue
        target = next((m for m in reversed(made) if count.ref is None or m.ref in (None, count.ref)), None)
        if target is None:
            continue
        if count.role == "good" and count.value <= values[id(target)]:
            values[id(target)] = count.value
        elif count.role in ("defect", "minus"):
            values[id(target)] = max(values[id(target)] - count.value, 0)
    groups: dict[tuple, list[_Count]] = {}
    for count in made:
        if values[id(count)] > 0:
            groups.setdefault((count.ref, count.day), []).append(count)
    items = []
    for (ref, day), group in groups.items():
        for a, b in zip(group, group[1:], strict=False):
            how = _joined(clauses, a, b)
            if how == OR:
                return (), "or_numbers"
            if how != PLUS:
                return (), "several_numbers"
        codes = tuple(sorted(ref)) if ref else ()
        named = "several" if len(codes) > 1 else next((c.how for c in group if c.how), "")
        parts = tuple(values[id(c)] for c in group)
        items.append(Item(sum(parts), codes[0] if len(codes) == 1 else None, day,
                          codes if len(codes) > 1 else (), parts=parts, named=named))
    if not items:
        return (), "nothing_done"
    return tuple(items), ""


def _joined(clauses: Sequence[_Clause], a: _Count, b: _Count) -> str:
    """How two counts of one order and day are joined: added ("y", two parts of the day), "o", or
    not at all."""
    if a.clause == b.clause:
        return ""
    joiners = {clauses[k].joiner for k in range(a.clause + 1, b.clause + 1)}
    if OR in joiners or a.between:
        return OR
    if PLUS in joiners or DAY in joiners or (a.part and b.part and a.part != b.part):
        return PLUS
    return ""


def _correction(message: Message, lo: int, hi: int, kind: str) -> str:
    """'command' for "corregir 18", 'said' when the message says a report was wrong ("me
    equivoque", "eran"), 'maybe' when it opens with 'no', 'perdon' before a count, order or day."""
    p, tokens = message.parser, message.tokens
    if kind == Kind.CORRECT:
        return "command"
    for i in range(lo, hi):
        if p.isin(tokens[i], p.mistake) and (not p.isin(tokens[i], p.were) or _says_what(message, i + 1, hi)):
            return "said"
    i = p.first_meaningful(tokens, lo)
    if i < hi and p.isin(tokens[i], p.table("that")) and any(p.isin(t, p.day_words) for t in tokens[i:hi]) \
            and not any(t.kind == "num" for t in tokens[i:hi]):
        return "maybe"  # "eso fue ayer", "era de ayer"
    if i >= hi or not (p.isin(tokens[i], p.table("no")) or p.isin(tokens[i], p.table("sorry"))
                       or p.phrase(tokens, i, "replace")):
        return ""
    if p.phrase(tokens, i, "dont_know"):
        return ""
    j = i + 1
    filler = p.table("have") | p.table("no") | p.table("of") | p.table("sorry") | p.courtesy | p.done
    while j < hi and tokens[j].kind == "word":
        total = p._match_phrase(tokens, j, p.not_finished)
        if p.phrase(tokens, j, "replace"):
            j = p.phrase(tokens, j, "replace")
        elif total and total[0] == "total":  # "perdon, en total 18"
            j = total[1]
        elif p.isin(tokens[j], filler) or tokens[j].raw.lower() in ("eso", "esto", "i", "it", "that", "was"):
            j += 1
        else:
            break
    opening = p.isin(tokens[i], p.table("sorry")) or (
        i + 1 < hi and "," in message.text[tokens[i].end:tokens[i + 1].start])
    if opening and any(t.kind == "num" or p.isin(t, p.day_words) for t in tokens[j:hi]):
        return "maybe"  # "uy no, eso es lo q tengo q entregar, hoy hice 8"
    if j >= hi:
        return ""
    follows = tokens[j].kind == "num" or p.isin(tokens[j], p.day_words) or bool(p._number_words(message, j)) \
        or p._word_ref(message.vocabulary, tokens[j], j) is not None \
        or p.lone_code(message, j, j + 1) is not None
    return "maybe" if follows else ""


def _says_what(message: Message, j: int, hi: int) -> bool:
    """Whether a count, an order or a day comes within two words ('eran 15', 'eran manteles')."""
    p, tokens = message.parser, message.tokens
    for i in range(j, min(j + 3, hi)):
        token = tokens[i]
        if token.kind == "num" or p.isin(token, p.day_words) or p._number_words(message, i) \
                or p._word_ref(message.vocabulary, token, i) or _code_of_token(message, i):
            return True
        if "," in message.text[token.end:tokens[i + 1].start if i + 1 < len(tokens) else token.end]:
            return False
    return False


def _note(message: Message, lo: int, hi: int, counts: Sequence[_Count]) -> bool:
    """Whether the message holds a question or news for the coordinator."""
    p, tokens = message.parser, message.tokens
    if lo < len(tokens) and "?" in message.text[tokens[lo].start:]:
        return True
    if any(c.role == "vetoed" and c.group in _NOTE_VETOES for c in counts):
        return True
    return any(p.phrase(tokens, i, "news") for i in range(lo, hi))


def _answer(message: Message, lo: int, hi: int) -> str:
    """How the message answers a question: yes, no, both, or that she is not sure."""
    p, tokens = message.parser, message.tokens
    i = p.first_meaningful(tokens, lo)
    if i >= hi:
        return ""
    if p.phrase(tokens, i, "dont_know"):
        return "unsure"
    if _both(message, lo, hi):
        return "both"
    command = p._match_phrase(tokens, i, p.first_phrases)
    if command and command[0] == Kind.CONFIRM:
        return "yes"
    if command and command[0] == Kind.REJECT or p.isin(tokens[i], p.table("no")):
        return "no"
    return ""
