"""A runaway sender: replies stop past the flood limit, reports still count once, replies resume."""

from __future__ import annotations

from datetime import timedelta

from bot.db import unit_of_work
from bot.models import Cooperative
from tests import factories as f
from tests.factories import JUANA, ROSA
from tests.test_webhook import form


def test_an_auto_reply_loop_stops_getting_answers_but_its_reports_count(client, engine, club, now):
    with unit_of_work(engine) as session:
        session.get(Cooperative, club.cooperative.id).flood_limit = 5
    replies = [f.text(engine, ROSA, str(n), at=now + timedelta(seconds=n)) for n in range(1, 9)]
    assert [bool(r) for r in replies] == [True] * 5 + [False] * 3
    assert f.done(engine, club.order.id) == 36  # every report recorded, once
    alerts = [(to, body) for to, kind, body in f.outbox(engine) if kind == "flood"]
    assert alerts == [(JUANA, "Bartolina Sisa: Rosa Mamani mando 6 mensajes en 10 minutos; ya no le contesto "
                              "hasta que pare. Sus piezas se siguen anotando. Numero: +59171000001")]
    # Ten minutes later the rate has fallen: she is answered again.
    assert f.text(engine, ROSA, "9", at=now + timedelta(minutes=11)).startswith("Rosa, anoté 9")


def test_the_webhook_answers_a_flood_with_empty_twiml(client, engine, club):
    with unit_of_work(engine) as session:
        session.get(Cooperative, club.cooperative.id).flood_limit = 1
    client.post("/twilio/messages", data=form(body="hola", sid="SM" + "4" * 32))
    response = client.post("/twilio/messages", data=form(body="hola", sid="SM" + "5" * 32))
    assert response.status_code == 200
    assert response.data == b'<?xml version="1.0" encoding="UTF-8"?><Response />'


def test_an_unknown_number_flooding_is_reported_by_its_number(engine, club, now):
    with unit_of_work(engine) as session:
        session.get(Cooperative, club.cooperative.id).flood_limit = 2
    for i in range(4):
        f.text(engine, "+59179999999", "Gracias por su mensaje", at=now + timedelta(seconds=i))
    alerts = [body for _, kind, body in f.outbox(engine) if kind == "flood"]
    assert alerts == ["Bartolina Sisa: +59179999999 mando 3 mensajes en 10 minutos; ya no le contesto hasta "
                      "que pare. Numero: +59179999999"]
