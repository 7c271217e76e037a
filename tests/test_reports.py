"""The embroiderers' story: a count texted, recorded once, answered in one SMS."""

from __future__ import annotations

from datetime import date, timedelta

from bot.models import InboundMessage, Member, Report
from tests import factories as f
from tests.factories import ELENA, LIDIA, ROSA


def test_rosa_reports_twenty_and_hears_her_month_and_the_order(engine, club, now):
    reply = f.text(engine, ROSA, "hice 20", at=now)
    assert reply == "Rosa, anoté 20 en el pedido A. Tu mes: 20. Pedido A: 20/15.000 (0 %)"
    reply = f.text(engine, ROSA, "ya termine quince", at=now)
    assert reply == "Rosa, anoté 15 en el pedido A. Tu mes: 35. Pedido A: 35/15.000 (0 %)"
    assert f.reports(engine) == [("A", 20, "accepted"), ("A", 15, "accepted")]
    assert f.done(engine, club.order.id) == 35


def test_the_month_total_counts_only_this_month_on_the_club_clock(engine, club, now):
    f.text(engine, ROSA, "100", at=now - timedelta(days=30))  # October 27th
    f.text(engine, ROSA, "40", at=now - timedelta(days=1))
    reply = f.text(engine, ROSA, "2", at=now)
    assert reply == "Rosa, anoté 2 en el pedido A. Tu mes: 42. Pedido A: 142/15.000 (0 %)"


def test_thousands_and_percent_are_formatted_for_spanish(engine, club, now):
    f.text(engine, LIDIA, "anoto 1.500", at=now)  # not a plausible count: held
    assert f.text(engine, LIDIA, "si", at=now) == (
        "Lidia, anoté 1.500 en el pedido A. Tu mes: 1.500. Pedido A: 1.500/15.000 (10 %)"
    )


def test_elena_is_answered_in_english(engine, club, now):
    assert f.text(engine, ELENA, "done 25 pieces", at=now) == (
        "Elena, recorded 25 on order A. Your month: 25. Order A: 25/15,000 (0 %)"
    )


def test_with_two_orders_the_bot_asks_which_and_records_nothing(engine, club, now):
    f.order(engine, club, code="MT", assign=ROSA)
    reply = f.text(engine, ROSA, "20", at=now)
    assert reply == "¿Para cual pedido son tus 20? A (blusas) o MT (manteles). Responde A o MT."
    assert f.reports(engine) == []
    inbound = f.count(engine, InboundMessage, InboundMessage.understood.is_(False))
    assert inbound == 1


def test_a_code_before_after_or_glued_chooses_the_order(engine, club, now):
    mt = f.order(engine, club, code="MT", assign=ROSA)
    assert f.text(engine, ROSA, "MT 5", at=now).startswith("Rosa, anoté 5 en el pedido MT.")
    f.text(engine, ROSA, "20a", at=now)
    f.text(engine, ROSA, "pedido A 7", at=now)
    assert f.reports(engine) == [("MT", 5, "accepted"), ("A", 20, "accepted"), ("A", 7, "accepted")]
    assert f.done(engine, mt.id) == 5


def test_an_order_she_is_not_on_is_asked_about_and_recorded_when_she_insists(engine, club, now):
    f.order(engine, club, code="MT", assign=ROSA)
    assert f.text(engine, LIDIA, "mt 3", at=now) == (
        "¿Tus 3 son de MT (manteles)? No estas en ese pedido. Responde MT, o A (blusas).")
    assert f.reports(engine) == []
    insisted = f.text(engine, LIDIA, "MT", at=now + timedelta(minutes=1))
    assert insisted.startswith("Lidia, anoté 3 en el pedido MT.")
    # Lidia's only assigned order is A: a bare count goes there.
    bare = f.text(engine, LIDIA, "10", at=now + timedelta(minutes=2))
    assert bare.startswith("Lidia, anoté 10 en el pedido A.")
    assert f.reports(engine) == [("MT", 3, "accepted"), ("A", 10, "accepted")]


def test_two_orders_in_one_message(engine, club, now):
    f.order(engine, club, code="B", quantity=2_000, assign=ROSA)
    reply = f.text(engine, ROSA, "A 10 B 5", at=now)
    assert reply == "Rosa, anoté 10 en A, 5 en B. Tu mes: 15. A: 10/15.000 (0 %), B: 5/2.000 (0 %)"
    assert f.reports(engine) == [("A", 10, "accepted"), ("B", 5, "accepted")]


def test_a_large_count_waits_for_her_si(engine, club, now):
    reply = f.text(engine, ROSA, "500", at=now)
    assert reply == "Rosa, ¿seguro que son 500 en A? Responde SI para anotar o NO para anular."
    assert f.reports(engine) == [("A", 500, "held")]
    assert f.done(engine, club.order.id) == 0
    reply = f.text(engine, ROSA, "si", at=now)
    assert reply == "Rosa, anoté 500 en el pedido A. Tu mes: 500. Pedido A: 500/15.000 (3 %)"
    assert f.reports(engine) == [("A", 500, "accepted")]
    assert f.done(engine, club.order.id) == 500


def test_no_drops_the_large_count(engine, club, now):
    f.text(engine, ROSA, "400", at=now)
    reply = f.text(engine, ROSA, "no", at=now)
    assert reply == "Rosa, no anoté las 400 piezas. Manda el numero correcto, por ejemplo: 20"
    assert f.reports(engine) == [("A", 400, "cancelled")]
    assert f.text(engine, ROSA, "si", at=now) == (
        "No hay nada por confirmar. Para anotar piezas manda el numero, por ejemplo: 20"
    )


def test_a_si_a_day_later_confirms_nothing(engine, club, now):
    f.text(engine, ROSA, "400", at=now)
    reply = f.text(engine, ROSA, "si", at=now + timedelta(hours=25))
    assert reply.startswith("No hay nada por confirmar.")
    assert f.reports(engine) == [("A", 400, "held")]


def test_correction_replaces_her_latest_report(engine, club, now):
    f.text(engine, ROSA, "20", at=now)
    reply = f.text(engine, ROSA, "corregir 18", at=now)
    assert reply == (
        "Rosa, corregido: 18 en vez de 20 en el pedido A. Tu mes: 18. Pedido A: 18/15.000 (0 %)"
    )
    assert f.reports(engine) == [("A", 20, "cancelled"), ("A", 18, "accepted")]
    assert f.done(engine, club.order.id) == 18


def test_a_large_correction_is_confirmed_before_it_replaces(engine, club, now):
    f.text(engine, ROSA, "20", at=now)
    assert f.text(engine, ROSA, "corrijo 350", at=now).startswith("Rosa, ¿seguro que son 350 en A?")
    assert f.done(engine, club.order.id) == 20
    f.text(engine, ROSA, "si", at=now)
    assert f.reports(engine) == [("A", 20, "cancelled"), ("A", 350, "accepted")]
    assert f.done(engine, club.order.id) == 350


def test_nothing_to_correct(engine, club, now):
    assert f.text(engine, ROSA, "fix 18", at=now) == (
        "No tienes reportes para corregir. Para anotar piezas manda el numero, por ejemplo: 20"
    )
    assert f.reports(engine) == []


def test_undo_cancels_her_latest_report(engine, club, now):
    f.text(engine, ROSA, "20", at=now)
    f.text(engine, ROSA, "12", at=now)
    reply = f.text(engine, ROSA, "borrar", at=now)
    assert reply == (
        "Rosa, anulé tu ultimo reporte de 12 en el pedido A. Tu mes: 20. Pedido A: 20/15.000 (0 %)"
    )
    assert f.reports(engine) == [("A", 20, "accepted"), ("A", 12, "cancelled")]
    f.text(engine, ROSA, "anular", at=now)
    assert f.done(engine, club.order.id) == 0
    assert f.text(engine, ROSA, "undo", at=now).startswith("No tienes reportes para anular.")


def test_status_shows_her_month_today_and_the_order(engine, club, now):
    f.text(engine, ROSA, "30", at=now - timedelta(days=2))
    f.text(engine, ROSA, "12", at=now)
    f.text(engine, LIDIA, "50", at=now)
    assert f.text(engine, ROSA, "cuanto llevo?", at=now) == (
        "Rosa, este mes llevas 42 piezas (hoy 12). Pedido A: 92/15.000 (0 %)"
    )


def test_help_and_a_message_the_bot_cannot_read(engine, club, now):
    assert f.text(engine, ROSA, "ayuda", at=now) == (
        "Manda cuantas piezas terminaste: 20. Corregir: corregir 18. Anular: borrar. "
        "Tu total: total. Sin recordatorios: baja. English: idioma en"
    )
    reply = f.text(engine, ROSA, "hola buenas noches", at=now, sid="SM" + "7" * 32)
    assert reply == (
        "No entendi. Manda cuantas piezas terminaste, por ejemplo: 20 o A 20. "
        "Tu total: total. Ayuda: ayuda"
    )
    stored = f.inbound(engine, "SM" + "7" * 32)
    assert (stored.body, stored.understood, stored.reply) == ("hola buenas noches", False, reply)


def test_several_counts_without_codes_are_not_guessed(engine, club, now):
    reply = f.text(engine, ROSA, "hice 20 30", at=now)
    assert reply == ("¿Cuantas piezas terminaste? Manda un solo numero por pedido, por ejemplo: 20. "
                     "No anoté nada.")
    assert f.reports(engine) == []
    assert f.text(engine, ROSA, "hice 20 o 25", at=now) == (
        "¿Cual es el numero? Manda solo las piezas que terminaste, por ejemplo: 20. No anoté nada.")
    assert f.reports(engine) == []


def test_two_counts_on_two_days_are_two_reports(engine, club, now):
    reply = f.text(engine, ROSA, "hice 20 ayer y 10 hoy", at=now)
    assert reply == "Rosa, anoté 20 de ayer en A, 10 en A. Tu mes: 30. Pedido A: 30/15.000 (0 %)"
    assert [(r.pieces, r.local_date) for r in f.report_rows(engine)] == [(20, date(2026, 11, 25)),
                                                                          (10, date(2026, 11, 26))]


def test_stop_and_start(engine, club, now):
    assert f.text(engine, ROSA, "baja", at=now) == (
        "Listo, ya no te mandaremos recordatorios ni avisos. "
        "Tus piezas se siguen anotando. Para volver manda ALTA."
    )
    assert f.get(engine, Member, club.rosa.id).opted_out is True
    f.text(engine, ROSA, "alta", at=now)
    assert f.get(engine, Member, club.rosa.id).opted_out is False


def test_language_change_answers_in_the_new_language_from_then_on(engine, club, now):
    assert f.text(engine, ROSA, "idioma en", at=now) == (
        "OK, I will answer in English. Para espanol manda: espanol"
    )
    assert f.text(engine, ROSA, "20", at=now).startswith("Rosa, recorded 20 on order A.")
    assert f.get(engine, Member, club.rosa.id).language == "en"


def test_over_production_is_kept_and_shown(engine, club, now):
    small = f.order(engine, club, code="S", quantity=100, assign=LIDIA)
    f.text(engine, LIDIA, "S 90", at=now)
    reply = f.text(engine, LIDIA, "S 30", at=now)
    assert reply == "Lidia, anoté 30 en el pedido S. Tu mes: 120. Pedido S: 120/100 (120 %) completo!"
    assert f.done(engine, small.id) == 120


def test_a_closed_order_takes_no_more_reports(engine, club, now, runner):
    result = runner.invoke(args=["order", "close", "--coop", "Bartolina Sisa", "A"])
    assert result.exit_code == 0, result.output
    assert f.text(engine, ROSA, "20", at=now) == (
        "No hay pedidos activos ahora, no anoté nada. Tu coordinadora te avisara del proximo pedido."
    )
    assert f.count(engine, Report) == 0


def test_an_unknown_sender_gets_a_polite_reply_and_the_message_is_kept(engine, club, now):
    reply = f.text(engine, "+59179999999", "hice 20", at=now, sid="SM" + "1" * 32)
    assert reply == (
        "Hola. Tu numero no esta registrado en Bartolina Sisa. Pide a tu coordinadora que te registre."
    )
    stored = f.inbound(engine, "SM" + "1" * 32)
    assert (stored.sender, stored.body, stored.intent) == ("+59179999999", "hice 20", "unknown_sender")
    assert f.count(engine, Report) == 0


def test_a_message_to_a_number_of_no_club_is_kept(engine, club, now):
    reply = f.text(engine, ROSA, "20", at=now, to="+59162999999", sid="SM" + "2" * 32)
    assert reply.startswith("Hola. Este numero no pertenece a ningun club")
    assert f.inbound(engine, "SM" + "2" * 32).intent == "wrong_number"


def test_a_deactivated_member_is_told_so(engine, club, now):
    from bot.db import unit_of_work

    with unit_of_work(engine) as s:
        s.get(Member, club.rosa.id).active = False
    assert f.text(engine, ROSA, "20", at=now) == (
        "Hola. Tu numero ya no esta activo en Bartolina Sisa. Si es un error, habla con tu coordinadora."
    )
    assert f.count(engine, Report) == 0


def test_whatsapp_and_sms_from_the_same_member_add_up(engine, club, now):
    f.text(engine, "whatsapp:" + ROSA, "10", at=now, to="whatsapp:" + f.COOP_NUMBER)
    reply = f.text(engine, ROSA, "5", at=now)
    assert reply == "Rosa, anoté 5 en el pedido A. Tu mes: 15. Pedido A: 15/15.000 (0 %)"
    assert f.get(engine, Member, club.rosa.id).last_inbound_at is not None


def test_sending_the_large_count_again_confirms_it(engine, club, now):
    f.text(engine, ROSA, "350", at=now)
    reply = f.text(engine, ROSA, "si 350", at=now)
    assert reply == "Rosa, anoté 350 en el pedido A. Tu mes: 350. Pedido A: 350/15.000 (2 %)"
    assert f.reports(engine) == [("A", 350, "accepted")]


def test_a_new_count_instead_of_an_answer_drops_the_doubtful_one(engine, club, now):
    f.text(engine, ROSA, "350", at=now)
    reply = f.text(engine, ROSA, "35", at=now)
    assert reply == "Rosa, anoté 35 en el pedido A. Tu mes: 35. Pedido A: 35/15.000 (0 %)"
    assert f.reports(engine) == [("A", 350, "cancelled"), ("A", 35, "accepted")]
    assert f.text(engine, ROSA, "si", at=now).startswith("No hay nada por confirmar.")
    assert f.done(engine, club.order.id) == 35


def test_a_correction_while_a_large_count_waits_replaces_that_count(engine, club, now):
    f.text(engine, ROSA, "28", at=now - timedelta(days=1))
    f.text(engine, ROSA, "400", at=now)
    reply = f.text(engine, ROSA, "corregir 40", at=now)
    assert reply == "Rosa, corregido: 40 en vez de 400 en el pedido A. Tu mes: 68. Pedido A: 68/15.000 (0 %)"
    assert f.reports(engine) == [("A", 28, "accepted"), ("A", 400, "cancelled"), ("A", 40, "accepted")]
    assert f.text(engine, ROSA, "si", at=now).startswith("No hay nada por confirmar.")


def test_a_large_correction_of_yesterday_can_be_confirmed_today(engine, club, now):
    f.text(engine, ROSA, "20", at=now - timedelta(hours=26))
    f.text(engine, ROSA, "corregir 400", at=now)
    assert f.text(engine, ROSA, "si", at=now).startswith("Rosa, anoté 400 de ayer en el pedido A.")
    assert f.reports(engine) == [("A", 20, "cancelled"), ("A", 400, "accepted")]
    assert f.done(engine, club.order.id) == 400


def test_undo_and_correct_do_not_reach_back_past_yesterday(engine, club, now):
    f.text(engine, ROSA, "30", at=now - timedelta(days=3))
    f.text(engine, ROSA, "20", at=now)
    f.text(engine, ROSA, "borrar", at=now)
    assert f.text(engine, ROSA, "borrar", at=now).startswith("No tienes reportes para anular.")
    assert f.text(engine, ROSA, "corregir 25", at=now).startswith("No tienes reportes para corregir.")
    assert f.reports(engine) == [("A", 30, "accepted"), ("A", 20, "cancelled")]


def test_her_messages_sent_twice_at_once_count_once(engine, club, now):
    import threading

    def at_once(body: str, copies: int) -> list[str]:
        replies: list[str] = []
        barrier = threading.Barrier(copies)

        def send():
            barrier.wait()
            replies.append(f.text(engine, ROSA, body, at=now))

        threads = [threading.Thread(target=send) for _ in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return replies

    f.text(engine, ROSA, "450", at=now)
    replies = at_once("si", 3)
    assert sum(r.startswith("Rosa, anoté 450") for r in replies) == 1
    assert f.done(engine, club.order.id) == 450
    at_once("corregir 18", 3)
    assert f.done(engine, club.order.id) == 18
    at_once("borrar", 4)
    assert f.done(engine, club.order.id) == 0
    assert [s for _, _, s in f.reports(engine)].count("accepted") == 0


def test_counts_that_are_not_finished_pieces_are_not_recorded(engine, club, now):
    for text in ("me faltan 10", "llevo 200", "voy a hacer 20", "mañana termino 20"):
        assert f.text(engine, ROSA, text, at=now) == (
            "Solo anoto las piezas que terminaste, por ejemplo: hice 20. Tu total: total. No anoté nada."
        )
    assert f.reports(engine) == []


def test_a_code_of_no_open_order_is_not_put_on_her_usual_order(engine, club, now, runner):
    f.order(engine, club, code="MT", assign=ROSA)
    runner.invoke(args=["order", "close", "--coop", "Bartolina Sisa", "MT"])
    assert f.text(engine, ROSA, "MT 20", at=now) == (
        "No hay pedido MT abierto. Pedidos: A. Ejemplo: A 20. No anoté nada."
    )
    assert f.reports(engine) == []
