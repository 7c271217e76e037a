"""Twilio posting status callbacks to /twilio/status: forward only, repeated, out of order,
signed; WhatsApp's closed window (63016) falls back to SMS once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from bot import clock, create_app
from bot.channels import TwilioChannel
from bot.db import unit_of_work
from bot.dispatch import Dispatched, dispatch
from bot.models import Member, Outbox
from bot.outbox import queue
from tests import factories as f
from tests import twilio_standin
from tests.factories import COOP_NUMBER, ROSA

SID = "SM" + "c" * 32
URL = "http://localhost/twilio/status"
PUBLIC = "https://bot.example.org"


def sent_message(engine, club, *, channel: str = "sms", sid: str = SID) -> int:
    """A message dispatch has handed to Twilio, which answered "queued"."""
    with unit_of_work(engine) as session:
        queue(session=session, key=f"reminder:{sid}", recipient=ROSA, body="Hola", kind="reminder",
              channel=channel, cooperative_id=club.cooperative.id)
        row = session.scalars(select(Outbox).where(Outbox.key == f"reminder:{sid}")).one()
        row.status, row.twilio_sid, row.twilio_status, row.attempts = "sent", sid, "queued", 1
        row.sender = f"whatsapp:{COOP_NUMBER}" if channel == "whatsapp" else COOP_NUMBER
        return row.id


def sending_message(engine, club) -> int:
    """A message dispatch has just handed to Twilio: Twilio's answer (its SID) not yet stored."""
    with unit_of_work(engine) as session:
        queue(session=session, key="reminder:sending", recipient=ROSA, body="Hola", kind="reminder",
              cooperative_id=club.cooperative.id)
        row = session.scalars(select(Outbox).where(Outbox.key == "reminder:sending")).one()
        row.status, row.attempts, row.sender, row.claimed_at = "sending", 1, COOP_NUMBER, clock.now()
        return row.id


def callback(status: str, sid: str = SID, error_code: str | None = None) -> dict:
    form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": "AC" + "0" * 32, "To": ROSA, "From": COOP_NUMBER, "ApiVersion": "2010-04-01"}
    if error_code:
        form["ErrorCode"] = error_code
    return form


def post(client, *statuses: str, **fields) -> list[int]:
    return [client.post("/twilio/status", data=callback(s, **fields)).status_code for s in statuses]


def state(engine, ident: int) -> tuple:
    row = f.get(engine, Outbox, ident)
    return row.status, row.twilio_status, row.error_code, row.error


def test_callbacks_move_a_message_forward_to_delivered(client, engine, club):
    ident = sent_message(engine, club)
    assert post(client, "sending", "sent", "delivered") == [200, 200, 200]
    assert state(engine, ident) == ("delivered", "delivered", None, None)
    assert f.get(engine, Outbox, ident).delivered_at is not None


def test_a_late_sent_never_overwrites_delivered(client, engine, club):
    ident = sent_message(engine, club)
    assert post(client, "delivered", "sent", "sending", "queued") == [200] * 4
    assert state(engine, ident) == ("delivered", "delivered", None, None)


def test_a_repeated_callback_changes_nothing(client, engine, club):
    ident = sent_message(engine, club)
    post(client, "delivered")
    first = f.get(engine, Outbox, ident).delivered_at
    assert post(client, "delivered", "delivered") == [200, 200]
    assert f.get(engine, Outbox, ident).delivered_at == first


def test_whatsapp_read_comes_after_delivered(client, engine, club):
    ident = sent_message(engine, club, channel="whatsapp")
    post(client, "read", "delivered", "sent")
    assert state(engine, ident) == ("delivered", "read", None, None)


def test_undelivered_keeps_twilios_code_and_a_plain_reason_and_is_final(client, engine, club):
    ident = sent_message(engine, club)
    post(client, "sent")
    post(client, "undelivered", error_code="30003")
    post(client, "delivered", "sent")
    assert state(engine, ident) == ("failed", "undelivered", "30003", "The phone was off or out of coverage")


def test_a_failed_message_stays_failed(client, engine, club):
    ident = sent_message(engine, club)
    post(client, "failed", error_code="30005")
    post(client, "failed", error_code="30005")
    post(client, "delivered")
    assert state(engine, ident) == (
        "failed", "failed", "30005", "The number does not exist or is no longer in service")


def test_an_unknown_sid_or_status_is_answered_200_and_changes_nothing(client, engine, club):
    ident = sent_message(engine, club)
    assert post(client, "delivered", sid="SM" + "d" * 32) == [200]
    assert post(client, "partially_delivered") == [200]
    assert state(engine, ident) == ("sent", "queued", None, None)


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_a_form_without_its_fields_is_a_bad_request(client, engine, club, missing):
    ident = sent_message(engine, club)
    form = callback("delivered")
    del form[missing]
    assert client.post("/twilio/status", data=form).status_code == 400
    assert state(engine, ident) == ("sent", "queued", None, None)


def test_callbacks_are_signature_checked_like_inbound_messages(signed_app, club):
    engine = signed_app.extensions["puntada"].engine
    ident = sent_message(engine, club)
    client, form = signed_app.test_client(), callback("delivered")
    bad = client.post("/twilio/status", data=form, headers={"X-Twilio-Signature": "forged"})
    missing = client.post("/twilio/status", data=form)
    assert (bad.status_code, missing.status_code) == (403, 403)
    assert state(engine, ident) == ("sent", "queued", None, None)
    signature = RequestValidator("test-token").compute_signature(URL, form)
    good = client.post("/twilio/status", data=form, headers={"X-Twilio-Signature": signature})
    assert good.status_code == 200
    assert state(engine, ident)[0] == "delivered"


def test_behind_a_proxy_the_public_url_is_what_twilio_signed(settings, club):
    app = create_app(replace(settings, twilio_auth_token="test-token", public_base_url=PUBLIC))
    engine = app.extensions["puntada"].engine
    ident = sent_message(engine, club)
    form = callback("delivered")
    signature = RequestValidator("test-token").compute_signature(f"{PUBLIC}/twilio/status", form)
    response = app.test_client().post("/twilio/status", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert state(engine, ident)[0] == "delivered"
    engine.dispose()


def test_whatsapps_closed_window_falls_back_to_sms_once(client, engine, club, settings, now):
    """Rosa has not written on WhatsApp for days; a free-form WhatsApp message fails with 63016."""
    with unit_of_work(engine) as session:
        session.execute(update(Member).where(Member.id == club.rosa.id).values(channel="whatsapp"))
    ident = sent_message(engine, club, channel="whatsapp")
    assert post(client, "sent", "failed", error_code="63016") == [200, 200]
    requeued = f.get(engine, Outbox, ident)
    assert (requeued.status, requeued.channel, requeued.fell_back, requeued.twilio_sid) == (
        "queued", "sms", True, None)
    assert (requeued.error_code, requeued.error) == (
        "63016", "WhatsApp's 24-hour window had closed and no template was used")
    post(client, "failed", error_code="63016")  # Twilio repeats itself: nothing more happens
    assert f.get(engine, Outbox, ident).status == "queued"

    with twilio_standin.running() as twilio:
        twilio_settings = twilio_standin.settings_for(settings, twilio.url)
        assert dispatch(engine, twilio_settings, TwilioChannel(twilio_settings), at=now) == Dispatched(sent=1)
        (request,) = twilio.requests
    assert request.form == {"To": ROSA, "From": COOP_NUMBER, "Body": "Hola"}
    resent = f.get(engine, Outbox, ident)
    assert (resent.status, resent.channel, resent.twilio_sid, resent.attempts) == (
        "sent", "sms", request.sid, 2)

    post(client, "undelivered", sid=request.sid, error_code="63016")  # never a second fallback
    assert state(engine, ident)[:3] == ("failed", "undelivered", "63016")


def test_a_whatsapp_message_that_fell_back_once_does_not_fall_back_again(client, engine, club):
    ident = sent_message(engine, club, channel="whatsapp")
    with unit_of_work(engine) as session:
        session.get(Outbox, ident).fell_back = True
    post(client, "failed", error_code="63016")
    assert state(engine, ident)[:3] == ("failed", "failed", "63016")


# --- a callback faster than Twilio's own answer ---------------------------------------------


def test_a_callback_that_outruns_dispatch_finds_its_message_by_the_id_in_its_url(client, engine, club):
    ident = sending_message(engine, club)
    assert client.post(f"/twilio/status?id={ident}", data=callback("sent")).status_code == 200
    found = f.get(engine, Outbox, ident)
    assert (found.status, found.twilio_sid, found.twilio_status) == ("sent", SID, "sent")
    assert post(client, "delivered") == [200]  # from now on its SID finds it
    assert state(engine, ident) == ("delivered", "delivered", None, None)


def test_the_id_in_the_url_is_signed_with_it(settings, club):
    app = create_app(replace(settings, twilio_auth_token="test-token", public_base_url=PUBLIC))
    engine = app.extensions["puntada"].engine
    ident = sending_message(engine, club)
    form, url = callback("delivered"), f"/twilio/status?id={ident}"
    forged = RequestValidator("test-token").compute_signature(f"{PUBLIC}/twilio/status?id={ident + 1}", form)
    signature = RequestValidator("test-token").compute_signature(PUBLIC + url, form)
    client = app.test_client()
    assert client.post(url, data=form, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert client.post(url, data=form, headers={"X-Twilio-Signature": signature}).status_code == 200
    assert state(engine, ident)[:2] == ("delivered", "delivered")
    engine.dispose()


def test_the_id_never_reaches_a_message_that_is_not_being_sent(client, engine, club):
    """A late callback for the WhatsApp message that fell back to SMS names the same row:
    the SMS waiting in the queue, or one with its own SID, is left alone."""
    queued = sending_message(engine, club)
    with unit_of_work(engine) as session:
        session.get(Outbox, queued).status = "queued"
    other = sent_message(engine, club, sid="SM" + "e" * 32)
    for ident in (queued, other, "x1", "9" * 30):
        assert client.post(f"/twilio/status?id={ident}", data=callback("delivered")).status_code == 200
    waiting = f.get(engine, Outbox, queued)
    assert (waiting.status, waiting.twilio_sid) == ("queued", None)
    assert state(engine, other) == ("sent", "queued", None, None)


def test_the_id_does_not_give_an_sms_a_whatsapp_messages_callback(client, engine, club):
    ident = sending_message(engine, club)
    form = callback("failed", error_code="63016") | {"To": f"whatsapp:{ROSA}"}
    assert client.post(f"/twilio/status?id={ident}", data=form).status_code == 200
    assert f.get(engine, Outbox, ident).status == "sending"


# --- what Twilio (or anyone) may post ----------------------------------------------------------


@pytest.mark.parametrize("code", ["1" * 17, "30003x", "-1", "３０００３", "30 003"])
def test_an_error_code_that_is_not_1_to_16_digits_is_left_out_and_the_status_kept(client, engine, club, code):
    ident = sent_message(engine, club)
    assert post(client, "undelivered", error_code=code) == [200]
    assert state(engine, ident) == ("failed", "undelivered", None, None)


def test_an_error_code_of_16_digits_is_kept(client, engine, club):
    ident = sent_message(engine, club)
    assert post(client, "undelivered", error_code="1" * 16) == [200]
    assert state(engine, ident) == ("failed", "undelivered", "1" * 16, "Twilio could not deliver the message")


@pytest.mark.parametrize(("field", "value"), [
    ("MessageSid", "SM" + "c" * 63),
    ("MessageSid", "SM\x00" + "c" * 30),
    ("MessageStatus", "delivered\n"),
    ("MessageStatus", "d" * 65),
])
def test_a_sid_or_status_too_long_or_with_control_characters_is_a_bad_request(client, engine, club, field,
                                                                              value):
    ident = sent_message(engine, club)
    form = callback("delivered") | {field: value}
    assert client.post("/twilio/status", data=form).status_code == 400
    assert state(engine, ident) == ("sent", "queued", None, None)
