"""Every word a person reads comes from templates/, rendered here, one function."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.config import ROOT

LANGUAGES = ("es", "en")
TEMPLATES = ROOT / "templates"
SEGMENT = 160  # one GSM-7 SMS segment

# GSM 03.38 basic set plus the extension table (extension characters cost two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")
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


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
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
    """Render templates/sms/<language>/<name>.txt as one line of SMS text."""
    language = language if language in LANGUAGES else LANGUAGES[0]
    source = _environment().get_template(f"sms/{language}/{template}.txt")
    text = source.render(lang=language, **values)
    return to_gsm(" ".join(_SPACES.sub(" ", text).split()))


def to_gsm(text: str) -> str:
    """GSM-7 text: look-alikes for accents and quotes, and no emoji or other characters
    that would turn the whole SMS into UCS-2 (they are dropped)."""
    text = text.translate(_TO_GSM)
    if is_gsm7(text):
        return text
    return " ".join("".join(ch for ch in text if ch in GSM7_BASIC or ch in GSM7_EXTENSION).split())


@lru_cache(maxsize=8192, typed=True)
def number(value: int | Decimal | float, lang: str = "es") -> str:
    """15000 → '15.000' in Spanish, '15,000' in English."""
    return _SPACES.sub(" ", format_decimal(value, locale=lang))


def percent(done: int, total: int) -> str:
    """Whole percent of `done` out of `total`, rounded down so 99.6 % never reads 100 %."""
    return str(done * 100 // total) if total > 0 else "0"


def day(value: date, lang: str = "es", ref: date | None = None) -> str:
    """A short date: '15 dic' / 'Dec 15', with the year when it is not `ref`'s year."""
    pattern = "d MMM" if lang == "es" else "MMM d"
    if ref is not None and value.year != ref.year:
        pattern += " y" if lang == "es" else ", y"
    return format_date(value, pattern, locale=lang).replace(".", "")


def is_gsm7(text: str) -> bool:
    """True when `text` can go out in GSM-7, the 160-character encoding."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def septets(text: str) -> int:
    """GSM-7 length: extension characters take two septets."""
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def segments(text: str) -> int:
    """How many SMS segments `text` costs."""
    if is_gsm7(text):
        length = septets(text)
        return 1 if length <= 160 else -(-length // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)
