"""Read one inbound message into an Intent: piece counts, order codes and keywords.

Members type on basic phones: no accents, typos, b/v and c/s/z mixed up, greetings and
thanks around the number. Everything here is pure and table-driven; the handlers decide
what an intent means for the sender's role. When a message could mean two things we return
UNKNOWN with a problem code rather than guess, because a wrong count costs a member money.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz.distance import OSA

MAX_PIECES = 99_999


class Kind(StrEnum):
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
    kind: Kind
    items: tuple[Item, ...] = ()
    language: str | None = None
    text: str = ""
    phone: str = ""
    problem: str = ""


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "num", "time" or "date"
    raw: str  # as typed
    key: str  # sound-alike key for words, the raw digits for numbers
    start: int
    end: int


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
_REPEATS = re.compile(r"(.)\1+")
# Spanish spelling is phonetic, so members mix letters that sound alike (b/v, c/s/z, g/j)
# and drop the silent h. Keys collapse those so "beinte", "dies", "ise" and "corejir" match.
# (Not ll/y: members drop doubled letters, "levo", far more often than they write "yevo".)
_SOUNDS = (
    (re.compile(r"qu"), "k"),
    (re.compile(r"c(?=[ei])"), "s"),
    (re.compile(r"c"), "k"),
    (re.compile(r"z"), "s"),
    (re.compile(r"v"), "b"),
    (re.compile(r"g(?=[ei])"), "j"),
    (re.compile(r"h"), ""),
)
_PERCENT_AFTER = re.compile(r"\s*%")
_NAME_EDGES = " \t\r\n:;,.-=>\"'"


def _fold(word: str) -> str:
    """Lower case without accents: 'Señora' -> 'senora'."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _key(word: str) -> str:
    """Sound-alike key used for every word lookup: 'Veintidós' -> 'beintidos'."""
    key = _REPEATS.sub(r"\1", _fold(word))
    for pattern, replacement in _SOUNDS:
        key = pattern.sub(replacement, key)
    return _REPEATS.sub(r"\1", key)


def _tokenize(text: str) -> list[_Token]:
    """Split text into words, numbers, times and dates with their positions."""
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "word"
        raw = match.group()
        tokens.append(_Token(kind, raw, _key(raw) if kind == "word" else raw, *match.span()))
    return tokens


def _keys(words: str) -> frozenset[str]:
    """Keys of a space-separated word list (never the empty key of a lone 'h')."""
    return frozenset(_key(w) for w in words.split()) - {""}


# --------------------------------------------------------------------------- word tables
# Spanish lives here, in the tables; everything is stored as _key() forms.

_FILLERS = _keys(
    "hola ola hi hello hey buenas buenos buen dia dias tarde tardes noche noches good morning "
    "afternoon evening senora senor senorita sra sr dona don por favor porfa porfavor xfa "
    "please pls ya oye oiga disculpe disculpa perdon mama mami mamita hermana hermanita "
    "companera lic licenciada profe ok okey okay oka vale bueno pues este aver querida "
    "estimada dear"
)
_COURTESY = _FILLERS | _keys(
    "gracias grasias thanks thank you thx bendiciones saludos dios le les bendiga muchas "
    "mil besos abrazo chau chao bye nomas"
)
_PIECES = _keys(
    "pieza piezas pza pzas pz pzs piesas prenda prendas blusa blusas polera poleras pollera "
    "polleras chompa chompas camisa camisas mantel manteles servilleta servilletas unidad "
    "unidades und unds unid bolsa bolsas cojin cojines vestido vestidos bordado bordados "
    "pieces piece pcs pc items item blouses blouse shirts shirt garments"
)
_VERBS = _keys(
    "hice hise ise ize hize hicimos termine terminamos termino terminado terminada terminadas "
    "terminados acabe acabamos listo lista listas listos entregue entregamos tengo llevo "
    "done did made finished finish ready cosi cosido hoy ayer"
)
# Ordinary words within one typo of a keyword ("pasar"/"parar", "falta"/"faltan").
_COMMON = _keys(
    "todas todos todo toda pagar pagan pago pasar pasan pasa falta faltas faltaba estaba "
    "estamos estoy estar estas estan ahora manana quiero puedo necesito pregunta trabajo nuevo "
    "parte partes hasta pedido pedidos orden ordenes minutos horas dinero plata saldo mande "
    "mandar envie cuando donde porque entonces tambien semana avisar avise ayude ayudo borre"
)
# After "un"/"una"/"one" these still make it a count: "hice una", "una blusa", "una mas".
_AFTER_LONE_ONE = _PIECES | _COURTESY | _keys("mas more hoy ayer ya listo lista tambien solo today")
# Ways of addressing a woman: after them comes a name, so "20 a doña Juana" is "to", not order A.
_HONORIFICS = _keys(
    "senora senor senorita sra sr dona don mama mami mamita hermana hermanita companera lic "
    "licenciada profe querida estimada dear"
)
# A one-letter function word after a number ("20 a") is a code only before these words;
# before a name or any other word it is a preposition ("20 a Juana", "20 a doña Juana").
_AFTER_SUFFIX_CODE = _PIECES | (_COURTESY - _HONORIFICS) | _keys("y i e hoy ayer mas")
_FUNCTION_WORDS = frozenset("A E I O U Y AL DE EL LA EN UN MI ME LOS LAS CON POR SIN QUE".split())
_ORDER_WORDS = _keys("pedido pedidos orden order codigo code lote modelo")
_CODE_MARKERS = _ORDER_WORDS | _keys("del de la el para")
# Short words that are never an order code she got wrong (checked folded, as typed, and
# besides every keyword, piece, filler and number word): "SON 20", "HOY 20", "I DID 20".
_NOT_CODES = frozenset(
    "a e i o u y q k al de del el la las lo los le les en un mi me mis tu su sus se te nos "
    "con sin por pa pal que ke son era fue es he ha va van hay di da dan ya hoy mas pz pzs "
    "pza und ud uds ok si no sr sra don lic tia bs bob usd cm mts kg hrs hr hs min am pm "
    "did the and to for my all are is we at in on of it so hi pcs".split()
)
_CODE_LETTERS = re.compile(r"[a-z]{1,3}")
_TIME_LEADS = _keys("a hasta desde para tipo como de entre y antes despues")
_AFTER_TIME_NUMBER = _keys(
    "horas hora minutos min pm am dias dia semanas semana mes meses anos ano "
    "days day hours hour weeks week months month bs bob bolivianos boliviano pesos soles "
    "dolares usd"
)
_BEFORE_MONEY = _keys("bs bob usd")
_DAY_PARTS = _keys("tarde manana noche madrugada")
_MONTHS = _keys(
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre "
    "noviembre diciembre"
)


def _number_table(pairs: str) -> dict[str, int]:
    """Parse 'uno=1 dos=2' into a key -> value table."""
    return {_key(w): int(v) for w, v in (p.split("=") for p in pairs.split())}


_UNITS = _number_table(
    "uno=1 un=1 una=1 dos=2 tres=3 cuatro=4 cinco=5 seis=6 siete=7 ocho=8 nueve=9 "
    "one=1 two=2 three=3 four=4 five=5 six=6 seven=7 eight=8 nine=9"
)
_ES_UNITS = {
    k: v
    for k, v in _UNITS.items()
    if k in _keys("uno un una dos tres cuatro cinco seis siete ocho nueve")
}
_TENS = _number_table(
    "diez=10 veinte=20 treinta=30 cuarenta=40 cincuenta=50 sesenta=60 setenta=70 ochenta=80 "
    "noventa=90 twenty=20 thirty=30 forty=40 fourty=40 fifty=50 sixty=60 seventy=70 "
    "eighty=80 ninety=90"
)
_WHOLE = {
    **_UNITS,
    **_TENS,
    **_number_table(
        "cero=0 zero=0 once=11 doce=12 trece=13 catorce=14 quince=15 cien=100 ten=10 eleven=11 "
        "twelve=12 thirteen=13 fourteen=14 fifteen=15 sixteen=16 seventeen=17 eighteen=18 "
        "nineteen=19"
    ),
    # dieciseis, veintitres, treintaycinco...: one word, so they are generated.
    **{_key("dieci" + w): 10 + v for w, v in _ES_UNITS.items() if v >= 6},
    **{_key("veinti" + w): 20 + v for w, v in _ES_UNITS.items()},
    **{
        _key(t + joint + u): tv + uv
        for t, tv in _TENS.items()
        if 30 <= tv <= 90
        for u, uv in _ES_UNITS.items()
        for joint in ("y", "i")
    },
}
_COMPOUND_PREFIXES = {_key("dieci"): 10, _key("veinti"): 20}
_HUNDREDS = _number_table(
    "ciento=100 doscientos=200 doscientas=200 trescientos=300 trescientas=300 "
    "cuatrocientos=400 cuatrocientas=400 quinientos=500 quinientas=500 seiscientos=600 "
    "seiscientas=600 setecientos=700 setecientas=700 ochocientos=800 ochocientas=800 "
    "novecientos=900 novecientas=900"
)
_HUNDRED_WORD = _key("hundred")
_THOUSAND_WORDS = _keys("mil thousand")
_AND_WORDS = _keys("y i and")
_LONE_ONES = _keys("un una one")
_NUMBER_WORDS = (
    frozenset(_WHOLE) | frozenset(_HUNDREDS) | _THOUSAND_WORDS | frozenset(_COMPOUND_PREFIXES)
)

# Keyword phrases, as typed by members, per intent.
_KEYWORDS: dict[Kind, str] = {
    Kind.STATUS: "total|estado|status|estatus|cuanto llevo|cuantas llevo|cuantos llevo|"
    "cuanto tengo|cuantas tengo|cuanto hice|cuantas hice|cuanto va|cuantas van|cuanto voy|"
    "cuantas voy|mi total|my total|how many",
    Kind.HELP: "ayuda|ayudame|ayudeme|ayudenme|help|que hago|q hago|que tengo que hacer|"
    "como funciona|como es|como se usa|menu|info|informacion|instrucciones|comandos|opciones|"
    "no entiendo",
    Kind.UNDO: "borrar|borra|borralo|anular|anula|anulalo|undo|cancelar|cancela|cancelalo|"
    "deshacer|eliminar|elimina",
    Kind.CORRECT: "corregir|corrijo|corrige|correccion|corrigir|fix|correct",
    Kind.STOP: "baja|stop|parar|darme de baja|dar de baja|detener|basta|unsubscribe",
    Kind.START: "alta|start|volver|darme de alta|dar de alta|reanudar|activar|unstop",
    Kind.LANGUAGE: "idioma|language|lenguaje|lengua|lang|english|ingles|espanol|castellano|spanish",
    Kind.CONFIRM: "si|sip|yes|yep|yeah|confirmo|confirmar|confirma|confirmado|correcto|correcta|"
    "esta bien|asi es|si es|exacto|claro|de acuerdo|afirmativo",
    Kind.REJECT: "no|nop|nope|no es|cancel|incorrecto|esta mal|no es correcto|negativo|"
    "no confirmo|no esta bien",
    Kind.SUMMARY: "resumen|summary|informe",
    Kind.MISSING: "faltan|missing|quien falta|quienes faltan|who is missing",
    Kind.BROADCAST: "aviso|broadcast|anuncio|comunicado",
    Kind.ADD_MEMBER: "nueva|add|agregar|registrar",
    Kind.RECORD: "anotar|anota|anote|apuntar|apunta|record",
}
# Found anywhere in a message without a count: "hola quiero ver mi total".
# Not "estado" ("he estado enferma") nor "no ...".
_ANYWHERE: dict[Kind, str] = {
    Kind.STATUS: "total|status|cuanto llevo|cuantas llevo|cuantos llevo|cuanto tengo|"
    "cuantas tengo|cuanto hice|cuantas hice|mi total|my total",
    Kind.HELP: "ayuda|ayudame|help|menu|instrucciones|como funciona|que hago|q hago|no entiendo",
    Kind.UNDO: "borrar|borra|anular|anula|undo|cancelar|deshacer|eliminar",
    Kind.CORRECT: "corregir|corrijo|corrige|correccion|corrigir|fix",
}
# Words that say the last report was wrong: with a count they make a correction.
_WEAK_CORRECT = _keys(
    "equivoque equivoco equivocada equivocado equivocacion error eran mistake wrong"
)

# A count next to these is not "pieces I just finished": what is left or came back, what she
# will do or asks about, money, a running total (recording it would count pieces twice) or
# dozens (we do not multiply for her). The bot asks her to send only what she finished.
_NOT_FINISHED: dict[str, str] = {
    "left or returned": "falta|faltan|faltaba|faltaria|faltarian|queda|quedan|quedo|quedaron|"
    "quedaba|quedaban|sobra|sobran|sobraron|resta|restan|pendiente|pendientes|devolvi|"
    "devolvio|devolvieron|devolver|devuelto|devuelta|devueltos|devueltas|rechazaron|"
    "rechazado|rechazadas|rechazados|left|remaining|returned",
    "future or a question": "voy|vamos|va|hare|haremos|hara|hago|hacemos|terminare|puedo|puede|"
    "puedes|pueden|podemos|podria|tengo que|hay que|necesito|necesita|necesitan|necesitamos|"
    "manana|proxima|proximo|will|going to|gonna|tomorrow|can i|"
    "hacer|terminar|acabar|entregar|coser|arreglar|llevar|mandar|enviar",
    "money": "pagan|paga|pago|pagar|pagaron|pagarian|cobrar|cobro|cobran|deben|debe|debo|"
    "precio|dinero|cuanto|cuanta|cuantos|cuantas|pay|paid|owe|owes",
    "running total": "llevo|yevo|llevamos|van|total|hasta hoy|hasta ahora|hasta ahorita|"
    "hasta el momento|hasta la fecha|en todo|suma|acumulado|acumuladas|semana|semanas|mes|"
    "meses|cada|c u|diario|al dia|por dia|so far|in total",
    "dozens": "docena|docenas|dozen|dozens",
}
# ... except right after these words: "en la mañana", "acabo de terminar 20".
_FINISHED_AFTER: dict[str, str] = {
    "manana": "la las esta",
    "hacer terminar acabar entregar coser arreglar llevar mandar enviar": "de",
}
# Dozens never make a report, even without a number: "media docena".
_DOZENS = _keys("docena docenas dozen dozens")
_LANGUAGE_NAMES = {
    **{k: "en" for k in _keys("en in eng english ingles inglesa")},
    **{k: "es" for k in _keys("es esp espanol castellano spanish espanola")},
}


def _phrase_table(table: dict[Kind, str]) -> dict[str, list[tuple[tuple[str, ...], Kind]]]:
    """Index phrases by their first key, longest phrase first."""
    index: dict[str, list[tuple[tuple[str, ...], Kind]]] = {}
    for kind, phrases in table.items():
        for phrase in phrases.split("|"):
            keys = tuple(_key(w) for w in phrase.split())
            index.setdefault(keys[0], []).append((keys, kind))
    for entries in index.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return index


_FIRST_WORD_PHRASES = _phrase_table(_KEYWORDS)
_ANYWHERE_PHRASES = _phrase_table(_ANYWHERE)
_NOT_FINISHED_PHRASES = _phrase_table({Kind.UNKNOWN: "|".join(_NOT_FINISHED.values())})
_NOT_FINISHED_WORDS = frozenset(
    p[0] for entries in _NOT_FINISHED_PHRASES.values() for p, _ in entries if len(p) == 1
)
_FINISHED_AFTER_KEYS = {
    key: _keys(before) for words, before in _FINISHED_AFTER.items() for key in _keys(words)
}
# Typos are only forgiven on single words of 5+ letters that are not ordinary words.
_FUZZY_CANDIDATES = tuple(
    (keys[0], kind)
    for entries in _FIRST_WORD_PHRASES.values()
    for keys, kind in entries
    if len(keys) == 1 and len(keys[0]) >= 5
)
_PROTECTED = (
    _COURTESY
    | _PIECES
    | _VERBS
    | _COMMON
    | _NUMBER_WORDS
    | frozenset(k for entries in _FIRST_WORD_PHRASES.values() for p, _ in entries for k in p)
    | _NOT_FINISHED_WORDS
)
_WORD_KEYS = (_PROTECTED | _TIME_LEADS | _AFTER_TIME_NUMBER) - {""}


# --------------------------------------------------------------------------- keywords


def _match_phrase(
    tokens: Sequence[_Token], i: int, index: dict[str, list[tuple[tuple[str, ...], Kind]]]
) -> tuple[Kind, int] | None:
    """The keyword phrase starting at tokens[i], with the index after it."""
    if i >= len(tokens) or tokens[i].kind != "word":
        return None
    for keys, kind in index.get(tokens[i].key, ()):
        end = i + len(keys)
        window = tokens[i:end]
        if len(window) == len(keys) and all(
            t.kind == "word" and t.key == k for t, k in zip(window, keys, strict=True)
        ):
            return kind, end
    return None


def _fuzzy_keyword(key: str) -> Kind | None:
    """The keyword a typo'd word most likely means, if exactly one is close enough."""
    if len(key) < 5 or key in _PROTECTED or key.startswith("bord"):
        return None
    limit = 1 if len(key) < 9 else 2
    best: dict[Kind, int] = {}
    for candidate, kind in _FUZZY_CANDIDATES:
        distance = OSA.distance(key, candidate, score_cutoff=limit)
        if distance > limit:
            continue
        # In short words a changed letter too often makes another real word ("pasar"/"parar").
        if len(key) <= 6 and len(key) == len(candidate) and sorted(key) != sorted(candidate):
            continue
        best[kind] = min(distance, best.get(kind, limit + 1))
    if not best:
        return None
    closest = min(best.values())
    winners = [kind for kind, distance in best.items() if distance == closest]
    return winners[0] if len(winners) == 1 else None


def _command_at(tokens: Sequence[_Token], i: int) -> tuple[Kind, int] | None:
    """The keyword at the first meaningful word, forgiving typos."""
    found = _match_phrase(tokens, i, _FIRST_WORD_PHRASES)
    if found or i >= len(tokens) or tokens[i].kind != "word":
        return found
    kind = _fuzzy_keyword(tokens[i].key)
    return (kind, i + 1) if kind else None


def _first_meaningful(tokens: Sequence[_Token]) -> int:
    """Index of the first token that is not a greeting or filler."""
    i = 0
    while i < len(tokens) and tokens[i].kind == "word" and tokens[i].key in _FILLERS:
        i += 1
    return i


def _find_anywhere(tokens: Sequence[_Token]) -> tuple[Kind, int] | None:
    """The first STATUS/HELP/UNDO/CORRECT phrase anywhere in the message."""
    for i in range(len(tokens)):
        found = _match_phrase(tokens, i, _ANYWHERE_PHRASES)
        if found:
            return found
    return None


def _not_finished(tokens: Sequence[_Token]) -> bool:
    """Whether the message says its count is not pieces just finished ('me faltan 10')."""
    for i, token in enumerate(tokens):
        if not _match_phrase(tokens, i, _NOT_FINISHED_PHRASES):
            continue
        before = tokens[i - 1].key if i > 0 and tokens[i - 1].kind == "word" else ""
        if before not in _FINISHED_AFTER_KEYS.get(token.key, ()):
            return True
    return False


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class _Mark:
    first: int  # token index span
    last: int
    value: int = 0
    problem: str = ""  # "decimal", "zero", "too_big" for a count; "unknown_code" for a code
    code: str | None = None  # set for an order code, None for a count


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


def _below_hundred(keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number under 100 in words at keys[i] ('treinta y cinco', 'twenty five')."""
    if i >= len(keys):
        return None
    key, after = keys[i], keys[i + 1 : i + 3]
    if key in _TENS and len(after) == 2 and after[0] in _AND_WORDS and after[1] in _UNITS:
        return _TENS[key] + _UNITS[after[1]], i + 3
    if key in _TENS and _TENS[key] >= 20 and after and after[0] in _UNITS:
        return _TENS[key] + _UNITS[after[0]], i + 2  # "twenty five", "veinte cinco"
    if key in _COMPOUND_PREFIXES and after and after[0] in _UNITS:
        return _COMPOUND_PREFIXES[key] + _UNITS[after[0]], i + 2  # "veinti tres"
    if key in _WHOLE:
        return _WHOLE[key], i + 1
    return None


def _below_thousand(keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number under 1000 in words ('ciento veinte', 'doscientas', 'a hundred and five')."""
    if i < len(keys) and keys[i] in _HUNDREDS:
        rest = _below_hundred(keys, i + 1)
        if rest:
            return _HUNDREDS[keys[i]] + rest[0], rest[1]
        # "ciento" alone is not Spanish, and sounds like "siento" ("lo siento").
        return None if _HUNDREDS[keys[i]] == 100 else (_HUNDREDS[keys[i]], i + 1)
    head = keys[i] if i < len(keys) else ""
    if (head in _UNITS or head == "a") and keys[i + 1 : i + 2] == [_HUNDRED_WORD]:
        hundreds, j = _UNITS.get(head, 1) * 100, i + 2
        if keys[j : j + 1] and keys[j] in _AND_WORDS:
            rest = _below_hundred(keys, j + 1)
            return (hundreds + rest[0], rest[1]) if rest else (hundreds, j)
        rest = _below_hundred(keys, j)
        return (hundreds + rest[0], rest[1]) if rest else (hundreds, j)
    return _below_hundred(keys, i)


def _number_words(keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """A number written in words starting at keys[i], with the index after it."""
    head = _below_thousand(keys, i)
    start = head[1] if head else i
    if start < len(keys) and keys[start] in _THOUSAND_WORDS:
        tail = _below_thousand(keys, start + 1)
        if not head and not tail:
            return None  # "mil gracias" is thanks, not a thousand pieces
        value = (head[0] if head else 1) * 1000 + (tail[0] if tail else 0)
        return value, tail[1] if tail else start + 1
    return head


def _is_lone_one(
    tokens: Sequence[_Token], first: int, last: int, hi: int, codes: frozenset[str]
) -> bool:
    """Whether a lone 'un'/'una'/'one' is a count: 'hice una', 'una blusa', not 'una pregunta'."""
    if first != last or tokens[first].key not in _LONE_ONES:
        return True
    if last + 1 >= hi:
        return True
    after = tokens[last + 1]
    return after.kind == "word" and (
        after.key in _AFTER_LONE_ONE or _code_of(after, codes) is not None
    )


def _context_blocks(tokens: Sequence[_Token], text: str, first: int, last: int) -> set[int] | None:
    """Token indices to ignore when a number is a time, date, duration, money or percent."""

    def key(i: int) -> str:
        return tokens[i].key if 0 <= i < len(tokens) and tokens[i].kind == "word" else ""

    before, before2 = key(first - 1), key(first - 2)
    after, after2, after3 = key(last + 1), key(last + 2), key(last + 3)
    if before in ("la", "las") and before2 in _TIME_LEADS:  # "a las 5", "hasta la una"
        return {first - 2, first - 1}
    if before == "at" or after in _AFTER_TIME_NUMBER or before in _BEFORE_MONEY:
        return set()
    if after == "de" and ((after2 == "la" and after3 in _DAY_PARTS) or after2 in _MONTHS):
        return set()  # "5 de la tarde", "25 de noviembre"
    if _PERCENT_AFTER.match(text, tokens[last].end):
        return set()
    return None


def _code_of(token: _Token, codes: frozenset[str]) -> str | None:
    """The order code this word spells, if it is one of the cooperative's codes."""
    if token.kind != "word" or len(token.raw) > 3:
        return None
    code = _fold(token.raw).upper()
    return code if code in codes else None


def _counts(
    tokens: Sequence[_Token], text: str, lo: int, hi: int, codes: frozenset[str]
) -> tuple[list[_Mark], set[int]]:
    """Counts between tokens[lo:hi], plus token indices that must not be read as codes."""
    keys = [t.key if t.kind == "word" else "" for t in tokens[:hi]]
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
            words = _number_words(keys, i)
            if not words:
                i += 1
                continue
            value, end = words
            problem = "zero" if value == 0 else "" if value <= MAX_PIECES else "too_big"
            span = (i, end - 1)
            if not _is_lone_one(tokens, i, end - 1, hi, codes):
                i = end
                continue
        context = _context_blocks(tokens, text, *span)
        if context is None:
            marks.append(_Mark(span[0], span[1], value, problem))
        else:
            blocked |= context | set(range(span[0], span[1] + 1))
        i = span[1] + 1
    return marks, blocked


def _neighbour(tokens: Sequence[_Token], i: int, step: int, lo: int, hi: int) -> int:
    """Index of the nearest token in direction step that is not a piece word."""
    j = i + step
    while lo <= j < hi and tokens[j].kind == "word" and tokens[j].key in _PIECES:
        j += step
    return j


def _codes(
    tokens: Sequence[_Token],
    lo: int,
    hi: int,
    counts: list[_Mark],
    blocked: set[int],
    codes: frozenset[str],
) -> list[_Mark]:
    """Order codes next to a count ('A 20', '20a', 'pedido B ... 10')."""
    starts = {m.first for m in counts}
    ends = {m.last for m in counts}
    inside = {i for m in counts for i in range(m.first, m.last + 1)}
    marks = []
    for i in range(lo, hi):
        code = _code_of(tokens[i], codes) if i not in blocked and i not in inside else None
        if code is None:
            continue
        before, after = _neighbour(tokens, i, -1, lo, hi), _neighbour(tokens, i, 1, lo, hi)
        marker = i > lo and tokens[i - 1].kind == "word" and tokens[i - 1].key in _CODE_MARKERS
        if after in starts or marker or (before in ends and _suffix_code_ok(tokens, i, hi, codes)):
            marks.append(_Mark(i, i, code=code))
    return marks


def _suffix_code_ok(tokens: Sequence[_Token], i: int, hi: int, codes: frozenset[str]) -> bool:
    """Whether a code after a number is meant as one: not the 'a' of '20 a Maria'."""
    token = tokens[i]
    if _fold(token.raw).upper() not in _FUNCTION_WORDS:
        return True
    if i + 1 >= hi or tokens[i + 1].kind != "word":
        return True
    return tokens[i + 1].key in _AFTER_SUFFIX_CODE or _code_of(tokens[i + 1], codes) is not None


def _is_word_not_code(token: _Token) -> bool:
    """Whether a short word is an ordinary word rather than an order code."""
    return _fold(token.raw) in _NOT_CODES or token.key in _WORD_KEYS


def _code_attempts(
    tokens: Sequence[_Token],
    lo: int,
    hi: int,
    counts: list[_Mark],
    taken: set[int],
    exempt: Collection[int],
) -> list[_Mark]:
    """Letters meant as an order code that is not active: 'B20', 'MT 20', 'pedido X 20'.

    Marked with the problem "unknown_code" so the bot asks instead of using her usual order.
    A capitalised word right by the count is a code unless it is an ordinary word, so
    lower-case letters ('20 y', 'b 20') stay words unless glued to the number or after
    'pedido'; tokens in `exempt` (where a coordinator types a name) are only codes when glued.
    """
    starts = {m.first for m in counts}
    ends = {m.last for m in counts}
    glued_to = {m.first for m in counts if tokens[m.first].kind == "num"}
    marks = []
    for i in range(lo, hi):
        token = tokens[i]
        letters = _fold(token.raw)
        if i in taken or token.kind != "word" or not _CODE_LETTERS.fullmatch(letters):
            continue
        ordinary = _is_word_not_code(token)
        glued = (i + 1 in glued_to and token.end == tokens[i + 1].start) or (
            i - 1 in glued_to and tokens[i - 1].end == token.start
        )
        before, after = _neighbour(tokens, i, -1, lo, hi), _neighbour(tokens, i, 1, lo, hi)
        by_count = after in starts or before in ends
        marker = tokens[i - 1].key if i > lo and tokens[i - 1].kind == "word" else ""
        capital = token.raw.isupper() and i not in exempt
        if (
            (glued and (len(letters) == 1 or not ordinary))
            or (capital and by_count and not ordinary)
            or (capital and marker in _CODE_MARKERS and len(letters) == 1 and not ordinary)
            or (marker in _ORDER_WORDS and not ordinary)
            or (marker in _ORDER_WORDS and letters == "a" and (after in starts or after >= hi))
        ):
            marks.append(_Mark(i, i, code=letters.upper(), problem="unknown_code"))
    return marks


def _marks(
    tokens: Sequence[_Token],
    text: str,
    lo: int,
    hi: int,
    codes: frozenset[str],
    exempt: Collection[int] = (),
) -> list[_Mark]:
    """Counts and codes between tokens[lo:hi], in message order, with unknown code attempts."""
    counts, blocked = _counts(tokens, text, lo, hi, codes)
    found = counts + _codes(tokens, lo, hi, counts, blocked, codes)
    if counts:
        taken = blocked | {i for m in found for i in range(m.first, m.last + 1)}
        found += _code_attempts(tokens, lo, hi, counts, taken, exempt)
    return sorted(found, key=lambda m: m.first)


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


# --------------------------------------------------------------------------- commands


def _unknown(problem: str) -> Intent:
    """An intent the caller must answer with help, saying what was wrong."""
    return Intent(Kind.UNKNOWN, problem=problem)


def _with_items(
    kind: Kind,
    marks: Sequence[_Mark],
    single: bool = False,
    text: str = "",
    not_finished: bool = False,
) -> Intent:
    """An intent carrying counts, or UNKNOWN saying why they cannot be used.

    With a count, `not_finished` (a remaining, future, money or running-total message) wins
    over everything else, then a code that is not an active order's, then the count's own
    problems.
    """
    attempt = next((m for m in marks if m.problem == "unknown_code"), None)
    items, problem = _items([m for m in marks if m.problem != "unknown_code"])
    if problem == "no_number":
        return _unknown("missing_count") if kind is not Kind.REPORT else _unknown(problem)
    if not_finished:
        return _unknown("not_a_report")
    if attempt:
        return Intent(Kind.UNKNOWN, text=attempt.code or "", problem="unknown_code")
    if problem:
        return _unknown(problem)
    if single and len(items) > 1:
        return _unknown("several_numbers")
    return Intent(kind, items=items, text=text)


def _correct(tokens: Sequence[_Token], text: str, after: int, codes: frozenset[str]) -> Intent:
    """CORRECT: the count after the keyword, else anywhere in the message."""
    marks = _marks(tokens, text, after, len(tokens), codes)
    if not any(m.code is None for m in marks):
        marks = _marks(tokens, text, 0, len(tokens), codes)
    return _with_items(Kind.CORRECT, marks, single=True, not_finished=_not_finished(tokens))


def _rest_after(text: str, tokens: Sequence[_Token], end: int) -> str:
    """The text typed after tokens[end - 1], without separators at its start."""
    return text[tokens[end - 1].end :].lstrip(_NAME_EDGES).rstrip()


def _broadcast(tokens: Sequence[_Token], text: str, end: int, codes: frozenset[str]) -> Intent:
    """BROADCAST: everything after the keyword, as typed."""
    if end >= len(tokens):
        return _unknown("missing_text")
    return Intent(Kind.BROADCAST, text=_rest_after(text, tokens, end))


def _phone_span(tokens: Sequence[_Token], text: str, i: int) -> tuple[str, int]:
    """The phone number starting at tokens[i] ('+591 7123 4567') and the index after it."""
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


def _add_member(tokens: Sequence[_Token], text: str, end: int, codes: frozenset[str]) -> Intent:
    """ADD_MEMBER: a phone and a name, in either order."""
    phone_at = next((i for i in range(end, len(tokens)) if tokens[i].kind in ("num", "date")), None)
    if phone_at is None:
        return _unknown("missing_phone")
    phone, after = _phone_span(tokens, text, phone_at)
    if not 7 <= len(phone.lstrip("+")) <= 15:
        return _unknown("missing_phone")
    if phone_at > end:
        name = text[tokens[end - 1].end : tokens[phone_at].start].strip(_NAME_EDGES + "+")
    else:
        name = _rest_after(text, tokens, after).strip(_NAME_EDGES)
    if not any(c.isalpha() for c in name):
        return _unknown("missing_text")
    return Intent(Kind.ADD_MEMBER, text=name, phone=phone)


def _record(tokens: Sequence[_Token], text: str, end: int, codes: frozenset[str]) -> Intent:
    """RECORD: a member's name or phone, then the count(s) to record for her."""
    if end >= len(tokens):
        return _unknown("missing_text")
    first = tokens[end]
    plus = first.start > 0 and text[first.start - 1] == "+"
    if first.kind == "num" and (plus or len(first.raw) >= 7):
        _, count_from = _phone_span(tokens, text, end)
        who = text[first.start - plus : tokens[count_from - 1].end]
    else:
        marks = _marks(tokens, text, end, len(tokens), codes, exempt={end})
        if marks and marks[0].first == end:
            return _record_count_first(tokens, text, end, codes)
        count_from = marks[0].first if marks else len(tokens)
        who = text[first.start : tokens[count_from - 1].end] if count_from > end else ""
    if not who.strip(_NAME_EDGES):
        return _unknown("missing_text")
    marks = _marks(tokens, text, count_from, len(tokens), codes)
    # The name is checked too: "anotar Rosa le faltan 20" must not find Rosa and record 20.
    not_finished = _not_finished(tokens)
    return _with_items(Kind.RECORD, marks, text=who.strip(_NAME_EDGES), not_finished=not_finished)


# Between the count and the name: "anotar 20 blusas a Rosa", "anotar 20 para doña Ines".
_BEFORE_NAME = _keys("a para pa de le hoy ayer") | _PIECES | _AND_WORDS | (_COURTESY - _HONORIFICS)
# Where a name typed after the count ends: "anotar 20 Rosa gracias".
_AFTER_NAME = _PIECES | _VERBS | (_COURTESY - _HONORIFICS)


def _record_count_first(
    tokens: Sequence[_Token], text: str, end: int, codes: frozenset[str]
) -> Intent:
    """RECORD typed count first: 'anotar 20 Rosa', 'anotar 20 a Rosa Mamani', 'anotar A 5 Ines'.

    A capitalised last word is her name ('anotar 20 ANA'), not an order code.
    """
    hi = len(tokens)
    marks = _marks(tokens, text, end, hi, codes, exempt={hi - 1})
    starts = {m.first: m for m in marks}
    j = marks[0].last + 1
    while j < hi:  # the counts and codes typed before the name
        if j in starts:
            j = starts[j].last + 1
        elif tokens[j].kind == "word" and tokens[j].key in _BEFORE_NAME:
            j += 1
        else:
            break
    name_from = j
    while j < hi and j not in starts and not (
        tokens[j].kind == "word" and tokens[j].key in _AFTER_NAME
    ):
        j += 1
    who = text[tokens[name_from].start : tokens[j - 1].end] if j > name_from else ""
    if not any(c.isalpha() for c in who):
        return _unknown("missing_text")
    not_finished = _not_finished(tokens)  # the name too, as when it comes first
    return _with_items(Kind.RECORD, marks, text=who.strip(_NAME_EDGES), not_finished=not_finished)


def _language(tokens: Sequence[_Token], text: str, end: int, codes: frozenset[str]) -> Intent:
    """LANGUAGE: 'english' alone, or 'idioma en' / 'language spanish'."""
    named = _LANGUAGE_NAMES.get(tokens[end - 1].key)  # None after "idioma"/"language"
    if named:
        return Intent(Kind.LANGUAGE, language=named)
    for token in tokens[end : end + 2]:
        if token.kind == "word" and token.key in _LANGUAGE_NAMES:
            return Intent(Kind.LANGUAGE, language=_LANGUAGE_NAMES[token.key])
    return _unknown("missing_text")


_ARG_PARSERS = {
    Kind.BROADCAST: _broadcast,
    Kind.ADD_MEMBER: _add_member,
    Kind.RECORD: _record,
    Kind.LANGUAGE: _language,
}


def _short_answer(tokens: Sequence[_Token], end: int) -> bool:
    """Whether a si/no is the whole message, give or take thanks and two words."""
    rest = [t for t in tokens[end:] if not (t.kind == "word" and t.key in _COURTESY)]
    return len(rest) <= 2


# --------------------------------------------------------------------------- entry point


def parse(text: str, codes: Collection[str] = ()) -> Intent:
    """Read one inbound message; `codes` are the active order codes of the member's cooperative."""
    text = unicodedata.normalize("NFC", text if isinstance(text, str) else "")
    tokens = _tokenize(text)
    if not tokens:
        return Intent(Kind.HELP) if "?" in text else _unknown("empty")
    code_set = frozenset(_fold(c).upper() for c in codes if c)
    command = _command_at(tokens, _first_meaningful(tokens))
    if command and command[0] is Kind.CORRECT:
        return _correct(tokens, text, command[1], code_set)
    if command and command[0] in _ARG_PARSERS:
        return _ARG_PARSERS[command[0]](tokens, text, command[1], code_set)
    marks = _marks(tokens, text, 0, len(tokens), code_set)
    has_count = any(m.code is None for m in marks)
    if command:
        kind, end = command
        if kind in (Kind.STATUS, Kind.MISSING) and has_count:
            return _unknown("not_a_report")  # "total 200", "faltan 10": not pieces just made
        if kind not in (Kind.CONFIRM, Kind.REJECT) or (
            not has_count and _short_answer(tokens, end)
        ):
            return Intent(kind)
    return _without_command(tokens, text, marks, has_count, code_set)


def _without_command(
    tokens: Sequence[_Token], text: str, marks: list[_Mark], has_count: bool, codes: frozenset[str]
) -> Intent:
    """A report, or a keyword found later in the message ('quiero corregir, eran 18')."""
    anywhere = _find_anywhere(tokens)
    if anywhere and anywhere[0] is Kind.CORRECT:
        return _correct(tokens, text, anywhere[1], codes)
    if anywhere and not has_count:
        return Intent(anywhere[0])
    if any(t.kind == "word" and t.key in _WEAK_CORRECT for t in tokens):
        return _correct(tokens, text, 0, codes)
    if any(t.kind == "word" and t.key in _DOZENS for t in tokens):
        return _unknown("not_a_report")  # "una docena", "media docena": we do not multiply
    return _with_items(Kind.REPORT, marks, not_finished=_not_finished(tokens))
