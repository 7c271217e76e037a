"""Every word a person reads by SMS comes from templates/sms/<language>/, rendered here.

A language's templates are looked for in its own folder, then in each language it falls
back to (templates/languages.toml), ending with Spanish: a translator can add Aymara one
text at a time, and what is not translated yet goes out in Spanish. Numbers and dates are
written in the language's Babel locale. What is rendered is GSM-7 text, measured in SMS
segments with the real values (`segments`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot import languages, resources

SEGMENT = 160  # one GSM-7 SMS segment

# GSM 03.38 basic set plus the extension table (extension characters cost two septets).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_NOT_GSM7 = re.compile(f"[^{re.escape(GSM7_BASIC + GSM7_EXTENSION)}]")
_EXTENSION = re.compile(f"[{re.escape(GSM7_EXTENSION)}]")
# Babel and copy-paste bring these; each would force UCS-2 and double the cost.
_SPACES = re.compile(r"[\u00a0\u202f\u2007\u2009]")
# Names and coordinators' notices carry á, í, ó, ú, curly quotes and dashes: one of them
# turns the whole SMS into 70-character UCS-2 segments. Twilio's Smart Encoding does not
# cover the vowels, so replace them here with their GSM-7 look-alikes.
_TO_GSM = str.maketrans(
    {
        **dict(zip("áíóúÁÍÓÚâêîôûÂÊÎÔÛãõÃÕïÏëËç", "aiouAIOUaeiouAEIOUaoAOiIeEc", strict=True)),
        **{"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-"},
        "…": "...",
    }
)
# Folders searched before the package's own, for a command being tried out (tests).
EXTRA_ROOTS: tuple[Path, ...] = ()


@cache
def _environment(language: str, extra: tuple[Path, ...] = ()) -> Environment:
    folders = [root / "sms" / code for code in languages.get(language).chain()
               for root in (*extra, resources.templates())]
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        auto_reload=False,  # read once per process: no stat() of the file on every message
    )
    env.filters["num"] = number
    env.filters["pct"] = percent
    env.filters["day"] = day
    return env


def render(template: str, language: str, /, **values) -> str:
    """Render templates/sms/<language>/<name>.txt (or its fallback's) as one line of SMS text."""
    language = languages.get(language).code
    source = _environment(language, EXTRA_ROOTS).get_template(f"{template}.txt")
    text = source.render(lang=language, **values)
    return to_gsm(" ".join(_SPACES.sub(" ", text).split()))


def to_gsm(text: str) -> str:
    """GSM-7 text: look-alikes for accents and quotes, and no emoji or other characters
    that would turn the whole SMS into UCS-2 (they are dropped)."""
    text = text.translate(_TO_GSM)
    if is_gsm7(text):
        return text
    return " ".join(_NOT_GSM7.sub("", text).split())


@cache
def _separator(locale: str) -> str | None:
    """The locale's thousands separator, when Babel writes whole numbers as Python's "{:,}"
    does with it (then formatting a count needs no Babel call)."""
    samples = (1234567, 1500, 999, -20000)
    written = [_SPACES.sub(" ", format_decimal(n, locale=locale)) for n in samples]
    group = written[0][1]
    return group if written == [f"{n:,}".replace(",", group) for n in samples] else None


@lru_cache(maxsize=8192, typed=True)
def number(value: int | Decimal | float, lang: str = "es") -> str:
    """15000 → '15.000' in Spanish, '15,000' in English (the language's Babel locale)."""
    locale = languages.get(lang).locale
    group = _separator(locale)
    if type(value) is int and group is not None:
        return f"{value:,}".replace(",", group)
    return _SPACES.sub(" ", format_decimal(value, locale=locale))


def percent(done: int, total: int) -> str:
    """Whole percent of `done` out of `total`, rounded down so 99.6 % never reads 100 %."""
    return str(done * 100 // total) if total > 0 else "0"


def day(value: date, lang: str = "es", ref: date | None = None) -> str:
    """A short date: '15 dic' / 'Dec 15', with the year when it is not `ref`'s year."""
    language = languages.get(lang)
    pattern = language.day_with_year if ref is not None and value.year != ref.year else language.day
    return format_date(value, pattern, locale=language.locale).replace(".", "")


def is_gsm7(text: str) -> bool:
    """True when `text` can go out in GSM-7, the 160-character encoding."""
    return _NOT_GSM7.search(text) is None


def septets(text: str) -> int:
    """GSM-7 length: extension characters take two septets."""
    return len(text) + len(_EXTENSION.findall(text))


def segments(text: str) -> int:
    """How many SMS segments `text` costs."""
    if is_gsm7(text):
        length = septets(text)
        return 1 if length <= SEGMENT else -(-length // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)
