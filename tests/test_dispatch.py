"""Dispatch: what the outbox holds goes out through the real twilio Client to a stand-in,
once, paced, at the right hour, on the right channel; failures retried or explained."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

import bot.dispatch as dispatch_module
from bot import admin
from bot.channels import TwilioChannel
from bot.db import unit_of_work
from bot.dispatch import BACKOFF, MAX_ATTEMPTS, Dispatched, dispatch
from bot.models import BuyerContact, Cooperative, Member, Outbox, SenderLease
from bot.outbox import queue
from tests import ROOT, twilio_standin
from tests import factories as f
from tests.factories import COOP_NUMBER, ELENA, EXPORTER_CONTACT, JUANA, LIDIA, ROSA
from tests.twilio_standin import Answer

CALLBACK = "https://bot.example.org/twilio/status"


def callback(ident: int) -> str:
    """The StatusCallback of outbox row `ident`: its id lets an early callback find it."""
    return f"{CALLBACK}?id={ident}"
REMINDER_SID = "HX" + "a" * 32
MEXICO_NUMBER = "+525512345678"
MEXICO_MEMBER = "+525512340001"


@pytest.fixture
def twilio():
    with twilio_standin.running() as standin:
        yield standin


@pytest.fixture
def twilio_settings(settings, twilio):
    return twilio_standin.settings_for(settings, twilio.url, public_base_url="https://bot.example.org",
                                       twilio_max_mps=100)


@pytest.fixture
def send(engine, twilio_settings):
    """Dispatch through the Twilio channel, as if at `at`."""
    channel = TwilioChannel(twilio_settings, timeout=0.5)
    return lambda at, settings=twilio_settings: dispatch(engine, settings, channel, at=at)


def put(engine, cooperative_id: int, *, to: str = ROSA, kind: str = "reminder", body: str = "Hola",
        channel: str = "sms", variables: dict[str, str] | None = None) -> int:
    """Queue one message and return its row's id."""
    key = f"{kind}:{to}:{channel}:{body}"
    with unit_of_work(engine) as session:
        queue(session=session, key=key, recipient=to, body=body, kind=kind, channel=channel,
              cooperative_id=cooperative_id, variables=variables)
        return session.scalars(select(Outbox.id).where(Outbox.key == key)).one()


def row(engine, ident: int) -> Outbox:
    return f.get(engine, Outbox, ident)


def set_member(engine, member_id: int, **values) -> None:
    with unit_of_work(engine) as session:
        session.execute(update(Member).where(Member.id == member_id).values(**values))


def set_cooperative(engine, cooperative_id: int, **values) -> None:
    with unit_of_work(engine) as session:
        session.execute(update(Cooperative).where(Cooperative.id == cooperative_id).values(**values))


def set_rows(engine, *idents: int, **values) -> None:
    with unit_of_work(engine) as session:
        session.execute(update(Outbox).where(Outbox.id.in_(idents)).values(**values))


def tenango(engine) -> Cooperative:
    """A second cooperative, in Mexico City: two hours behind La Paz in November."""
    with unit_of_work(engine) as session:
        return admin.add_cooperative(session=session, name="Tenango", number=MEXICO_NUMBER, country="MX",
                                     timezone="America/Mexico_City")


class Recording:
    """The Twilio channel, calling `during(message, sent)` once Twilio has answered."""

    paced = True

    def __init__(self, settings, during):
        self.channel, self.during = TwilioChannel(settings, timeout=0.5), during

    def send(self, message: Outbox, *, sender: str, status_callback: str | None):
        sent = self.channel.send(message, sender=sender, status_callback=status_callback)
        self.during(message, sent)
        return sent


# --- what goes out, from where -----------------------------------------------------------


def test_rosas_reminder_goes_by_sms_from_the_clubs_number_with_its_sid_kept(engine, club, twilio, send, now):
    ident = put(engine, club.cooperative.id, body="Rosa, ¿cuántas hiciste hoy?")
    assert send(now) == Dispatched(sent=1)
    (request,) = twilio.requests
    assert request.form == {"To": ROSA, "From": COOP_NUMBER, "Body": "Rosa, ¿cuántas hiciste hoy?",
                            "StatusCallback": callback(ident)}
    sent = row(engine, ident)
    assert (sent.status, sent.twilio_sid, sent.twilio_status) == ("sent", request.sid, "queued")
    assert (sent.sender, sent.attempts, sent.claimed_at, sent.error) == (COOP_NUMBER, 1, None, None)
    assert sent.sent_at is not None
    assert send(now) == Dispatched()  # nothing goes out twice
    assert len(twilio.requests) == 1


def test_without_a_public_base_url_there_is_no_status_callback(engine, club, twilio, send, now,
                                                               twilio_settings):
    put(engine, club.cooperative.id)
    send(now, settings=twilio_standin.settings_for(twilio_settings, twilio.url, public_base_url=""))
    assert twilio.forms() == [{"To": ROSA, "From": COOP_NUMBER, "Body": "Hola"}]


def test_a_messaging_service_sends_instead_of_the_number(engine, club, twilio, send, now, twilio_settings):
    service = "MG" + "1" * 32
    ident = put(engine, club.cooperative.id)
    send(now, settings=twilio_standin.settings_for(twilio_settings, twilio.url,
                                                   twilio_messaging_service_sid=service))
    assert twilio.forms() == [{"To": ROSA, "MessagingServiceSid": service, "Body": "Hola",
                               "StatusCallback": callback(ident)}]
    assert row(engine, ident).sender == service


def test_inside_whatsapps_window_a_plain_whatsapp_message_goes_out(engine, club, twilio, send, now):
    set_member(engine, club.rosa.id, channel="whatsapp", last_inbound_at=now - timedelta(hours=23))
    ident = put(engine, club.cooperative.id, channel="whatsapp", body="Hola Rosa")
    assert send(now).sent == 1
    assert twilio.forms() == [{"To": f"whatsapp:{ROSA}", "From": f"whatsapp:{COOP_NUMBER}",
                               "Body": "Hola Rosa", "StatusCallback": callback(ident)}]
    assert (row(engine, ident).channel, row(engine, ident).fell_back) == ("whatsapp", False)


def test_outside_the_window_the_kinds_template_goes_out_with_its_variables(engine, club, twilio, send, now):
    set_cooperative(engine, club.cooperative.id, whatsapp_templates={"reminder": REMINDER_SID})
    set_member(engine, club.rosa.id, channel="whatsapp", last_inbound_at=now - timedelta(hours=25))
    ident = put(engine, club.cooperative.id, channel="whatsapp", variables={"1": "Rosa", "2": "A"})
    assert send(now).sent == 1
    assert twilio.forms() == [{"To": f"whatsapp:{ROSA}", "From": f"whatsapp:{COOP_NUMBER}",
                               "ContentSid": REMINDER_SID, "ContentVariables": '{"1": "Rosa", "2": "A"}',
                               "StatusCallback": callback(ident)}]
    assert row(engine, ident).content_sid == REMINDER_SID


def test_outside_the_window_without_a_template_it_goes_by_sms(engine, club, twilio, send, now):
    set_cooperative(engine, club.cooperative.id, whatsapp_templates={"digest": REMINDER_SID})
    set_member(engine, club.rosa.id, channel="whatsapp", last_inbound_at=None)  # never wrote on WhatsApp
    ident = put(engine, club.cooperative.id, channel="whatsapp", body="Hola Rosa")
    assert send(now).sent == 1
    assert twilio.forms() == [{"To": ROSA, "From": COOP_NUMBER, "Body": "Hola Rosa",
                               "StatusCallback": callback(ident)}]
    fell = row(engine, ident)
    assert (fell.channel, fell.fell_back, fell.content_sid, fell.sender) == ("sms", True, None, COOP_NUMBER)


# --- failures ----------------------------------------------------------------------------


def test_a_busy_twilio_is_retried_later_with_growing_waits_then_given_up(engine, club, twilio, send, now):
    ident = put(engine, club.cooperative.id)
    twilio.script(ROSA, Answer(429, 20429), *[Answer(500)] * (MAX_ATTEMPTS - 1))
    assert send(now) == Dispatched(retried=1)
    waiting = row(engine, ident)
    assert (waiting.status, waiting.attempts, waiting.not_before) == ("queued", 1, now + BACKOFF)
    assert (waiting.error_code, waiting.error) == ("20429", "Twilio asked us to slow down")
    assert send(now + BACKOFF - timedelta(seconds=1)) == Dispatched()  # not yet
    at, waits = now, []
    while row(engine, ident).status == "queued":
        waits.append(row(engine, ident).not_before - at)
        at = row(engine, ident).not_before
        send(at)
    assert waits == [BACKOFF * 2**n for n in range(MAX_ATTEMPTS - 1)]  # 30 s, 1, 2, 4 min
    given_up = row(engine, ident)
    assert (given_up.status, given_up.attempts, given_up.error_code, given_up.error) == (
        "failed", MAX_ATTEMPTS, None, "Twilio had a problem on its side")
    assert len(twilio.requests) == MAX_ATTEMPTS


def test_a_retry_that_gets_through_is_sent(engine, club, twilio, send, now):
    ident = put(engine, club.cooperative.id)
    twilio.script(ROSA, Answer(400, 30003))
    assert send(now) == Dispatched(retried=1)
    assert send(now + BACKOFF) == Dispatched(sent=1)
    assert (row(engine, ident).status, row(engine, ident).attempts) == ("sent", 2)
    assert len(twilio.requests) == 2


def test_a_twilio_that_does_not_answer_in_time_is_retried(engine, club, twilio, send, now):
    ident = put(engine, club.cooperative.id)
    twilio.script(ROSA, Answer(delay=2.0))
    assert send(now) == Dispatched(retried=1)
    waiting = row(engine, ident)
    assert (waiting.status, waiting.error) == ("queued", "Twilio did not answer in time")


def test_refused_credentials_are_retried_so_a_corrected_token_drains_the_outbox(engine, club, twilio, send,
                                                                                now):
    ident = put(engine, club.cooperative.id)
    twilio.script(ROSA, Answer(401, 20003), Answer(401, 20003))  # then the token is put right
    assert send(now) == Dispatched(retried=1)
    waiting = row(engine, ident)
    assert (waiting.status, waiting.error_code, waiting.error) == (
        "queued", "20003", "Twilio refused our credentials (check TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN)")
    assert send(now + BACKOFF) == Dispatched(retried=1)
    assert send(now + 3 * BACKOFF) == Dispatched(sent=1)
    assert (row(engine, ident).status, row(engine, ident).attempts) == ("sent", 3)


@pytest.mark.parametrize(("code", "reason"), [
    (21211, "The number is not a valid phone number"),
    (21614, "The number is not a mobile phone"),
    (30005, "The number does not exist or is no longer in service"),
    (30006, "The number is a landline or its carrier cannot receive messages"),
    (21408, "Twilio is not allowed to send to this country"),
])
def test_a_permanent_failure_is_not_retried_and_says_why(engine, club, twilio, send, now, code, reason):
    ident = put(engine, club.cooperative.id)
    twilio.script(ROSA, Answer(400, code))
    assert send(now) == Dispatched(failed=1)
    failed = row(engine, ident)
    assert (failed.status, failed.attempts, failed.error_code, failed.error) == (
        "failed", 1, str(code), reason)
    assert send(now + timedelta(hours=1)) == Dispatched()
    assert f.get(engine, Member, club.rosa.id).opted_out is False


def test_a_member_who_replied_stop_to_twilio_is_opted_out(engine, club, twilio, send, now):
    with unit_of_work(engine) as session:  # Rosa is also a buyer's contact, and a member elsewhere
        session.add(BuyerContact(buyer_id=club.buyer.id, phone=ROSA))
        other = admin.add_cooperative(session=session, name="Otra", number=MEXICO_NUMBER, country="MX")
        elsewhere = admin.add_member(session=session, cooperative=other, phone=ROSA, name="Rosa M")
    ident = put(engine, club.cooperative.id)
    twilio.script(ROSA, Answer(400, 21610))
    assert send(now) == Dispatched(failed=1)
    failed = row(engine, ident)
    assert (failed.status, failed.error_code, failed.error) == (
        "failed", "21610", "The member replied STOP to Twilio")
    assert f.get(engine, Member, club.rosa.id).opted_out is True
    with Session(engine) as session:
        contacts = session.scalars(select(BuyerContact.opted_out).where(BuyerContact.phone == ROSA)).all()
        assert contacts == [True]
        assert session.get(BuyerContact, 1).phone == EXPORTER_CONTACT
        assert session.get(BuyerContact, 1).opted_out is False
    assert f.get(engine, Member, elsewhere.id).opted_out is False  # she said STOP to this club only


# --- quiet hours -------------------------------------------------------------------------


def test_quiet_hours_hold_messages_until_morning_on_each_cooperatives_clock(engine, club, twilio, send):
    with unit_of_work(engine) as session:
        mexico = admin.add_cooperative(session=session, name="Tenango", number=MEXICO_NUMBER, country="MX",
                                       timezone="America/Mexico_City")
    la_paz = put(engine, club.cooperative.id, body="Buenas noches")
    code = put(engine, club.cooperative.id, to=LIDIA, kind="code", body="Su codigo: 123456")
    tenango = put(engine, mexico.id, to=ELENA, body="Buenas tardes")
    night = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 22:00 in La Paz, 20:00 in Mexico City
    assert send(night) == Dispatched(sent=2, held=1)
    assert sorted((r.form["To"], r.form["From"]) for r in twilio.requests) == [
        (LIDIA, COOP_NUMBER), (ELENA, MEXICO_NUMBER)]  # a sign-in code is not held
    assert [row(engine, i).status for i in (la_paz, code, tenango)] == ["queued", "sent", "sent"]
    assert send(datetime(2026, 11, 27, 11, 59, tzinfo=UTC)) == Dispatched(held=1)  # 07:59 in La Paz
    assert send(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)) == Dispatched(sent=1)  # 08:00
    assert twilio.forms()[-1] == {"To": ROSA, "From": COOP_NUMBER, "Body": "Buenas noches",
                                  "StatusCallback": callback(la_paz)}


def test_a_cooperatives_own_quiet_hours_apply(engine, club, twilio, send):
    set_cooperative(engine, club.cooperative.id, quiet_start="18:00", quiet_end="07:00")
    put(engine, club.cooperative.id)
    assert send(datetime(2026, 11, 26, 22, 0, tzinfo=UTC)) == Dispatched(held=1)  # 18:00 in La Paz
    assert send(datetime(2026, 11, 27, 11, 0, tzinfo=UTC)) == Dispatched(sent=1)  # 07:00


def test_a_deferred_reply_goes_out_in_quiet_hours_like_a_sign_in_code(engine, club, twilio, send):
    """Rosa texted while the database was down; the spool answers her at 22:00."""
    reply = put(engine, club.cooperative.id, kind="reply", body="Anotado: 20 piezas")
    notice = put(engine, club.cooperative.id, kind="milestone", to=JUANA, body="A: 50 %")
    night = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 22:00 in La Paz
    assert send(night) == Dispatched(sent=1, held=1)
    assert twilio.forms() == [{"To": ROSA, "From": COOP_NUMBER, "Body": "Anotado: 20 piezas",
                               "StatusCallback": callback(reply)}]
    assert row(engine, notice).status == "queued"


def test_an_at_without_offset_is_each_cooperatives_own_clock(engine, club, twilio, send):
    """`--at 2026-11-27T08:30`: half past eight in La Paz, and two hours later in Tenango."""
    mexico = tenango(engine)
    set_member(engine, club.rosa.id, channel="whatsapp",  # 24 h 10 min before 08:30 in La Paz
               last_inbound_at=datetime(2026, 11, 26, 12, 20, tzinfo=UTC))
    la_paz = put(engine, club.cooperative.id, channel="whatsapp", body="Buenos dias")
    la_paz_later = put(engine, club.cooperative.id, to=LIDIA, body="Reintento")
    in_tenango = put(engine, mexico.id, to=ELENA, body="Buenos dias Tenango")
    tenango_retry = put(engine, mexico.id, to=JUANA, body="Reintento Tenango")
    busy = put(engine, mexico.id, to=MEXICO_MEMBER, body="Ocupado")
    set_rows(engine, la_paz_later, not_before=datetime(2026, 11, 27, 12, 40, tzinfo=UTC))  # 08:40 La Paz
    set_rows(engine, tenango_retry, not_before=datetime(2026, 11, 27, 14, 20, tzinfo=UTC))  # 08:20 Mexico
    twilio.script(MEXICO_MEMBER, Answer(429, 20429))
    assert send(datetime(2026, 11, 27, 8, 30)) == Dispatched(sent=3, retried=1)
    assert sorted((r.form["To"], r.form["From"]) for r in twilio.requests) == sorted([
        (ROSA, COOP_NUMBER), (ELENA, MEXICO_NUMBER), (JUANA, MEXICO_NUMBER), (MEXICO_MEMBER, MEXICO_NUMBER)])
    assert (row(engine, la_paz).channel, row(engine, la_paz).fell_back) == ("sms", True)  # window closed
    statuses = [row(engine, i).status for i in (la_paz_later, in_tenango, tenango_retry)]
    assert statuses == ["queued", "sent", "sent"]
    assert row(engine, busy).not_before == datetime(2026, 11, 27, 14, 30, tzinfo=UTC) + BACKOFF


def test_puntada_jobs_run_dispatch_takes_an_at_without_offset(runner, engine, club):
    ident = put(engine, club.cooperative.id)
    result = runner.invoke(args=["jobs", "run", "dispatch", "--at", "2026-11-27T17:06"])
    assert result.exit_code == 0, result.output
    assert "dispatch: Dispatched(sent=1, retried=0, failed=0, held=0)" in result.output
    assert row(engine, ident).status == "sent"


# --- what must not go out any more -------------------------------------------------------


def test_a_reminder_held_overnight_expires_instead_of_asking_about_the_wrong_day(engine, club, twilio, send):
    evening = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)  # Thursday 21:30 in La Paz: quiet hours
    reminder = put(engine, club.cooperative.id, body="Rosa, ¿cuántas piezas terminaste hoy?")
    milestone = put(engine, club.cooperative.id, to=JUANA, kind="milestone", body="A: 50 %")
    set_rows(engine, reminder, milestone, created_at=evening)
    assert send(evening) == Dispatched(held=2)
    morning = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # Friday 08:00 (the same day in UTC)
    assert send(morning) == Dispatched(sent=1, failed=1)
    assert twilio.forms() == [{"To": JUANA, "From": COOP_NUMBER, "Body": "A: 50 %",
                               "StatusCallback": callback(milestone)}]
    expired = row(engine, reminder)
    assert (expired.status, expired.error, expired.error_code, expired.attempts, expired.twilio_sid) == (
        "failed", "Expired: a reminder is only useful on its day", None, 0, None)
    assert send(morning + timedelta(hours=1)) == Dispatched()


def test_a_reminder_retried_later_on_its_own_day_still_goes_out(engine, club, twilio, send):
    reminder = put(engine, club.cooperative.id)
    set_rows(engine, reminder, created_at=datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Friday 19:00
    assert send(datetime(2026, 11, 28, 0, 30, tzinfo=UTC)) == Dispatched(sent=1)  # 20:30, Saturday in UTC


def test_who_opted_out_or_left_after_it_was_queued_gets_only_what_she_asked_for(engine, club, twilio, send,
                                                                                 now):
    mexico = tenango(engine)
    with unit_of_work(engine) as session:
        elsewhere = admin.add_member(session=session, cooperative=mexico, phone=ELENA, name="Elena M")
    to_rosa = put(engine, club.cooperative.id, to=ROSA)
    to_lidia = put(engine, club.cooperative.id, to=LIDIA)
    to_exporter = put(engine, club.cooperative.id, to=EXPORTER_CONTACT, kind="weekly")
    code = put(engine, club.cooperative.id, to=ROSA, kind="code", body="Su codigo: 123456")
    reply = put(engine, club.cooperative.id, to=LIDIA, kind="reply", body="Anotado: 20")
    to_elena = put(engine, club.cooperative.id, to=ELENA)
    set_member(engine, club.rosa.id, opted_out=True)  # all after the messages were queued
    set_member(engine, club.lidia.id, active=False)
    set_member(engine, elsewhere.id, opted_out=True)  # at the other cooperative only
    with unit_of_work(engine) as session:
        session.execute(update(BuyerContact).where(BuyerContact.phone == EXPORTER_CONTACT)
                        .values(opted_out=True))
    assert send(now) == Dispatched(sent=3, failed=3)
    assert sorted(form["Body"] for form in twilio.forms()) == ["Anotado: 20", "Hola", "Su codigo: 123456"]
    assert [(row(engine, i).status, row(engine, i).error) for i in (to_rosa, to_lidia, to_exporter)] == [
        ("failed", "The member opted out"), ("failed", "The member is no longer active"),
        ("failed", "The contact opted out")]
    assert [row(engine, i).status for i in (code, reply, to_elena)] == ["sent"] * 3


# --- status callbacks that outrun Twilio's answer -------------------------------------------


def test_a_delivered_callback_that_outruns_twilios_answer_is_kept(engine, club, twilio, client,
                                                                 twilio_settings, now):
    def early_callback(message: Outbox, sent) -> None:
        path = "/twilio/status?" + urlsplit(callback(message.id)).query
        answer = client.post(path, data={"MessageSid": sent.sid, "MessageStatus": "delivered", "To": ROSA})
        assert answer.status_code == 200

    ident = put(engine, club.cooperative.id)
    channel = Recording(twilio_settings, early_callback)
    assert dispatch(engine, twilio_settings, channel, at=now) == Dispatched(sent=1)
    (request,) = twilio.requests
    delivered = row(engine, ident)
    assert (delivered.status, delivered.twilio_sid, delivered.twilio_status) == ("delivered", request.sid,
                                                                                "delivered")
    assert (delivered.claimed_at, delivered.sent_at is not None) == (None, True)


# --- a dispatcher that died --------------------------------------------------------------


def test_a_message_left_sending_by_a_dead_dispatcher_is_sent_again_later(engine, club, twilio, send, now):
    dead = put(engine, club.cooperative.id, to=ROSA)
    alive = put(engine, club.cooperative.id, to=LIDIA)
    real_now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        session.execute(update(Outbox).where(Outbox.id == dead).values(
            status="sending", attempts=1, claimed_at=real_now - timedelta(minutes=6)))
        session.execute(update(Outbox).where(Outbox.id == alive).values(
            status="sending", attempts=1, claimed_at=real_now - timedelta(minutes=1)))
    assert send(now) == Dispatched(sent=1)
    assert twilio.forms()[0]["To"] == ROSA
    assert (row(engine, dead).status, row(engine, dead).attempts) == ("sent", 2)
    assert row(engine, alive).status == "sending"  # its dispatcher may still be at it


def test_a_dispatcher_whose_lease_was_taken_hands_back_only_its_own_claims(engine, club, twilio,
                                                                          twilio_settings, now, monkeypatch):
    """While Rosa's message is with Twilio, another dispatcher takes the number's lease and
    claims Lidia's message (found stale): it is that dispatcher's to send, not queued again."""
    # A lease lapses only after LEASE without a renewal; here it is taken at once, so the
    # dispatcher must look before every send, as it does once REFRESH_EVERY has passed.
    monkeypatch.setattr(dispatch_module, "REFRESH_EVERY", timedelta(0))
    put(engine, club.cooperative.id, to=ROSA)
    lidias = put(engine, club.cooperative.id, to=LIDIA)
    theirs = datetime.now(UTC).replace(microsecond=0)

    def taken_over(message: Outbox, sent) -> None:
        with unit_of_work(engine) as session:
            session.execute(update(SenderLease).values(holder="other:1:1",
                                                       until=theirs + timedelta(minutes=1)))
            session.execute(update(Outbox).where(Outbox.id == lidias).values(claimed_at=theirs, attempts=2))

    channel = Recording(twilio_settings, taken_over)
    assert dispatch(engine, twilio_settings, channel, at=now) == Dispatched(sent=1)
    assert twilio.forms()[0]["To"] == ROSA
    lidia = row(engine, lidias)
    assert (lidia.status, lidia.claimed_at, lidia.attempts) == ("sending", theirs, 2)


def test_while_one_number_sends_every_claim_of_the_dispatcher_is_renewed(engine, club, twilio,
                                                                         twilio_settings, now):
    """A slow number must not let the claims waiting for another number go stale."""
    mexico = tenango(engine)
    many_messages(engine, club, 3)
    many_messages(engine, club, 3, cooperative_id=mexico.id, prefix="+5255100")
    claims_seen: list[set] = []

    def look(message: Outbox, sent) -> None:
        with Session(engine) as session:
            sending = select(Outbox.claimed_at).where(Outbox.status == "sending")
            claims_seen.append(set(session.scalars(sending)))

    # One thread for both numbers: there one number waits while the other sends.
    settings = replace(twilio_settings, dispatch_concurrency=1)
    assert dispatch(engine, settings, Recording(settings, look), at=now) == Dispatched(sent=6)
    assert [len(seen) for seen in claims_seen] == [1] * 6  # all renewed together, each time


# --- several dispatchers at once, as separate processes ----------------------------------


def start_dispatchers(database_url: str, twilio, *, mps: int, limit: int, at: datetime, pause: float = 0.0,
                      count: int = 3) -> list[dict]:
    """`count` dispatcher processes, all starting at the same wall-clock moment."""
    start = time.time() + 2.0  # time for each to import the app before the moment comes
    args = [database_url, twilio.url, str(mps), str(limit), at.isoformat(), str(start), str(pause)]
    processes = [subprocess.Popen([sys.executable, "-m", "tests.dispatch_worker", *args], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    return results


def many_messages(engine, club, count: int, *, cooperative_id: int | None = None,
                  prefix: str = "+5917100") -> list[str]:
    recipients = [f"{prefix}{n:04d}" for n in range(count)]
    for to in recipients:
        put(engine, cooperative_id or club.cooperative.id, to=to, body=f"Hola {to[-4:]}")
    return recipients


def test_three_dispatchers_at_once_send_each_message_exactly_once(engine, club, twilio, database_url, now):
    with unit_of_work(engine) as session:
        other = admin.add_cooperative(session=session, name="Tenango", number=MEXICO_NUMBER, country="MX")
    recipients = many_messages(engine, club, 8) + [f"+5917200{n:04d}" for n in range(8)]
    for to in recipients[8:]:
        put(engine, other.id, to=to, body=f"Hola {to[-4:]}")
    results = start_dispatchers(database_url, twilio, mps=50, limit=3, at=now)
    assert sorted(r.form["To"] for r in twilio.requests) == sorted(recipients)  # one request each
    assert sum(r["sent"] for r in results) == len(recipients)
    sids = {r.form["To"]: r.sid for r in twilio.requests}
    with Session(engine) as session:
        rows = session.scalars(select(Outbox)).all()
        assert {(o.recipient, o.status, o.twilio_sid, o.attempts) for o in rows} == {
            (to, "sent", sids[to], 1) for to in recipients}


def test_the_per_sender_cap_holds_across_dispatcher_processes(engine, club, twilio, database_url, now):
    recipients = many_messages(engine, club, 10)
    # Each pauses after a run, long enough for its lease to pass to another process.
    results = start_dispatchers(database_url, twilio, mps=2, limit=2, at=now, pause=1.2)
    assert sorted(r.form["To"] for r in twilio.requests) == sorted(recipients)
    times = sorted(r.at for r in twilio.requests if r.form["From"] == COOP_NUMBER)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 2, [round(t - times[0], 3) for t in times]
    assert sum(1 for r in results if r["sent"]) >= 2  # the number's lease did pass between processes
