"""One evening at the club, every kind of message in a row: what each member is told, and
what the evening leaves behind (every stored message and reply, report, running total, queued
notice and member), down to the last row.

The rows are in tests/stories/evening.json. When a change means to alter them, the test
fails and shows how; write the new rows with `PUNTADA_WRITE_STORIES=1 pytest
tests/test_evening.py` and read the difference in `git diff` before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from bot.db import unit_of_work
from bot.models import Cooperative, InboundMessage, Member, Order, Outbox, Report
from tests import factories as f
from tests.factories import ELENA, EXPORTER_CONTACT, JUANA, LIDIA, ROSA

STRANGER = "+59179999999"
WA_ELENA = f"whatsapp:{ELENA}"
ROWS = Path(__file__).parent / "stories" / "evening.json"

EVENING = [
    (ROSA, '20',
     'Rosa, anoté 20 en el pedido A. Tu mes: 20. Pedido A: 20/15.000 (0 %)'),
    (ROSA, 'hice 12 blusas',
     'Rosa, anoté 12 en el pedido A. Tu mes: 32. Pedido A: 32/15.000 (0 %)'),
    (ROSA, 'ya termine quince',
     'Rosa, anoté 15 en el pedido A. Tu mes: 47. Pedido A: 47/15.000 (0 %)'),
    (ROSA, 'A 5',
     'Rosa, anoté 5 en el pedido A. Tu mes: 52. Pedido A: 52/15.000 (0 %)'),
    (LIDIA, 'C 12',
     'Lidia, anoté 12 en el pedido C. Tu mes: 12. Pedido C: 12/40 (30 %)'),
    (LIDIA, 'C 30',
     'Lidia, anoté 30 en el pedido C. Tu mes: 42. Pedido C: 42/40 (105 %) completo!'),
    (ROSA, 'total',
     'Rosa, este mes llevas 52 piezas (hoy 52). Pedido A: 52/15.000 (0 %)'),
    (ROSA, 'cuanto llevo?',
     'Rosa, este mes llevas 52 piezas (hoy 52). Pedido A: 52/15.000 (0 %)'),
    (LIDIA, '20',
     '¿Para cual pedido son tus 20? A (blusas), B (manteles) o C (chalinas). Responde A, B o C.'),
    (LIDIA, 'A 10 B 5',
     'Lidia, anoté 10 en A, 5 en B. Tu mes: 57. A: 62/15.000 (0 %), B: 5/1.000 (0 %)'),
    (LIDIA, 'B 7',
     'Lidia, anoté 7 en el pedido B. Tu mes: 64. Pedido B: 12/1.000 (1 %)'),
    (LIDIA, 'Z 5',
     'No hay pedido Z abierto. Pedidos: A, B, C. Ejemplo: A 20. No anoté nada.'),
    (LIDIA, 'me faltan 10',
     'Solo anoto las piezas que terminaste, por ejemplo: hice 20. Tu total: total. No anoté nada.'),
    (LIDIA, '0',
     'Con 0 no hay nada que anotar. Cuando termines piezas, manda el numero, por ejemplo: 20'),
    (LIDIA, '1,5',
     'Manda piezas enteras, por ejemplo: 20. No anoté nada.'),
    (LIDIA, 'ayuda',
     ('Manda cuantas piezas terminaste: 20 o A 20. Corregir: corregir 18. Anular: borrar. Tu '
      'total: total. Sin recordatorios: baja. English: idioma en')),
    (LIDIA, 'hola',
     'No entendi. Manda cuantas piezas terminaste, por ejemplo: 20 o A 20. Tu total: total. Ayuda: ayuda'),
    (LIDIA, 'estado',
     'Lidia, este mes llevas 64 piezas (hoy 64). A: 62/15.000 (0 %). B: 12/1.000 (1 %). C: 42/40 (105 %)'),
    (WA_ELENA, '10',
     'Elena, recorded 10 on order A. Your month: 10. Order A: 72/15,000 (0 %)'),
    (WA_ELENA, 'total',
     'Elena, this month you have 10 pieces (today 10). Order A: 72/15,000 (0 %)'),
    (ELENA, 'help',
     ('Send how many pieces you finished: 20 or A 20. Correct: fix 18. Cancel: undo. Your total: '
      'total. No reminders: stop. Espanol: idioma es')),
    (ELENA, '350',
     'Elena, are you sure it is 350 on A? Reply YES to record it or NO to cancel.'),
    (ELENA, 'si',
     'Elena, recorded 350 on order A. Your month: 360. Order A: 422/15,000 (2 %)'),
    (ELENA, '12',
     'Elena, recorded 12 on order A. Your month: 372. Order A: 434/15,000 (2 %)'),
    (ELENA, 'corregir 8',
     'Elena, corrected: 8 instead of 12 on order A. Your month: 368. Order A: 430/15,000 (2 %)'),
    (ELENA, 'borrar',
     'Elena, cancelled your last report of 8 on order A. Your month: 360. Order A: 422/15,000 (2 %)'),
    (ELENA, '400',
     'Elena, are you sure it is 400 on A? Reply YES to record it or NO to cancel.'),
    (ELENA, '25',
     'Elena, recorded 25 on order A. Your month: 385. Order A: 447/15,000 (2 %)'),
    (JUANA, '20',
     '¿Para cual pedido son tus 20? A (blusas), B (manteles) o C (chalinas). Responde A, B o C.'),
    (JUANA, 'ayuda',
     ('Coordinadora: resumen, faltan, aviso <texto>, nueva <telefono> <nombre>, anotar <nombre> '
      '<piezas>. Tus piezas: 20 o A 20. Ayuda: ayuda')),
    (JUANA, 'resumen',
     ('Resumen 26 nov. Hoy: 501 piezas. A: 447/15.000 (2 %), 607/dia necesario, ritmo 74/dia, '
      'fin 13 jul 2027, EN RIESGO. B: 12/1.000 (1 %), 59/dia necesario, ritmo 2/dia, fin 24 jun '
      '2028, EN RIESGO. C: 42/40 (105 %), 0/dia necesario, ritmo 7/dia, completo. Sin reportar '
      '2+ dias: 0.')),
    (EXPORTER_CONTACT, 'estado',
     ('Bartolina Sisa: A: 447/15.000 (2 %) blusas, entrega 23 dic, EN RIESGO. B: 12/1.000 (1 %) '
      'manteles, entrega 15 dic, EN RIESGO. C: 42/40 (105 %) chalinas, entrega 15 dic.')),
    (STRANGER, 'hola',
     'Hola. Tu numero no esta registrado en Bartolina Sisa. Pide a tu coordinadora que te registre.'),
    (ROSA, 'baja',
     ('Listo, ya no te mandaremos recordatorios ni avisos. Tus piezas se siguen anotando. Para '
      'volver manda ALTA.')),
    (ROSA, '5',
     'Rosa, anoté 5 en el pedido A. Tu mes: 57. Pedido A: 452/15.000 (3 %)'),
]
# Two hours later Rosa's phone goes wild: past the flood limit (6 in ten minutes) she gets no
# replies, but each of her counts is recorded once.
FLOOD = [f"Rosa, anoté {n} en el pedido A. Tu mes: {m}. Pedido A: {t}/15.000 (3 %)"
         for n, m, t in ((1, 58, 453), (2, 60, 455), (3, 63, 458), (4, 67, 462), (5, 72, 467),
                         (6, 78, 473))] + ["", "", ""]


def test_an_evening_at_the_club(engine, now):
    club = f.club(engine)
    f.order(engine, club, code="B", quantity=1_000, assign=LIDIA)
    # Small: milestones and completion.
    f.order(engine, club, code="C", quantity=40, assign=LIDIA, item="chalinas")
    with unit_of_work(engine) as session:
        session.get(Cooperative, club.cooperative.id).flood_limit = 6
    for i, (sender, body, reply) in enumerate(EVENING):
        at = now + timedelta(minutes=2 * i)
        assert (body, f.text(engine, sender, body, at=at, sid=f"SM{i:032d}")) == (body, reply)
    later = now + timedelta(hours=2)
    flood = [f.text(engine, ROSA, str(n), at=later + timedelta(seconds=n), sid=f"SM9{n:031d}")
             for n in range(1, 10)]
    assert flood == FLOOD
    # Twilio retries her first message an hour later: the first reply, nothing recorded again.
    retried = f.text(engine, ROSA, "99", at=now + timedelta(hours=1), sid=f"SM{3:032d}")
    assert retried == EVENING[3][2]
    left = rows(engine)
    if os.environ.get("PUNTADA_WRITE_STORIES"):
        ROWS.write_text(json.dumps(left, ensure_ascii=False, indent=1) + "\n")
    assert left == json.loads(ROWS.read_text())


def rows(engine) -> dict:
    """What the evening left behind, as plain values (ids as the phones, codes and sids they are)."""
    with Session(engine) as session:
        phones = dict(session.execute(select(Member.id, Member.phone)).all())
        codes = dict(session.execute(select(Order.id, Order.code)).all())
        sids = dict(session.execute(select(InboundMessage.id, InboundMessage.message_sid)).all())
        found = {
            "inbound": [[m.message_sid, m.sender, m.channel, m.body, m.intent, m.understood, m.reply,
                         phones.get(m.member_id), m.cooperative_id, m.received_at]
                        for m in session.scalars(select(InboundMessage).order_by(InboundMessage.id))],
            "reports": [[phones[r.member_id], codes[r.order_id], r.pieces, r.status, r.at, r.local_date,
                         r.source, sids.get(r.inbound_id), r.replaces_id is not None]
                        for r in session.scalars(select(Report).order_by(Report.id))],
            "orders": [[o.code, o.done, o.status] for o in session.scalars(select(Order).order_by(Order.id))],
            "outbox": [[o.key, o.recipient, o.channel, o.kind, o.body, o.content_variables, o.status]
                       for o in session.scalars(select(Outbox).order_by(Outbox.id))],
            "members": [[m.phone, m.opted_out, m.language, m.last_inbound_at]
                        for m in session.scalars(select(Member).order_by(Member.id))],
        }
    return json.loads(json.dumps(found, default=str))
