"""Logs never carry a full phone number, a member's message, a token or a login code."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError

from bot.channels import Console
from bot.db import unit_of_work
from bot.models import Member
from bot.outbox import send_queued
from tests import factories as f
from tests.factories import COOP_NUMBER, ELENA, EXPORTER_CONTACT, JUANA, LIDIA, ROSA
from tests.test_webhook import form, sign

PHONES = [ROSA, LIDIA, ELENA, JUANA, EXPORTER_CONTACT]
BODIES = ["hice 23 blusas", "aviso Reunion secreta el lunes", "corregir 21"]


def test_a_busy_evening_leaves_no_personal_data_in_the_logs(signed_app, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    engine = signed_app.extensions["puntada"].engine
    f.club(engine)
    client = signed_app.test_client()
    for i, (sender, body) in enumerate([(ROSA, BODIES[0]), (JUANA, BODIES[1]), (ROSA, BODIES[2])]):
        data = form(sender=sender, body=body, sid=f"SM{i:032d}")
        response = client.post("/twilio/messages", data=data, headers={"X-Twilio-Signature": sign(data)})
        assert response.status_code == 200
    data = form(body="20", sid="SM" + "9" * 32)
    response = client.post("/twilio/messages", data=data, headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    send_queued(engine, Console(), at=f.STORY_START)
    logged = caplog.text
    assert "inbound" in logged  # something was logged, and it was checked
    for secret in [*PHONES, *(p[4:] for p in PHONES), *BODIES, "test-token", COOP_NUMBER[4:]]:
        assert secret not in logged, secret
    assert ROSA not in capsys.readouterr().out  # what the console "sends" is masked too


def test_database_errors_logged_with_their_traceback_show_no_phone(engine, club, caplog):
    with pytest.raises(IntegrityError) as error:
        with unit_of_work(engine) as session:
            session.add(Member(cooperative_id=club.cooperative.id, name="Rosa bis", phone=ROSA))
    try:
        raise error.value
    except IntegrityError:
        logging.getLogger("bot.test").exception("could not add %s", ROSA)
    assert "IntegrityError" in caplog.text and "could not add +591*****001" in caplog.text
    assert ROSA not in caplog.text and ROSA[1:] not in caplog.text
