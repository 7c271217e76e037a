"""Juana the coordinator, and the exporter's contact, by SMS."""

from __future__ import annotations

from datetime import timedelta

from bot.models import Member, Outbox, Report
from tests import factories as f
from tests.factories import ELENA, EXPORTER_CONTACT, JUANA, LIDIA, ROSA


def test_a_member_cannot_use_coordinator_commands(engine, club, now):
    for text in ("resumen", "faltan", "aviso manana no hay reunion", "nueva 71234567 Ana", "anotar Lidia 20"):
        assert f.text(engine, ROSA, text, at=now) == (
            "Ese mensaje es solo para coordinadoras. "
            "Para anotar tus piezas manda el numero, por ejemplo: 20"
        )
    assert f.count(engine, Outbox) == 0
    assert f.count(engine, Member) == 4
    assert f.count(engine, Report) == 0


def test_summary_shows_today_progress_pace_and_silent_members(engine, club, now):
    # Rosa reports every day of the week; Lidia last reported on Monday; Elena never has.
    for back in range(7):
        f.text(engine, ROSA, "60", at=now - timedelta(days=back))
    f.text(engine, LIDIA, "40", at=now - timedelta(days=3))
    reply = f.text(engine, JUANA, "resumen", at=now)
    # 460 done, 14.540 left; working days Thu 26 Nov .. Wed 23 Dec (Mon-Sat) = 24 → 606/day.
    # Trailing 7 days: 460 pieces over 6 working days → 77/day; 190 working days more → 6 Jul.
    assert reply == (
        "Resumen 26 nov. Hoy: 60 piezas. A: 460/15.000 (3 %), 606/dia necesario, "
        "ritmo 77/dia, fin 6 jul 2027, EN RIESGO. Sin reportar 2+ dias: 2."
    )


def test_missing_lists_who_has_not_reported_today(engine, club, now):
    f.text(engine, LIDIA, "20", at=now)
    assert f.text(engine, JUANA, "faltan", at=now) == "Faltan hoy (2): Elena Quispe, Rosa Mamani."
    f.text(engine, ROSA, "20", at=now)
    f.text(engine, ELENA, "20", at=now)
    assert f.text(engine, JUANA, "faltan", at=now) == "Hoy ya reportaron todas."


def test_broadcast_queues_one_message_per_active_member_in_her_language(engine, club, now):
    f.text(engine, LIDIA, "baja", at=now)
    reply = f.text(engine, JUANA, "aviso Mañana reunión a las 10", at=now, sid="SM" + "5" * 32)
    assert reply == "Aviso en cola para 2 socias. Sale fuera del horario de silencio."
    assert f.outbox(engine) == [
        (ELENA, "broadcast", "Bartolina Sisa: Mañana reunion a las 10"),
        (ROSA, "broadcast", "Bartolina Sisa: Mañana reunion a las 10"),
    ]
    # Twilio retries the same message: nothing is queued twice.
    f.text(engine, JUANA, "aviso Mañana reunión a las 10", at=now, sid="SM" + "5" * 32)
    assert f.count(engine, Outbox) == 2


def test_a_broadcast_too_long_for_two_segments_is_refused(engine, club, now):
    """Each member gets "Bartolina Sisa: <text>": 306 characters in two segments, 290 for the text."""
    assert f.text(engine, JUANA, "aviso " + "hilo rojo " * 30, at=now) == (
        "El aviso tiene 299 letras; cada socia lo pagaria en varios SMS. Mandalo en menos de 290. "
        "No mandé nada."
    )
    assert f.count(engine, Outbox) == 0
    f.text(engine, JUANA, "aviso " + "x" * 290, at=now)
    assert [len(body) for _, _, body in f.outbox(engine)] == [306, 306, 306]  # Rosa, Lidia, Elena


def test_emoji_in_a_broadcast_are_dropped_to_keep_it_gsm7(engine, club, now):
    f.text(engine, JUANA, "aviso Gracias a todas 🙏🎉 por el esfuerzo", at=now)
    assert {body for _, _, body in f.outbox(engine)} == {"Bartolina Sisa: Gracias a todas por el esfuerzo"}


def test_coordinator_registers_a_new_member_who_is_welcomed(engine, club, now):
    reply = f.text(engine, JUANA, "nueva 71234567 Carmen Flores", at=now)
    assert reply == "Registré a Carmen Flores (+59171234567). Ya puede mandar sus piezas a este numero."
    assert f.outbox(engine) == [(
        "+59171234567",
        "welcome",
        "Hola Carmen, ya estas en Bartolina Sisa. Cuando termines piezas manda el numero aqui, "
        "ej: 20. Ayuda: ayuda",
    )]
    assert f.text(engine, "+59171234567", "20", at=now).startswith("Carmen, anoté 20 en el pedido A.")
    assert f.text(engine, JUANA, "nueva 71234567 Carmen Flores", at=now) == (
        "Carmen Flores ya esta registrada con +59171234567."
    )
    assert f.text(engine, JUANA, "nueva 7123456789 Ana", at=now) == (
        "7123456789 no parece un numero de telefono. Ejemplo: nueva 71234567 Rosa Mamani"
    )
    assert f.count(engine, Member) == 5


def test_coordinator_records_for_a_member_by_name_or_phone(engine, club, now):
    reply = f.text(engine, JUANA, "anotar lidia 30", at=now)
    assert reply == "Anoté 30 en A para Lidia Apaza. Su mes: 30. Pedido A: 30/15.000 (0 %)"
    f.text(engine, JUANA, "anotar 71000001 12", at=now)
    f.text(engine, JUANA, "anotar Rosa Mamami 3", at=now)  # a typo in the name
    assert f.reports(engine, club.lidia.id) == [("A", 30, "accepted")]
    assert f.reports(engine, club.rosa.id) == [("A", 12, "accepted"), ("A", 3, "accepted")]
    assert f.text(engine, JUANA, "anotar Zenobia 3", at=now) == (
        'No encontré a "Zenobia". Usa su nombre o su telefono, por ejemplo: anotar 71234567 20'
    )


def test_a_coordinator_records_two_orders_at_once(engine, club, now):
    f.order(engine, club, code="MT", assign=ROSA)
    assert f.text(engine, JUANA, "anotar Rosa A 10 MT 5", at=now) == (
        "Anoté 10 en A, 5 en MT para Rosa Mamani. Su mes: 15. "
        "Pedido A: 10/15.000 (0 %). Pedido MT: 5/1.000 (0 %)"
    )
    assert f.reports(engine) == [("A", 10, "accepted"), ("MT", 5, "accepted")]


def test_a_coordinator_is_asked_which_order_like_anyone(engine, club, now):
    f.order(engine, club, code="MT", assign=ROSA)
    assert f.text(engine, JUANA, "anotar rosa 8", at=now) == (
        "¿Para qué pedido es de Rosa Mamani? Ejemplo: anotar Rosa 8 A. Pedidos: A, MT. No anoté nada."
    )
    f.text(engine, JUANA, "anotar rosa 8 MT", at=now)
    assert f.reports(engine) == [("MT", 8, "accepted")]


def test_the_exporter_sees_only_its_own_orders(engine, club, now):
    f.order(engine, club, code="MT", buyer="Tejidos Illimani", assign=ROSA)
    f.text(engine, ROSA, "A 100", at=now)
    f.text(engine, ROSA, "MT 10", at=now)
    assert f.text(engine, EXPORTER_CONTACT, "estado", at=now) == (
        "Bartolina Sisa: A: 100/15.000 (0 %) blusas, entrega 23 dic, EN RIESGO."
    )


def test_the_exporter_cannot_report_or_command(engine, club, now):
    for text in ("20", "resumen", "anotar Rosa 20"):
        assert f.text(engine, EXPORTER_CONTACT, text, at=now) == (
            "Manda ESTADO para ver el avance de tus pedidos. For English send: english"
        )
    assert f.count(engine, Report) == 0


def test_a_number_in_two_cooperatives_is_answered_by_the_one_it_wrote_to(engine, club, now, runner):
    # Juana coordinates Bartolina Sisa and embroiders for Club Wiphala.
    for args in (["coop", "add", "Club Wiphala", "--number", "+59162000200"],
                 ["member", "add", "--coop", "Club Wiphala", "--phone", JUANA, "--name", "Juana Condori"],
                 ["order", "add", "--coop", "Club Wiphala", "--buyer", "Andes Export", "--code", "W",
                  "--item", "chompas", "--quantity", "300", "--due", "2026-12-20", "--assign", "all"]):
        assert runner.invoke(args=args).exit_code == 0
    assert f.text(engine, JUANA, "resumen", at=now, to="+59162000200") == (
        "Ese mensaje es solo para coordinadoras. Para anotar tus piezas manda el numero, por ejemplo: 20"
    )
    assert f.text(engine, JUANA, "12", at=now, to="+59162000200") == (
        "Juana, anoté 12 en el pedido W. Tu mes: 12. Pedido W: 12/300 (4 %)"
    )
    assert f.text(engine, JUANA, "resumen", at=now).startswith("Resumen 26 nov. Hoy: 0 piezas. A: 0/15.000")
    assert f.reports(engine) == [("W", 12, "accepted")]
