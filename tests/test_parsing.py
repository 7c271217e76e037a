"""What the bot reads in the messages members, coordinators and buyers really send."""

import random
from dataclasses import replace

import pytest

from bot.parsing import MAX_PIECES, Day, Intent, Item, Kind, parse

CODES = frozenset({"A", "B", "MT"})
NONE = ()


def report(*counts: int | tuple[int, str] | Item) -> Intent:
    """A REPORT of plain counts or (count, code) pairs."""
    return Intent(Kind.REPORT, items=_items(counts))


def correct(*counts: int | tuple[int, str], said: str = "command") -> Intent:
    """A CORRECT of one count, maybe with a code: 'command' ("corregir 18") or 'said' ("eran 18")."""
    return Intent(Kind.CORRECT, items=_items(counts), correction=said)


def dated(pieces: int, ago: int) -> Item:
    """A count she gave a day for: 0 today, 1 ayer."""
    return Item(pieces, day=Day(ago))


def again(intent: Intent) -> Intent:
    """'otras 20', '20 mas': a new batch, never her last message sent again."""
    return replace(intent, again=True)


def noted(intent: Intent) -> Intent:
    """A message the coordinator must see (a question, money, news)."""
    return replace(intent, note=True)


def _items(counts: tuple[int | tuple[int, str] | Item, ...]) -> tuple[Item, ...]:
    return tuple(c if isinstance(c, Item) else Item(*c) if isinstance(c, tuple) else Item(c) for c in counts)


def unknown(problem: str) -> Intent:
    """A message the bot cannot use, and why."""
    return Intent(Kind.UNKNOWN, problem=problem)


def unknown_code(code: str) -> Intent:
    """She named an order code that is not an active order's: ask, never use her usual order."""
    return Intent(Kind.UNKNOWN, text=code, problem="unknown_code")


def record(name: str, *counts: int | tuple[int, str]) -> Intent:
    """A coordinator's RECORD for the member named `name`."""
    return Intent(Kind.RECORD, text=name, items=_items(counts))


def language(code: str) -> Intent:
    return Intent(Kind.LANGUAGE, language=code)


# A count that is not "pieces I just finished": the bot asks her to send only those.
NOT_FINISHED = unknown("not_a_report")


STATUS, HELP, UNDO = Intent(Kind.STATUS), Intent(Kind.HELP), Intent(Kind.UNDO)
STOP, START = Intent(Kind.STOP), Intent(Kind.START)
CONFIRM, REJECT = Intent(Kind.CONFIRM), Intent(Kind.REJECT)
SUMMARY, MISSING = Intent(Kind.SUMMARY), Intent(Kind.MISSING)

CASES = [
    # --- plain reports, the way members type them
    ("20", NONE, report(20)),
    ("hice 20", NONE, report(20)),
    ("20 blusas", NONE, report(20)),
    ("termine 20 piezas", NONE, report(20)),
    ("ya acabe veinte", NONE, report(20)),
    ("buenas tardes hoy 12 pzs gracias", NONE, report(dated(12, 0))),
    ("HICE 20 BLUSAS", NONE, report(20)),
    ("Hice 20 Blusas", NONE, report(20)),
    ("hice.20", NONE, report(20)),
    ("HICE20", NONE, report(20)),
    ("hice,20", NONE, report(20)),
    ("ise 20", NONE, report(20)),
    ("hise 20 pzs", NONE, report(20)),
    ("hize 15", NONE, report(15)),
    ("holaaa hice 20 😊", NONE, report(20)),
    ("20!!", NONE, report(20)),
    ("20.", NONE, report(20)),
    ("  20  ", NONE, report(20)),
    ("Ya termine 15 prendas gracias señora", NONE, report(15)),
    ("buenos dias senora hice 30 blusas", NONE, report(30)),
    ("Buenos días señora, hoy terminé 30 blusas. Gracias", NONE, report(dated(30, 0))),
    ("hola hermana ya acabe 8 polleras", NONE, report(8)),
    ("12pzs", NONE, report(12)),
    ("20 pz", NONE, report(20)),
    ("20pzas bordadas", NONE, report(20)),
    ("listo 25 prendas", NONE, report(25)),
    # Handed over is not made: the coordinator sees it, nothing is counted twice.
    ("entregue 40", NONE, noted(NOT_FINISHED)),
    ("hice 20 nomas", NONE, report(20)),
    ("ayer hice 20 y hoy nada", NONE, report(dated(20, 1))),
    ("lo siento hice 20", NONE, report(20)),
    ("bordar 20", NONE, report(20)),
    ("hoy termine las dos blusas", NONE, report(dated(2, 0))),
    ("🙏🙏 hice 18 🙏", NONE, report(18)),
    ("hice 20\ngracias", NONE, report(20)),
    ("-5", NONE, report(5)),
    ("+5", NONE, report(5)),
    ("020", NONE, report(20)),
    ("hice ٢٠", NONE, report(20)),
    ("טקסט 20", NONE, report(20)),
    # --- thousands separators and big numbers
    ("1.500", NONE, report(1500)),
    ("1,500", NONE, report(1500)),
    ("hice 1.500 blusas", NONE, report(1500)),
    ("20.000", NONE, report(20000)),
    ("99999", NONE, report(99999)),
    ("100000", NONE, unknown("too_big")),
    ("1.500.000", NONE, unknown("too_big")),
    ("71234567", NONE, unknown("too_big")),
    ("hice 71234567", NONE, unknown("too_big")),
    # --- number words, without accents and with b/v, c/s/z mix-ups
    ("veintitres", NONE, report(23)),
    ("veintidos blusas", NONE, report(22)),
    ("VEINTISEIS", NONE, report(26)),
    ("dieciseis", NONE, report(16)),
    ("dieciséis", NONE, report(16)),
    ("treinta y cinco", NONE, report(35)),
    ("treintaycinco", NONE, report(35)),
    ("treinta i cinco", NONE, report(35)),
    ("cuarenta y ocho pzs", NONE, report(48)),
    ("beinte", NONE, report(20)),
    ("dies", NONE, report(10)),
    ("sinco blusas", NONE, report(5)),
    ("quinse", NONE, report(15)),
    ("veinte y cinco", NONE, report(25)),
    ("diez y seis", NONE, report(16)),
    ("veinti tres", NONE, report(23)),
    ("cien", NONE, report(100)),
    ("ciento veinte", NONE, report(120)),
    ("doscientas blusas", NONE, report(200)),
    ("mil quinientos", NONE, report(1500)),
    ("ya termine quince", NONE, report(15)),
    # --- English speakers
    ("twenty", NONE, report(20)),
    ("done 15 pieces", NONE, report(15)),
    ("twenty five", NONE, report(25)),
    ("twenty-five", NONE, report(25)),
    ("I did twenty today", NONE, report(dated(20, 0))),
    ("finished 12 blouses thanks", NONE, report(12)),
    ("a hundred and five", NONE, report(105)),
    ("done one", NONE, report(1)),
    ("one question", NONE, unknown("no_number")),
    # --- "un", "una", "uno" and other words that are not counts
    ("hice una", NONE, report(1)),
    ("una blusa", NONE, report(1)),
    ("termine uno", NONE, report(1)),
    ("hice una mas", NONE, again(report(1))),
    ("un saludo", NONE, unknown("no_number")),
    ("hola, una pregunta", NONE, noted(unknown("no_number"))),
    ("mil gracias", NONE, unknown("no_number")),
    ("nos vemos a las dos", NONE, unknown("no_number")),
    ("me pagaron 200 bs", NONE, noted(unknown("no_number"))),
    # --- times, dates, durations, money and percentages are not counts
    ("hice 20 a las 5", NONE, report(20)),
    ("hice 20 a las 18:30", NONE, report(20)),
    ("18:30 hice 20", NONE, report(20)),
    ("hice 20 6pm", NONE, report(20)),
    ("hice 20 hasta las 6 pm", NONE, report(20)),
    ("25/11 hice 20", NONE, report(20)),
    ("hoy 25/11/2024 termine 12", NONE, report(dated(12, 0))),
    ("hice 20 el 25 de noviembre", NONE, report(Item(20, day=Day(of_month=25, month=11)))),
    ("hice 20 a las 5 de la tarde", NONE, report(20)),
    ("termine 20, 3 horas", NONE, report(20)),
    ("hice 20 en 3 dias", NONE, report(20)),
    ("hice 20 hasta la una", NONE, report(20)),
    ("hice 20 el 50%", NONE, report(20)),
    # --- several numbers, decimals, zero: never guess
    ("hice 20 ayer y 10 hoy", NONE, report(dated(20, 1), dated(10, 0))),
    ("20 30", NONE, unknown("several_numbers")),
    ("hice 20 y una mas", NONE, again(report(21))),
    ("25-11 hice 20", NONE, unknown("several_numbers")),
    ("2.5", NONE, unknown("decimal")),
    ("1.5", NONE, unknown("decimal")),
    ("20,5", NONE, unknown("decimal")),
    ("1.50", NONE, unknown("decimal")),
    ("0", NONE, unknown("zero")),
    ("00", NONE, unknown("zero")),
    ("0 blusas", NONE, unknown("zero")),
    ("hice cero", NONE, unknown("zero")),
    # --- order codes
    ("A 20", CODES, report((20, "A"))),
    ("20 A", CODES, report((20, "A"))),
    ("A20", CODES, report((20, "A"))),
    ("20a", CODES, report((20, "A"))),
    ("pedido A 20", CODES, report((20, "A"))),
    ("mt15", CODES, report((15, "MT"))),
    ("15 MT", CODES, report((15, "MT"))),
    ("A 10 B 5", CODES, report((10, "A"), (5, "B"))),
    ("10 A 5 B", CODES, report((10, "A"), (5, "B"))),
    ("a 10 b 5", CODES, report((10, "A"), (5, "B"))),
    ("A:10, B:5", CODES, report((10, "A"), (5, "B"))),
    ("A=10 B=5", CODES, report((10, "A"), (5, "B"))),
    ("A-10", CODES, report((10, "A"))),
    ("10a 5b", CODES, report((10, "A"), (5, "B"))),
    ("a10b5", CODES, report((10, "A"), (5, "B"))),
    ("20 a y 10 b", CODES, report((20, "A"), (10, "B"))),
    ("MT 15 A 10", CODES, report((15, "MT"), (10, "A"))),
    ("pedido b 15 gracias", CODES, report((15, "B"))),
    ("para la B hice 20", CODES, report((20, "B"))),
    ("hice 20 para el pedido MT", CODES, report((20, "MT"))),
    ("A 20 blusas B 10 blusas", CODES, report((20, "A"), (10, "B"))),
    ("20 blusas A", CODES, report((20, "A"))),
    ("A veinte", CODES, report((20, "A"))),
    ("hice 20", CODES, report(20)),
    ("12pzs", CODES, report(12)),
    ("hice 20 a las 5", CODES, report(20)),
    ("hice 20 a Maria", CODES, report(20)),
    ("entregue 20 a la senora", CODES, noted(NOT_FINISHED)),
    ("voy a entregar 20", CODES, noted(NOT_FINISHED)),
    ("entregue 20 a Maria", CODES, noted(NOT_FINISHED)),
    ("A 20", NONE, report(20)),
    ("A 10 A 5", CODES, unknown("several_numbers")),
    # The 5 is on the order she works on, or the bot asks which: never taken as A.
    ("A 10 y 5", CODES, report((10, "A"), 5)),
    ("A 10 C 5", CODES, unknown_code("C")),
    ("A 20 B", CODES, report(Item(20, choices=("A", "B")))),
    ("A 0", CODES, unknown("zero")),
    ("A 2.5", CODES, unknown("decimal")),
    ("A 71234567", CODES, unknown("too_big")),
    ("pedido A", CODES, Intent(Kind.UNKNOWN, problem="no_number", orders=("A",))),
    # --- a letter before a name is "to", not an order ("a" still means order A elsewhere)
    ("20 a doña Juana", CODES, report(20)),
    ("20 a dona juana", CODES, report(20)),
    ("20 A doña Juana", CODES, report(20)),
    ("20 A Juana", CODES, report(20)),
    ("HICE 20 A DOÑA JUANA", CODES, report(20)),
    ("le di 20 a Juana", CODES, report(20)),
    ("20 a la senora", CODES, report(20)),
    ("20 a", CODES, report((20, "A"))),
    ("20 a gracias", CODES, report((20, "A"))),
    ("20 A blusas", CODES, report((20, "A"))),
    ("a20", CODES, report((20, "A"))),
    # --- a code that is not an active order's: ask which order, never use her usual one
    ("B20", {"A"}, unknown_code("B")),
    ("20B", {"A"}, unknown_code("B")),
    ("b20", {"A"}, unknown_code("B")),
    ("MT 20", {"A"}, unknown_code("MT")),
    ("20 MT", {"A"}, unknown_code("MT")),
    ("15 MT gracias", {"A"}, unknown_code("MT")),
    ("B 20", NONE, unknown_code("B")),
    ("X 20", CODES, unknown_code("X")),
    ("20 X", CODES, unknown_code("X")),
    ("B veinte", {"A"}, unknown_code("B")),
    ("pedido B 20", {"A"}, unknown_code("B")),
    ("pedido b 20", {"A"}, unknown_code("B")),
    ("orden mt 20", {"A"}, unknown_code("MT")),
    ("pedido a 20", {"B"}, unknown_code("A")),
    ("para la C hice 20", CODES, unknown_code("C")),
    ("A20 B5", {"A"}, unknown_code("B")),
    ("A 20 B 5", {"A"}, unknown_code("B")),
    ("corregir C 18", CODES, unknown_code("C")),
    ("B 2.5", {"A"}, unknown_code("B")),
    ("pedido B", {"A"}, unknown("no_number")),
    # ordinary words stay words, in any case, as do lower-case letters not glued to the number
    ("12pzs", {"A"}, report(12)),
    ("20 pz", {"A"}, report(20)),
    ("20 PZS", {"A"}, report(20)),
    ("hice 20 a las 5", {"B"}, report(20)),
    ("A 20", {"B"}, report(20)),
    ("20 a", {"B"}, report(20)),
    ("b 20", {"A"}, report(20)),
    ("mt 20", {"A"}, report(20)),
    ("20 y", {"A"}, report(20)),
    ("SON 20", {"A"}, report(20)),
    ("OK 20", {"A"}, report(20)),
    ("HICE 20 HOY", {"A"}, report(dated(20, 0))),
    ("YA HICE 20 PZS", {"A"}, report(20)),
    ("I DID 20", {"A"}, report(20)),
    ("LE DI 20 A ANA", {"A"}, report(20)),
    ("termine el pedido y 20 mas", {"A"}, again(report(20))),
    # --- counts that are not pieces she just finished: left, returned, future, money, totals
    ("me faltan 10", NONE, NOT_FINISHED),
    ("solo me falta 5", NONE, NOT_FINISHED),
    ("me quedan 10", NONE, NOT_FINISHED),
    ("me devolvieron 5", NONE, NOT_FINISHED),
    ("devolvi 3", NONE, NOT_FINISHED),
    ("Me devolvieron 5 blusas para arreglar", NONE, NOT_FINISHED),
    ("faltan 10", NONE, NOT_FINISHED),
    # ... governing only the counts of their clause: "hice 20" stands.
    ("hice 20 y me faltan", NONE, report(20)),
    ("hice 20 y me faltan 10", NONE, report(20)),
    ("voy a hacer 20", NONE, NOT_FINISHED),
    ("puedo hacer 20?", NONE, noted(NOT_FINISHED)),
    ("mañana 20", NONE, NOT_FINISHED),
    ("manana hago 20", NONE, NOT_FINISHED),
    ("tengo que entregar 20", NONE, noted(NOT_FINISHED)),
    ("cuantas me pagan por 20", NONE, noted(NOT_FINISHED)),
    ("me deben 20", NONE, noted(NOT_FINISHED)),
    ("cuanto pagan por 20", NONE, noted(NOT_FINISHED)),
    ("llevo 200", NONE, NOT_FINISHED),
    ("ya llevo 120", NONE, NOT_FINISHED),
    ("en total 200", NONE, NOT_FINISHED),
    ("son 200 en total", NONE, NOT_FINISHED),
    ("hasta hoy 150", NONE, NOT_FINISHED),
    ("total 200", NONE, NOT_FINISHED),
    ("mi total 200", NONE, NOT_FINISHED),
    ("cuanto llevo? 200", NONE, NOT_FINISHED),
    ("esta semana hice 100", NONE, report(100)),
    ("20 por dia", NONE, NOT_FINISHED),
    ("2 docenas", NONE, report(24)),
    ("una docena", NONE, report(12)),
    ("media docena", NONE, report(6)),
    ("si me faltan 10", NONE, NOT_FINISHED),
    ("me faltan B 10", {"A"}, NOT_FINISHED),
    ("me faltan 2.5", NONE, NOT_FINISHED),
    # "en total" in a correction is the count she means ("perdon, en total 18"); the handler
    # refuses a "total" far above what she is correcting (tests/test_reports.py).
    ("corregir total 200", NONE, correct(200)),
    ("me equivoque, llevo 200", NONE, NOT_FINISHED),
    # ... while reports, and those words without a count, read as before
    ("hice 20", NONE, report(20)),
    ("ya termine 20", NONE, report(20)),
    ("termine 20 hoy", NONE, report(dated(20, 0))),
    ("hoy 20", NONE, report(dated(20, 0))),
    ("20 blusas mas", NONE, again(report(20))),
    ("otras 20", NONE, again(report(20))),
    ("hice 20 en la mañana", NONE, report(20)),
    ("esta manana termine 20", NONE, report(dated(20, 0))),
    ("hice 20 a las 5 de la manana", NONE, report(20)),
    ("acabo de terminar 20", NONE, report(20)),
    ("termine de hacer 20", NONE, report(20)),
    ("hice 20 hasta las 6 pm", NONE, report(20)),
    ("faltan", NONE, MISSING),
    ("me faltan", NONE, unknown("no_number")),
    ("si 350", NONE, replace(report(350), answer="yes")),
    ("ok", NONE, unknown("no_number")),
    # --- corrections
    ("corregir 18", NONE, correct(18)),
    ("corrijo 18", NONE, correct(18)),
    ("correccion: eran 18", NONE, correct(18)),
    ("Corrección: eran 18", NONE, correct(18)),
    ("fix 18", NONE, correct(18)),
    ("correct 18", NONE, correct(18)),
    ("CORREGIR 18", NONE, correct(18)),
    ("corejir 18", NONE, correct(18)),
    ("corregir veinte", NONE, correct(20)),
    ("corregir A 18", CODES, correct((18, "A"))),
    ("correccion: eran 18 del A", CODES, correct((18, "A"))),
    ("quiero corregir, eran 18", NONE, correct(18)),
    ("me equivoque eran 18", NONE, correct(18, said="said")),
    ("hola me equivoque, son 18", NONE, correct(18, said="said")),
    ("no, eran 20", NONE, replace(correct(20, said="said"), answer="no")),
    ("corregir", NONE, unknown("missing_count")),
    ("fix", NONE, unknown("missing_count")),
    ("me equivoque", NONE, unknown("missing_count")),
    ("corregir 20 18", NONE, unknown("several_numbers")),
    ("corregir A 10 B 5", CODES, correct((10, "A"), (5, "B"))),
    ("corregir 0", NONE, unknown("zero")),
    # --- undo ("cancelar" is UNDO; English "cancel" is REJECT)
    ("borrar", NONE, UNDO),
    ("anular", NONE, UNDO),
    ("undo", NONE, UNDO),
    ("cancelar", NONE, UNDO),
    ("CANCELAR!", NONE, UNDO),
    ("borra", NONE, UNDO),
    ("me equivoque borrar", NONE, UNDO),
    ("borrar 20", NONE, UNDO),
    ("hola, por favor anular lo ultimo", NONE, UNDO),
    # --- status
    ("total", NONE, STATUS),
    ("TOTAL?", NONE, STATUS),
    ("estado", NONE, STATUS),
    ("cuanto llevo", NONE, STATUS),
    ("cuanto llevo?", NONE, STATUS),
    ("¿Cuánto llevo?", NONE, STATUS),
    ("cuantas llevo", NONE, STATUS),
    ("cuanto levo", NONE, STATUS),
    ("cuantas yevo", NONE, unknown("no_number")),
    ("status", NONE, STATUS),
    ("estatus", NONE, STATUS),
    ("mi total", NONE, STATUS),
    ("hola quiero ver mi total", NONE, STATUS),
    ("my total", NONE, STATUS),
    ("cuanto lleбо", NONE, unknown("no_number")),
    ("he estado enferma", NONE, noted(unknown("no_number"))),
    # --- help
    ("ayuda", NONE, HELP),
    ("AYUDA", NONE, HELP),
    ("ayudaa", NONE, HELP),
    ("ayuada", NONE, HELP),
    ("ayuda por favor", NONE, HELP),
    ("help", NONE, HELP),
    ("help me", NONE, HELP),
    ("?", NONE, HELP),
    ("¿?", NONE, HELP),
    ("que hago", NONE, HELP),
    ("q hago?", NONE, HELP),
    ("ke hago", NONE, HELP),
    ("como funciona", NONE, HELP),
    ("menu", NONE, HELP),
    ("info", NONE, HELP),
    ("no entiendo", NONE, HELP),
    # --- stop / start
    ("baja", NONE, STOP),
    ("BAJA", NONE, STOP),
    ("stop", NONE, STOP),
    ("parar", NONE, STOP),
    ("darme de baja", NONE, STOP),
    ("unsubscribe", NONE, STOP),
    ("alta", NONE, START),
    ("start", NONE, START),
    ("volver", NONE, START),
    ("darme de alta", NONE, START),
    # --- language
    ("idioma en", NONE, language("en")),
    ("idioma ingles", NONE, language("en")),
    ("idioma: español", NONE, language("es")),
    ("language es", NONE, language("es")),
    ("language spanish", NONE, language("es")),
    ("english", NONE, language("en")),
    ("english please", NONE, language("en")),
    ("ingles", NONE, language("en")),
    ("inglés", NONE, language("en")),
    ("espanol", NONE, language("es")),
    ("español", NONE, language("es")),
    ("castellano", NONE, language("es")),
    ("idioma", NONE, unknown("missing_text")),
    ("idioma frances", NONE, unknown("missing_text")),
    # --- confirm / reject (a count wins over si/no: "si hice 20" is a report)
    ("si", NONE, CONFIRM),
    ("sí", NONE, CONFIRM),
    ("SI!", NONE, CONFIRM),
    ("Sii", NONE, CONFIRM),
    ("yes", NONE, CONFIRM),
    ("ok si", NONE, CONFIRM),
    ("confirmo", NONE, CONFIRM),
    ("correcto", NONE, CONFIRM),
    ("esta bien", NONE, CONFIRM),
    ("si esta bien gracias", NONE, CONFIRM),
    ("siii confirmo", NONE, CONFIRM),
    ("si hice 20", NONE, replace(report(20), answer="yes")),
    ("no", NONE, REJECT),
    ("NO.", NONE, REJECT),
    ("noo", NONE, REJECT),
    ("no es", NONE, REJECT),
    ("NO ES", NONE, REJECT),
    ("no gracias", NONE, REJECT),
    ("cancel", NONE, STOP),  # Twilio's own opt-out word
    ("no esta bien", NONE, REJECT),
    ("no hice nada hoy", NONE, Intent(Kind.UNKNOWN, problem="nothing_done", day=Day(0), answer="no")),
    # --- coordinator commands
    ("resumen", NONE, SUMMARY),
    ("Resumen", NONE, SUMMARY),
    ("resumne", NONE, SUMMARY),
    ("summary", NONE, SUMMARY),
    ("faltan", NONE, MISSING),
    ("missing", NONE, MISSING),
    ("quien falta", NONE, MISSING),
    ("quien falta?", NONE, MISSING),
    ("aviso Mañana reunión a las 10", NONE, Intent(Kind.BROADCAST, text="Mañana reunión a las 10")),
    ("AVISO: Mañana NO hay reunión", NONE, Intent(Kind.BROADCAST, text="Mañana NO hay reunión")),
    (
        "broadcast Meeting tomorrow at 10",
        NONE,
        Intent(Kind.BROADCAST, text="Meeting tomorrow at 10"),
    ),
    ("hola aviso traer hilo rojo 🧵", NONE, Intent(Kind.BROADCAST, text="traer hilo rojo 🧵")),
    ("aviso", NONE, unknown("missing_text")),
    ("aviso: ", NONE, unknown("missing_text")),
    (
        "nueva 71234567 Rosa Mamani",
        NONE,
        Intent(Kind.ADD_MEMBER, text="Rosa Mamani", phone="71234567"),
    ),
    (
        "nueva +591 71234567 Rosa Mamani",
        NONE,
        Intent(Kind.ADD_MEMBER, text="Rosa Mamani", phone="+59171234567"),
    ),
    (
        "add 71234567 Rosa Mamani",
        NONE,
        Intent(Kind.ADD_MEMBER, text="Rosa Mamani", phone="71234567"),
    ),
    (
        "nueva Rosa Mamani 71234567",
        NONE,
        Intent(Kind.ADD_MEMBER, text="Rosa Mamani", phone="71234567"),
    ),
    (
        "nueva 7123 4567 Juana Quispe",
        NONE,
        Intent(Kind.ADD_MEMBER, text="Juana Quispe", phone="71234567"),
    ),
    ("nueva Rosa Mamani", NONE, unknown("missing_phone")),
    ("nueva 123 Rosa", NONE, unknown("missing_phone")),
    ("nueva 71234567", NONE, unknown("missing_text")),
    ("anotar Rosa Mamani 20", NONE, Intent(Kind.RECORD, text="Rosa Mamani", items=(Item(20),))),
    ("anotar 71234567 20", NONE, Intent(Kind.RECORD, text="71234567", items=(Item(20),))),
    (
        "anotar +591 71234567 20",
        NONE,
        Intent(Kind.RECORD, text="+591 71234567", items=(Item(20),)),
    ),
    ("anotar rosa 20 A", CODES, Intent(Kind.RECORD, text="rosa", items=(Item(20, "A"),))),
    ("anotar Rosa A 20", CODES, Intent(Kind.RECORD, text="Rosa", items=(Item(20, "A"),))),
    ("record Rosa 20", NONE, Intent(Kind.RECORD, text="Rosa", items=(Item(20),))),
    ("anotr Rosa 5", NONE, Intent(Kind.RECORD, text="Rosa", items=(Item(5),))),
    ("anotar Doña Ines veinte", NONE, Intent(Kind.RECORD, text="Doña Ines", items=(Item(20),))),
    ("anotar 20 Rosa", NONE, record("Rosa", 20)),
    ("anotar 20 a Rosa Mamani", NONE, record("Rosa Mamani", 20)),
    ("anotar 20 para Rosa", NONE, record("Rosa", 20)),
    ("anotar veinte Rosa", NONE, record("Rosa", 20)),
    ("anotar 20 blusas a doña Ines gracias", NONE, record("doña Ines", 20)),
    ("anotar 20 a Rosa", CODES, record("Rosa", 20)),
    ("anotar 20 B Rosa", CODES, record("Rosa", (20, "B"))),
    ("anotar A 5 Ines", CODES, record("Ines", (5, "A"))),
    ("anotar 20 ANA", CODES, record("ANA", 20)),
    ("anotar ANA 20", CODES, record("ANA", 20)),
    ("anotar 20 X Rosa", CODES, unknown_code("X")),
    ("anotar Rosa X 20", CODES, unknown_code("X")),
    ("anotar 20 Rosa 5", NONE, unknown("several_numbers")),
    ("anotar 20 hoy", NONE, unknown("missing_text")),
    ("anotar Rosa le faltan 20", NONE, NOT_FINISHED),
    ("anotar 20 Rosa total", NONE, NOT_FINISHED),
    ("anotar sabina", NONE, unknown("missing_count")),
    ("anotar Rosa", NONE, unknown("missing_count")),
    ("anotar 20", NONE, unknown("missing_text")),
    ("anotar", NONE, unknown("missing_text")),
    ("anotar Rosa 2.5", NONE, unknown("decimal")),
    # --- nothing to read
    ("", NONE, unknown("empty")),
    ("   ", NONE, unknown("empty")),
    ("...", NONE, unknown("empty")),
    ("😀👍", NONE, unknown("empty")),
    ("hola", NONE, unknown("no_number")),
    ("buenas noches", NONE, unknown("no_number")),
    ("gracias", NONE, unknown("no_number")),
    ("todas", NONE, unknown("no_number")),
    ("pasar", NONE, unknown("no_number")),
    ("pagar", NONE, noted(unknown("no_number"))),
    ("estaba enferma", NONE, noted(unknown("no_number"))),
    ("cuando pagan?", NONE, noted(unknown("no_number"))),
    ("falta hilo", NONE, noted(unknown("no_number"))),
]


@pytest.mark.parametrize(
    ("text", "codes", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES]
)
def test_reads_what_members_send(text: str, codes: frozenset[str], expected: Intent) -> None:
    assert parse(text, codes) == expected


def test_the_table_covers_enough_variants() -> None:
    assert len(CASES) >= 170


# Written out by hand, the way members type them: no accents anywhere.
SPANISH_1_TO_100 = (
    """
uno dos tres cuatro cinco seis siete ocho nueve diez
once doce trece catorce quince dieciseis diecisiete dieciocho diecinueve veinte
veintiuno veintidos veintitres veinticuatro veinticinco veintiseis veintisiete veintiocho
veintinueve treinta
""".split()
    + [
        f"{tens} y {unit}" if unit else tens
        for tens in ("treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa")
        for unit in ("", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")
    ][1:]
    + ["cien"]
)


def test_spanish_number_list_is_complete() -> None:
    assert len(SPANISH_1_TO_100) == 100


@pytest.mark.parametrize("value", range(1, 101))
def test_every_spanish_number_word_without_accents(value: int) -> None:
    words = SPANISH_1_TO_100[value - 1]
    assert parse(words) == report(value)
    assert parse(f"hice {words} blusas") == report(value)
    assert parse(words.upper()) == report(value)


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("veintidós", 22),
        ("veintitrés", 23),
        ("veintiséis", 26),
        ("dieciséis", 16),
        ("veintiún", 21),
    ],
)
def test_accented_number_words(words: str, value: int) -> None:
    assert parse(words) == report(value)


@pytest.mark.parametrize("text", ["1.500", "1,500", "hice 1.500", "1.500 pzs"])
def test_three_digits_after_the_separator_are_thousands(text: str) -> None:
    assert parse(text) == report(1500)


@pytest.mark.parametrize("text", ["1.5", "2.5", "2,50", "1.5000", "1.500,5"])
def test_other_separators_are_decimals(text: str) -> None:
    assert parse(text) == unknown("decimal")


def test_a_count_above_the_limit_is_too_big() -> None:
    assert parse(str(MAX_PIECES)) == report(MAX_PIECES)
    assert parse(str(MAX_PIECES + 1)) == unknown("too_big")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A20", report((20, "A"))),
        ("20A", report((20, "A"))),
        ("mt15", report((15, "MT"))),
        ("15mt", report((15, "MT"))),
        ("b5", report((5, "B"))),
        ("A10B5", report((10, "A"), (5, "B"))),
    ],
)
def test_codes_glued_to_the_number(text: str, expected: Intent) -> None:
    assert parse(text, CODES) == expected


@pytest.mark.parametrize("text", ["12pzs", "20pz", "20 pzs", "hice 20 a las 5", "20 a Maria"])
def test_words_by_the_count_are_not_codes(text: str) -> None:
    assert parse(text, {"B"}) == report(20 if "20" in text else 12)


@pytest.mark.parametrize(
    ("text", "code"), [("A20", "A"), ("20a", "A"), ("mt15", "MT"), ("15mt", "MT"), ("20y", "Y")]
)
def test_letters_glued_to_the_count_are_a_code_even_when_not_active(text: str, code: str) -> None:
    """'A20' when A is closed: ask which order, never put the pieces on her usual one."""
    assert parse(text, {"B"}) == unknown_code(code)


def test_codes_may_be_given_in_any_case() -> None:
    assert parse("a 20", {"a", "mt"}) == report((20, "A"))
    assert parse("MT 20", ["mt"]) == report((20, "MT"))


def test_the_same_code_twice_is_not_summed() -> None:
    """Rosa texts 'A 10 A 5': the bot asks her to send it once instead of guessing."""
    assert parse("A 10 A 5", CODES) == unknown("several_numbers")


def test_random_text_never_raises() -> None:
    rng = random.Random(20241125)
    alphabet = (
        "abcdefghijklmnopqrstuvwxyzáéíóúñ ABCMTXYZ0123456789.,:;/-+?¿!%$"
        "😀👍\u200f\u202e\x00\x07\n\tשלום٢٣①²"
    )
    for _ in range(1500):
        length = rng.choice([1, 3, 20, 160, 1600])
        text = "".join(rng.choice(alphabet) for _ in range(length))
        assert isinstance(parse(text, CODES), Intent)
    for _ in range(1500):
        length = rng.choice([1, 5, 50, 1600])
        text = "".join(chr(rng.randrange(0, 0x30000)) for _ in range(length))
        assert isinstance(parse(text, ("A", "")), Intent)
