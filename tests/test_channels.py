"""The Twilio channel: the real twilio Client against a local stand-in and against Prism."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.channels import Console, Failure, SendError, Sent, TwilioChannel, channel_for
from bot.config import Settings
from bot.models import Outbox
from bot.phones import mask
from tests import ROOT, twilio_standin
from tests.factories import COOP_NUMBER, ROSA
from tests.twilio_standin import ACCOUNT_SID, Answer

MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLBACK = "https://bot.example.org/twilio/status"
SERVICE_SID = "MG" + "1" * 32
TEMPLATE_SID = "HX" + "2" * 32
SPEC = Path(__file__).parent / "contract" / "twilio_api_v2010.json"  # the project's own copy
PRISM = ROOT / "node_modules" / ".bin" / "prism"
CREDENTIALS = "Twilio refused our credentials (check TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN)"


def sms(body: str = "Hola Rosa, ¿cuántas hiciste hoy?", **changes) -> Outbox:
    fields = {"key": "reminder:1", "recipient": ROSA, "channel": "sms", "kind": "reminder", "body": body}
    return Outbox(**fields | changes)


def whatsapp(**changes) -> Outbox:
    return sms(channel="whatsapp", **changes)


def template(**changes) -> Outbox:
    return whatsapp(content_sid=TEMPLATE_SID, content_variables={"1": "Rosa", "2": "ñandutí"}, **changes)


@pytest.fixture
def twilio() -> Iterator[twilio_standin.TwilioStandIn]:
    with twilio_standin.running() as standin:
        yield standin


def channel(base_url: str, **changes) -> TwilioChannel:
    return TwilioChannel(twilio_standin.settings_for(Settings(), base_url), **changes)


# --- the exact form Twilio receives -------------------------------------------------------


def test_an_sms_goes_from_the_cooperatives_number_with_its_status_callback(twilio):
    sent = channel(twilio.url).send(sms(), sender=COOP_NUMBER, status_callback=CALLBACK)
    (request,) = twilio.requests
    assert request.path == MESSAGES_PATH
    assert request.form == {"To": ROSA, "From": COOP_NUMBER, "Body": "Hola Rosa, ¿cuántas hiciste hoy?",
                            "StatusCallback": CALLBACK}
    assert sent == Sent(sid=request.sid, status="queued")


def test_a_whatsapp_message_goes_between_whatsapp_addresses(twilio):
    channel(twilio.url).send(whatsapp(body="Hola"), sender=f"whatsapp:{COOP_NUMBER}", status_callback=None)
    assert twilio.forms() == [{"To": f"whatsapp:{ROSA}", "From": f"whatsapp:{COOP_NUMBER}", "Body": "Hola"}]


def test_a_whatsapp_template_sends_its_content_sid_and_variables_instead_of_a_body(twilio):
    channel(twilio.url).send(template(), sender=f"whatsapp:{COOP_NUMBER}", status_callback=CALLBACK)
    (form,) = twilio.forms()
    assert form == {"To": f"whatsapp:{ROSA}", "From": f"whatsapp:{COOP_NUMBER}", "ContentSid": TEMPLATE_SID,
                    "ContentVariables": '{"1": "Rosa", "2": "ñandutí"}', "StatusCallback": CALLBACK}
    assert json.loads(form["ContentVariables"]) == {"1": "Rosa", "2": "ñandutí"}


def test_a_messaging_service_replaces_the_from_number(twilio):
    channel(twilio.url).send(sms(body="Hola"), sender=SERVICE_SID, status_callback=None)
    assert twilio.forms() == [{"To": ROSA, "MessagingServiceSid": SERVICE_SID, "Body": "Hola"}]


def test_the_base_url_may_carry_a_path_prefix(twilio):
    channel(twilio.url + "/gateway").send(sms(), sender=COOP_NUMBER, status_callback=None)
    assert [r.path for r in twilio.requests] == ["/gateway" + MESSAGES_PATH]


# --- each kind of error -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "failure", "reason"),
    [
        (Answer(429, 20429), Failure.TEMPORARY, "Twilio asked us to slow down"),
        (Answer(429), Failure.TEMPORARY, "Twilio asked us to slow down"),
        (Answer(500), Failure.TEMPORARY, "Twilio had a problem on its side"),
        (Answer(503, 20503), Failure.TEMPORARY, "Twilio had a problem on its side"),
        (Answer(400, 30001), Failure.TEMPORARY, "Twilio's queue was full"),
        (Answer(400, 21211), Failure.PERMANENT, "The number is not a valid phone number"),
        (Answer(400, 21614), Failure.PERMANENT, "The number is not a mobile phone"),
        (Answer(400, 21408), Failure.PERMANENT, "Twilio is not allowed to send to this country"),
        (Answer(400, 21610), Failure.OPTED_OUT, "The member replied STOP to Twilio"),
        (Answer(400, 21999), Failure.PERMANENT, "Twilio refused the message (error 21999)"),
        # Ours to fix, not the message's fault: retried, so a corrected token drains the outbox.
        (Answer(401, 20003), Failure.TEMPORARY, CREDENTIALS),
        (Answer(401), Failure.TEMPORARY, CREDENTIALS),
        (Answer(403), Failure.TEMPORARY, CREDENTIALS),
    ],
)
def test_twilio_errors_say_whether_to_retry_and_why(twilio, answer, failure, reason):
    twilio.script(ROSA, answer)
    with pytest.raises(SendError) as raised:
        channel(twilio.url).send(sms(), sender=COOP_NUMBER, status_callback=None)
    assert (raised.value.failure, raised.value.code, raised.value.reason) == (failure, answer.code, reason)
    assert len(twilio.requests) == 1  # the SDK itself never retries behind our back


def test_a_slow_twilio_is_a_temporary_failure(twilio):
    twilio.script(ROSA, Answer(delay=1.0))
    with pytest.raises(SendError) as raised:
        channel(twilio.url, timeout=0.2).send(sms(), sender=COOP_NUMBER, status_callback=None)
    assert (raised.value.failure, raised.value.reason) == (Failure.TEMPORARY, "Twilio did not answer in time")


def test_an_unreachable_twilio_is_a_temporary_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(SendError) as raised:
        channel(closed).send(sms(), sender=COOP_NUMBER, status_callback=None)
    assert (raised.value.failure, raised.value.reason) == (Failure.TEMPORARY, "Could not reach Twilio")


# --- the console and the factory ----------------------------------------------------------


def test_the_console_prints_the_message_with_the_number_masked():
    printed = io.StringIO()
    sent = Console(printed).send(sms(body="Hola"), sender=COOP_NUMBER, status_callback=None)
    assert sent == Sent(None, "sent")
    assert printed.getvalue() == f"[sms to {mask(ROSA)}] reminder: Hola\n"


def test_the_backend_setting_chooses_the_channel():
    assert isinstance(channel_for(Settings(messaging_backend="console")), Console)
    twilio_channel = channel_for(twilio_standin.settings_for(Settings(), "http://127.0.0.1:9"))
    assert isinstance(twilio_channel, TwilioChannel)
    assert twilio_channel.client.username == ACCOUNT_SID


# --- Twilio's own API description, served by Prism ----------------------------------------


@pytest.fixture(scope="session")
def prism(tmp_path_factory) -> Iterator[str]:
    """Prism serving Twilio's API description, validating every request (--errors)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are not installed, so Prism cannot check requests against Twilio's API")
    if not PRISM.exists():
        pytest.fail("Prism is not installed: `make test` installs it (npm ci) into node_modules/")
    if not SPEC.exists():
        pytest.fail(f"Twilio's API description is missing: {SPEC}")
    port = _free_port()
    log = (tmp_path_factory.mktemp("prism") / "prism.log").open("w")
    command = [str(PRISM), "mock", "--errors", "-h", "127.0.0.1", "-p", str(port), str(SPEC)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, log.name)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Prism stopped while starting: {Path(log).read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"Prism did not start in {timeout} s: {Path(log).read_text()[-2000:]}")


@pytest.mark.parametrize(
    ("message", "sender", "callback"),
    [
        (sms(), COOP_NUMBER, CALLBACK),
        (whatsapp(), f"whatsapp:{COOP_NUMBER}", CALLBACK),
        (template(), f"whatsapp:{COOP_NUMBER}", CALLBACK),
        (sms(), SERVICE_SID, None),
        (template(), SERVICE_SID, CALLBACK),
    ],
    ids=["sms", "whatsapp", "whatsapp-template", "messaging-service", "service-template"],
)
def test_every_kind_of_message_we_send_is_accepted_by_twilios_api(prism, message, sender, callback):
    sent = channel(prism).send(message, sender=sender, status_callback=callback)
    assert sent.sid.startswith("SM")  # Twilio's own example answer: a 201 Created


def test_prism_does_refuse_what_breaks_twilios_api_description(prism):
    """The check above means something: a message without To is refused."""
    response = requests.post(prism + MESSAGES_PATH, data={"From": COOP_NUMBER, "Body": "Hola"},
                             auth=(ACCOUNT_SID, twilio_standin.AUTH_TOKEN), timeout=10)
    assert response.status_code == 422
