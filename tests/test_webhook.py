"""Twilio posting to /twilio/messages: signatures, duplicates, concurrency, TwiML."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from twilio.request_validator import RequestValidator

from bot import create_app
from bot.db import unit_of_work
from bot.models import InboundMessage, Member, Report
from tests import factories as f
from tests.factories import COOP_NUMBER, ROSA

URL = "http://localhost/twilio/messages"


def form(sender: str = ROSA, body: str = "20", sid: str = "SM" + "a" * 32, to: str = COOP_NUMBER):
    return {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "0" * 32,
            "From": sender, "To": to, "Body": body, "NumMedia": "0"}


def sign(params: dict, url: str = URL, token: str = "test-token") -> str:
    return RequestValidator(token).compute_signature(url, params)


def message_of(response) -> str:
    """The text of the one <Message> in a TwiML reply."""
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    (message,) = root.findall("Message")
    return message.text


def test_a_report_is_answered_with_twiml(client, club, engine):
    response = client.post("/twilio/messages", data=form(body="hice 20"))
    assert message_of(response).startswith("Rosa, anoté 20 en el pedido A.")
    assert f.done(engine, club.order.id) == 20


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_healthz_says_503_when_the_database_does_not_answer(settings):
    app = create_app(replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_a_form_without_its_fields_is_a_bad_request(client, club, engine, missing):
    data = form()
    data.pop(missing)
    if missing == "MessageSid":
        data.pop("SmsMessageSid")
    assert client.post("/twilio/messages", data=data).status_code == 400
    assert f.count(engine, InboundMessage) == 0


def test_a_huge_request_is_refused_with_413(client, club, engine):
    response = client.post("/twilio/messages", data=form(body="x" * 100_000))
    assert response.status_code == 413
    assert f.count(engine, InboundMessage) == 0


def test_signed_webhooks_are_accepted(signed_app, club):
    engine = signed_app.extensions["puntada"].engine
    data = form()
    response = signed_app.test_client().post(
        "/twilio/messages", data=data, headers={"X-Twilio-Signature": sign(data)}
    )
    assert message_of(response).startswith("Rosa, anoté 20")
    assert f.count(engine, Report) == 1


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl", "wrong-token"])
def test_unsigned_or_wrongly_signed_webhooks_get_403_and_record_nothing(signed_app, club, signature):
    engine = signed_app.extensions["puntada"].engine
    data = form()
    headers = {}
    if signature == "wrong-token":
        headers["X-Twilio-Signature"] = sign(data, token="another-token")
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    response = signed_app.test_client().post("/twilio/messages", data=data, headers=headers)
    assert response.status_code == 403
    assert f.count(engine, InboundMessage) == 0
    assert f.count(engine, Report) == 0


def test_a_signature_over_altered_fields_is_refused(signed_app, club):
    data = form(body="20")
    signature = sign(data)
    data["Body"] = "200"
    response = signed_app.test_client().post(
        "/twilio/messages", data=data, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


def test_behind_a_proxy_the_public_base_url_is_what_twilio_signed(settings, club):
    app = create_app(replace(settings, twilio_auth_token="test-token",
                             public_base_url="https://bot.example.org"))
    data = form()
    good = sign(data, url="https://bot.example.org/twilio/messages")
    client = app.test_client()
    assert client.post("/twilio/messages", data=data,
                       headers={"X-Twilio-Signature": sign(data)}).status_code == 403
    assert message_of(client.post("/twilio/messages", data=data,
                                  headers={"X-Twilio-Signature": good})).startswith("Rosa")
    app.extensions["puntada"].engine.dispose()


def test_without_a_public_base_url_the_proxy_headers_give_the_signed_url(signed_app, club):
    data = form()
    headers = {
        "X-Twilio-Signature": sign(data, url="https://bot.example.org/twilio/messages"),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "bot.example.org",
    }
    response = signed_app.test_client().post("/twilio/messages", data=data, headers=headers)
    assert message_of(response).startswith("Rosa")


def test_a_repeated_message_sid_gets_the_first_reply_and_records_nothing(client, club, engine):
    first = message_of(client.post("/twilio/messages", data=form(body="20")))
    again = message_of(client.post("/twilio/messages", data=form(body="20")))
    assert again == first
    assert f.count(engine, InboundMessage) == 1
    assert f.reports(engine) == [("A", 20, "accepted")]


def test_twenty_copies_at_the_same_moment_count_once(app, club, engine):
    replies = _at_once(app, [form(body="25")] * 20)
    assert len(set(replies)) == 1
    assert replies[0].startswith("Rosa, anoté 25 en el pedido A.")
    assert f.count(engine, InboundMessage) == 1
    assert f.reports(engine) == [("A", 25, "accepted")]
    assert f.done(engine, club.order.id) == 25


def test_fifty_members_reporting_at_once_leave_exact_totals(app, club, engine):
    phones = [f"+5917200{i:04d}" for i in range(50)]
    with unit_of_work(engine) as session:
        session.add_all(Member(cooperative_id=club.cooperative.id, name=f"Socia {i}", phone=p)
                        for i, p in enumerate(phones))
    forms = [form(sender=p, body=f"{i + 1}", sid=f"SM{i:032d}") for i, p in enumerate(phones)]
    replies = _at_once(app, forms)
    assert all("en el pedido A" in r for r in replies)
    assert f.count(engine, Report) == 50
    assert f.done(engine, club.order.id) == sum(range(1, 51))


def test_whatsapp_and_sms_reach_the_same_member(client, club, engine):
    wa = form(sender="whatsapp:" + ROSA, to="whatsapp:" + COOP_NUMBER, body="10", sid="SM" + "b" * 32)
    assert message_of(client.post("/twilio/messages", data=wa)).startswith("Rosa, anoté 10")
    reply = message_of(client.post("/twilio/messages", data=form(body="5", sid="SM" + "c" * 32)))
    assert "Tu mes: 15." in reply
    assert f.count(engine, InboundMessage, InboundMessage.channel == "whatsapp") == 1


def _at_once(app, forms: list[dict]) -> list[str]:
    """Post every form from its own thread, all released together."""
    barrier = threading.Barrier(len(forms))
    replies: list[str | None] = [None] * len(forms)
    errors: list[BaseException] = []

    def post(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        try:
            replies[index] = message_of(client.post("/twilio/messages", data=forms[index]))
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return replies


@pytest.mark.parametrize("field", ["MessageSid", "From", "To"])
def test_an_overlong_field_is_a_bad_request(client, club, engine, field):
    data = form()
    data[field] = "x" * 65
    assert client.post("/twilio/messages", data=data).status_code == 400
    assert f.count(engine, InboundMessage) == 0


def test_control_characters_in_a_body_are_stored_as_spaces(client, club, engine):
    reply = message_of(client.post("/twilio/messages", data=form(body="hice\x0020\x07 blusas")))
    assert reply.startswith("Rosa, anoté 20 en el pedido A.")
    assert f.inbound(engine, "SM" + "a" * 32).body == "hice 20  blusas"


@pytest.mark.parametrize("field", ["MessageSid", "From", "To"])
def test_control_characters_in_an_address_are_a_bad_request(client, club, engine, field):
    data = form()
    data[field] = data[field] + "\x00"
    assert client.post("/twilio/messages", data=data).status_code == 400
    assert f.count(engine, InboundMessage) == 0
