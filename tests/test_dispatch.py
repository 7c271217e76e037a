"""Dispatch: what the outbox holds goes out through the real twilio Client to a stand-in,
once, paced, at the right hour, on the right channel; failures retried or explained."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from bot import admin
from bot.channels import TwilioChannel
from bot.config import ROOT
from bot.db import unit_of_work
from bot.dispatch import BACKOFF, MAX_ATTEMPTS, Dispatched, dispatch
from bot.models import BuyerContact, Cooperative, Member, Outbox
from bot.outbox import queue
from tests import factories as f
from tests import twilio_standin
from tests.factories import COOP_NUMBER, ELENA, EXPORTER_CONTACT, LIDIA, ROSA
from tests.twilio_standin import Answer

CALLBACK = "https://bot.example.org/twilio/status"
REMINDER_SID = "HX" + "a" * 32
MEXICO_NUMBER = "+525512345678"


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


# --- what goes out, from where -----------------------------------------------------------


def test_rosas_reminder_goes_by_sms_from_the_clubs_number_with_its_sid_kept(engine, club, twilio, send, now):
    ident = put(engine, club.cooperative.id, body="Rosa, ¿cuántas hiciste hoy?")
    assert send(now) == Dispatched(sent=1)
    (request,) = twilio.requests
    assert request.form == {"To": ROSA, "From": COOP_NUMBER, "Body": "Rosa, ¿cuántas hiciste hoy?",
                            "StatusCallback": CALLBACK}
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
                               "StatusCallback": CALLBACK}]
    assert row(engine, ident).sender == service


def test_inside_whatsapps_window_a_plain_whatsapp_message_goes_out(engine, club, twilio, send, now):
    set_member(engine, club.rosa.id, channel="whatsapp", last_inbound_at=now - timedelta(hours=23))
    ident = put(engine, club.cooperative.id, channel="whatsapp", body="Hola Rosa")
    assert send(now).sent == 1
    assert twilio.forms() == [{"To": f"whatsapp:{ROSA}", "From": f"whatsapp:{COOP_NUMBER}",
                               "Body": "Hola Rosa", "StatusCallback": CALLBACK}]
    assert (row(engine, ident).channel, row(engine, ident).fell_back) == ("whatsapp", False)


def test_outside_the_window_the_kinds_template_goes_out_with_its_variables(engine, club, twilio, send, now):
    set_cooperative(engine, club.cooperative.id, whatsapp_templates={"reminder": REMINDER_SID})
    set_member(engine, club.rosa.id, channel="whatsapp", last_inbound_at=now - timedelta(hours=25))
    ident = put(engine, club.cooperative.id, channel="whatsapp", variables={"1": "Rosa", "2": "A"})
    assert send(now).sent == 1
    assert twilio.forms() == [{"To": f"whatsapp:{ROSA}", "From": f"whatsapp:{COOP_NUMBER}",
                               "ContentSid": REMINDER_SID, "ContentVariables": '{"1": "Rosa", "2": "A"}',
                               "StatusCallback": CALLBACK}]
    assert row(engine, ident).content_sid == REMINDER_SID


def test_outside_the_window_without_a_template_it_goes_by_sms(engine, club, twilio, send, now):
    set_cooperative(engine, club.cooperative.id, whatsapp_templates={"digest": REMINDER_SID})
    set_member(engine, club.rosa.id, channel="whatsapp", last_inbound_at=None)  # never wrote on WhatsApp
    ident = put(engine, club.cooperative.id, channel="whatsapp", body="Hola Rosa")
    assert send(now).sent == 1
    assert twilio.forms() == [{"To": ROSA, "From": COOP_NUMBER, "Body": "Hola Rosa",
                               "StatusCallback": CALLBACK}]
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
                                  "StatusCallback": CALLBACK}


def test_a_cooperatives_own_quiet_hours_apply(engine, club, twilio, send):
    set_cooperative(engine, club.cooperative.id, quiet_start="18:00", quiet_end="07:00")
    put(engine, club.cooperative.id)
    assert send(datetime(2026, 11, 26, 22, 0, tzinfo=UTC)) == Dispatched(held=1)  # 18:00 in La Paz
    assert send(datetime(2026, 11, 27, 11, 0, tzinfo=UTC)) == Dispatched(sent=1)  # 07:00


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


def many_messages(engine, club, count: int, *, cooperative_id: int | None = None) -> list[str]:
    recipients = [f"+5917100{n:04d}" for n in range(count)]
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
