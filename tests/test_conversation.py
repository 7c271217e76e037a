"""Members understood in their own words: a count in its clause, the garment for the order, the
bot's question answered, a resend asked about, and every message reaching a person."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.models import InboundMedia, InboundMessage, Member, Report
from bot.render import segments
from tests import factories as f
from tests.factories import ELENA, JUANA, LIDIA, ROSA
from tests.test_webhook import form, message_of


@pytest.fixture
def two_orders(engine, club):
    """Rosa embroiders blusas (A, for every member) and manteles (M); Lidia only blusas."""
    return f.order(engine, club, code="M", item="manteles bordados", buyer="Casa Textil", assign=ROSA)


def rows(engine) -> list[tuple[str, int, date, str]]:
    """(order, pieces, day, status) of every report."""
    with Session(engine) as session:
        from bot.models import Order

        return [tuple(r) for r in session.execute(
            select(Order.code, Report.pieces, Report.local_date, Report.status)
            .join(Order).order_by(Report.id))]


THURSDAY, WEDNESDAY = date(2026, 11, 26), date(2026, 11, 25)


# --- orders by their words ------------------------------------------------------------------


def test_rosa_names_the_garment_not_the_letter(engine, club, two_orders, now):
    assert f.text(engine, ROSA, "hice 20 blusas", at=now) == (
        "Rosa, anoté 20 en el pedido A. Tu mes: 20. Pedido A: 20/15.000 (0 %)")
    assert f.text(engine, ROSA, "mnteles: 7", at=now + timedelta(minutes=1)) == (
        "Rosa, anoté 7 en el pedido M. Tu mes: 27. Pedido M: 7/1.000 (0 %)")
    assert f.text(engine, ROSA, "hice 10 blusas y 5 de lo de Casa Textil", at=now + timedelta(minutes=2)) == (
        "Rosa, anoté 10 en A, 5 en M. Tu mes: 42. A: 30/15.000 (0 %), M: 12/1.000 (1 %)")
    assert rows(engine) == [("A", 20, THURSDAY, "accepted"), ("M", 7, THURSDAY, "accepted"),
                            ("A", 10, THURSDAY, "accepted"), ("M", 5, THURSDAY, "accepted")]


def test_an_order_she_is_not_on_is_asked_not_put_on_hers(engine, club, two_orders, now):
    reply = f.text(engine, LIDIA, "hice 5 manteles", at=now)
    assert reply == "¿Tus 5 son de M (manteles)? No estas en ese pedido. Responde M, o A (blusas)."
    assert rows(engine) == []
    answered = f.text(engine, LIDIA, "A", at=now + timedelta(minutes=1))
    assert answered.startswith("Lidia, anoté 5 en el pedido A.")
    assert rows(engine) == [("A", 5, THURSDAY, "accepted")]


def test_the_question_names_her_orders_and_her_count_and_her_answer_completes_it(engine, club, two_orders,
                                                                               now):
    reply = f.text(engine, ROSA, "buenas noches, hice 25", at=now)
    assert reply == "¿Para cual pedido son tus 25? A (blusas) o M (manteles). Responde A o M."
    assert segments(reply) == 1 and rows(engine) == []
    assert f.text(engine, ROSA, "de manteles", at=now + timedelta(minutes=3)) == (
        "Rosa, anoté 25 en el pedido M. Tu mes: 25. Pedido M: 25/1.000 (2 %)")
    # Answered, the question is gone: "A" alone is no count.
    assert f.text(engine, ROSA, "A", at=now + timedelta(minutes=4)).startswith("¿Cuantas blusas terminaste?")
    assert rows(engine) == [("M", 25, THURSDAY, "accepted")]


def test_an_answer_hours_later_is_a_new_message(engine, club, two_orders, now):
    f.text(engine, ROSA, "hice 25", at=now)
    assert f.text(engine, ROSA, "blusas", at=now + timedelta(hours=5)) == (
        "¿Cuantas blusas terminaste? Manda el numero, por ejemplo: 20")
    assert f.text(engine, ROSA, "12", at=now + timedelta(hours=5, minutes=1)).startswith(
        "Rosa, anoté 12 en el pedido A.")
    assert rows(engine) == [("A", 12, THURSDAY, "accepted")]


# --- read the clause, not the whole message --------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("hice 25 señora, mañana le llevo", [("A", 25, THURSDAY, "accepted")]),
    ("hice 30 blusas ayer no pude mandar", [("A", 30, WEDNESDAY, "accepted")]),
    ("hice 20 ayer y 10 hoy", [("A", 20, WEDNESDAY, "accepted"), ("A", 10, THURSDAY, "accepted")]),
    ("hice 16 de 20 que me dieron", [("A", 16, THURSDAY, "accepted")]),
    ("me faltaban de la semana pasada, hoy hice 25 blusas del pedido A, manana le llevo",
     [("A", 25, THURSDAY, "accepted")]),
    ("dos cientos", [("A", 200, THURSDAY, "accepted")]),
    ("ciento y cinco", [("A", 105, THURSDAY, "accepted")]),
    ("3 docenas", [("A", 36, THURSDAY, "accepted")]),
    ("2O", [("A", 20, THURSDAY, "accepted")]),
    ("<script>alert(1)</script>", []),
    ("<svg onload=alert(4)>", []),
])
def test_lidia_is_read_clause_by_clause(engine, club, now, text, expected):
    f.text(engine, LIDIA, text, at=now)
    assert rows(engine) == expected


def test_a_thousand_is_asked_with_its_reading(engine, club, now):
    assert f.text(engine, LIDIA, "hice 2 mil", at=now) == (
        "Lidia, ¿seguro que son 2.000 en A? Responde SI para anotar o NO para anular.")
    assert f.text(engine, LIDIA, "si", at=now + timedelta(minutes=1)).startswith("Lidia, anoté 2.000")


def test_a_guess_and_a_fault_are_asked_with_the_reading(engine, club, now):
    assert f.text(engine, LIDIA, "hice 20 pero 2 salieron mal", at=now) == (
        "Lidia, ¿anoto 18 en A? Responde SI para anotar, o manda el numero correcto.")
    assert f.text(engine, LIDIA, "17", at=now + timedelta(minutes=1)).startswith("Lidia, anoté 17")
    assert rows(engine) == [("A", 18, THURSDAY, "cancelled"), ("A", 17, THURSDAY, "accepted")]


def test_a_correction_in_free_words_replaces_the_count(engine, club, now):
    f.text(engine, LIDIA, "hice 20", at=now)
    assert f.text(engine, LIDIA, "me equivoque eran 15 no 20", at=now + timedelta(minutes=30)) == (
        "Lidia, corregido: 15 en vez de 20 en el pedido A. Tu mes: 15. Pedido A: 15/15.000 (0 %)")
    f.text(engine, LIDIA, "perdon eso era de ayer", at=now + timedelta(minutes=31))
    assert rows(engine) == [("A", 20, THURSDAY, "cancelled"), ("A", 15, THURSDAY, "cancelled"),
                            ("A", 15, WEDNESDAY, "accepted")]


# --- a resend is not a new report ------------------------------------------------------------


def test_a_resend_is_asked_about_not_added(engine, club, now):
    f.text(engine, LIDIA, "hice 20", at=now)
    assert f.text(engine, LIDIA, "hice 20", at=now + timedelta(minutes=2)) == (
        "Lidia, ya anoté 20 hace 2 minutos. ¿Hiciste otros 20? Responde SI para anotarlos.")
    assert f.done(engine, club.order.id) == 20
    # Her phone tries once more: still the same question, nothing added.
    f.text(engine, LIDIA, "hice 20", at=now + timedelta(minutes=3))
    assert f.done(engine, club.order.id) == 20
    assert f.text(engine, LIDIA, "si", at=now + timedelta(minutes=4)).startswith("Lidia, anoté 20")
    assert f.done(engine, club.order.id) == 40


def test_a_resent_large_count_is_not_its_own_confirmation(engine, club, now):
    f.text(engine, LIDIA, "450", at=now)
    f.text(engine, LIDIA, "450", at=now + timedelta(minutes=1))
    assert f.done(engine, club.order.id) == 0
    assert f.text(engine, LIDIA, "si", at=now + timedelta(minutes=2)).startswith("Lidia, anoté 450")
    assert f.done(engine, club.order.id) == 450


def test_another_batch_later_or_said_so_is_added(engine, club, now):
    f.text(engine, LIDIA, "hice 20", at=now)
    f.text(engine, LIDIA, "otras 20 mas", at=now + timedelta(minutes=2))
    f.text(engine, LIDIA, "hice 20", at=now + timedelta(hours=1))
    assert f.done(engine, club.order.id) == 60


# --- every message reaches a person -----------------------------------------------------------


def test_a_question_is_passed_to_the_coordinator_kindly(engine, club, now):
    reply = f.text(engine, LIDIA, "cuando nos pagan?", at=now, sid="SM" + "q" * 32)
    assert reply == ("Gracias, Lidia. Le paso tu mensaje a Juana. "
                     "Para anotar piezas manda el numero, por ejemplo: 20")
    stored = f.inbound(engine, "SM" + "q" * 32)
    assert (stored.for_coordinator, stored.understood) == (True, False)
    assert f.outbox(engine) == []  # she reads it in Mensajes and in the evening digest, no SMS each


def test_news_with_a_count_is_recorded_and_passed_on(engine, club, now):
    reply = f.text(engine, LIDIA, "40 blusas. Necesito mas hilo", at=now, sid="SM" + "n" * 32)
    assert reply == ("Lidia, anoté 40 en el pedido A. Tu mes: 40. Pedido A: 40/15.000 (0 %) "
                     "Le paso tu mensaje a Juana.")
    stored = f.inbound(engine, "SM" + "n" * 32)
    assert (stored.for_coordinator, stored.understood) == (True, True)


def test_three_orders_in_one_message_fit_one_segment(engine, club, now):
    f.order(engine, club, code="M", item="manteles", assign=ROSA)
    f.order(engine, club, code="C", item="chalinas", quantity=10, assign=ROSA)
    reply = f.text(engine, ROSA, "hice 11 blusas, 4 manteles y 8 chalinas", at=now)
    assert reply == "Rosa, anoté 11 en A, 4 en M, 8 en C. Tu mes: 23. A 0 %, M 0 %, C 80 %"
    reply = f.text(engine, ROSA, "A 11 M 4 C 8 y gracias hermanita", at=now + timedelta(hours=1))
    assert reply == "Rosa, anoté 11 en A, 4 en M, 8 en C. Tu mes: 46. A 0 %, M 0 %, C 160 % completo"
    assert segments(reply) == 1


# --- voice notes, photos, locations ----------------------------------------------------------


def media_form(body: str = "", *, sid: str, kinds: tuple[str, ...] = ("audio/ogg",), sender: str = LIDIA):
    data = {**form(sender=f"whatsapp:{sender}", body=body, sid=sid, to=f"whatsapp:{f.COOP_NUMBER}"),
            "NumMedia": str(len(kinds))}
    for n, kind in enumerate(kinds):
        data[f"MediaUrl{n}"] = (f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages/{sid}"
                                f"/Media/ME{n}")
        data[f"MediaContentType{n}"] = kind
    return data


def test_a_voice_note_is_kept_and_she_is_told_plainly(client, engine, club):
    sid = "MM" + "1" * 32
    answer = client.post("/twilio/messages", data=media_form(sid=sid))
    assert message_of(answer) == ("Recibimos tu audio, pero no puedo escucharlo: escribe el numero, "
                                  "por ejemplo 20. Se lo paso a Juana.")
    stored = f.inbound(engine, sid)
    assert (stored.body, stored.num_media, stored.for_coordinator, stored.channel) == (
        "", 1, True, "whatsapp")
    with Session(engine) as session:
        media = session.scalars(select(InboundMedia)).all()
    assert [(m.position, m.content_type, m.url.endswith(f"/Messages/{sid}/Media/ME0")) for m in media] == [
        (0, "audio/ogg", True)]


def test_a_photo_with_a_caption_is_read_as_her_message(client, engine, club):
    answer = client.post("/twilio/messages", data=media_form("15 blusas listas", sid="MM" + "2" * 32,
                                                             kinds=("image/jpeg",)))
    assert message_of(answer) == ("Lidia, anoté 15 en el pedido A. Tu mes: 15. Pedido A: 15/15.000 (0 %) "
                                  "Le paso tu mensaje a Juana.")
    with Session(engine) as session:
        (report,) = session.scalars(select(Report)).all()
    assert (report.pieces, report.source) == (15, "whatsapp")


def test_a_location_is_kept(client, engine, club):
    data = {**form(sender=f"whatsapp:{LIDIA}", body="", sid="SM" + "l" * 32, to=f"whatsapp:{f.COOP_NUMBER}"),
            "Latitude": "-16.5002", "Longitude": "-68.1877", "Address": "Mercado 16 de Julio"}
    assert message_of(client.post("/twilio/messages", data=data)).startswith("Recibimos tu ubicacion")
    stored = f.inbound(engine, "SM" + "l" * 32)
    assert (stored.latitude, stored.longitude, stored.address) == (-16.5002, -68.1877, "Mercado 16 de Julio")


def test_a_voice_note_while_the_bot_waits_for_her_answer_asks_again(client, engine, club, two_orders, now,
                                                                    frozen):
    f.text(engine, ROSA, "20", at=now)
    answer = client.post("/twilio/messages", data=media_form(sid="MM" + "3" * 32, sender=ROSA))
    assert message_of(answer) == ("No puedo escuchar audios. ¿Tus 20 son de A (blusas) o M (manteles)? "
                                  "Responde A o M.")


# --- Twilio's opt-out ---------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["CANCEL", "END", "QUIT", "STOPALL", "stop"])
def test_twilios_stop_words_opt_her_out(client, engine, club, word):
    data = {**form(body=word, sid="SM" + word.lower()[:1] * 32), "OptOutType": "STOP"}
    assert message_of(client.post("/twilio/messages", data=data)).startswith("Listo, ya no te mandaremos")
    assert f.get(engine, Member, club.rosa.id).opted_out is True


def test_when_twilio_says_start_she_is_back_whatever_her_words(client, engine, club):
    client.post("/twilio/messages", data={**form(body="parar", sid="SM" + "s" * 32)})
    assert f.get(engine, Member, club.rosa.id).opted_out is True
    data = {**form(body="UNSTOP", sid="SM" + "t" * 32), "OptOutType": "START"}
    assert message_of(client.post("/twilio/messages", data=data)).startswith("Listo, otra vez")
    assert f.get(engine, Member, club.rosa.id).opted_out is False


# --- the coordinator records from the queue on the member's day ------------------------------


def test_anotar_with_a_day_records_on_that_day(engine, club, now):
    reply = f.text(engine, JUANA, "anotar Rosa 20 ayer", at=now)
    assert reply.startswith("Anoté 20 de ayer en A para Rosa Mamani.")
    assert rows(engine) == [("A", 20, WEDNESDAY, "accepted")]


def test_english_members_are_read_too(engine, club, now):
    assert f.text(engine, ELENA, "finished 15 yesterday", at=now).startswith(
        "Elena, recorded 15 from yesterday on order A.")
    assert f.count(engine, InboundMessage) == 1
