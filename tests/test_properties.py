"""Any text, any form: nothing raises, nothing absurd is counted, no 5xx, totals untouched."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from bot.models import InboundMessage, Report
from bot.parsing import MAX_PIECES, Kind, parse
from bot.render import segments
from handlers import COMMANDS
from tests import factories as f
from tests.factories import COOP_NUMBER, ROSA

TWILIO_MAX_BODY = 1600
CODES = ("A", "B", "MT")
# Text shaped like what members send, mixed with anything Unicode has.
WORDS = st.sampled_from(["hice", "20", "A", "mt", "si", "no", "corregir", "borrar", "1.500", "veinte",
                         "y", "pzs", "total", "ayuda", "-5", "0", "99999999", "½", "٣", "🙏", "\x00"])
TEXTS = st.one_of(
    st.text(max_size=TWILIO_MAX_BODY),
    st.lists(WORDS, max_size=12).map(" ".join),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1500, max_size=TWILIO_MAX_BODY),
)
_sids = itertools.count(1)
DB_EXAMPLES = settings(max_examples=120, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=1500, deadline=None)
@given(text=TEXTS, codes=st.sets(st.sampled_from(CODES)))
def test_the_parser_never_raises_and_counts_are_sane(text, codes):
    intent = parse(text, codes)
    assert intent.kind in {command.name for command in COMMANDS} | {Kind.UNKNOWN}
    for item in intent.items:
        assert 1 <= item.pieces <= MAX_PIECES
        assert item.code is None or item.code in codes


@DB_EXAMPLES
@given(text=TEXTS)
def test_any_message_from_a_member_gets_a_reply_of_at_most_two_segments(engine, club, now, text):
    number = next(_sids)
    # A message a day apart, so that the examples never trip the flood limit.
    reply = f.text(engine, ROSA, text, at=now + timedelta(days=number), sid=f"SMprop{number:028d}")
    assert reply and segments(reply) <= 2
    assert f.done(engine, club.order.id) >= 0  # running total equals the sum of accepted reports
    assert all(1 <= pieces <= MAX_PIECES for _, pieces, _ in f.reports(engine))


ODD_ADDRESSES = ["", "+", "whatsapp:", "whatsapp:+1", "+00000", "+591\x00", "+591" + "9" * 20, COOP_NUMBER]
JUNK = st.one_of(st.text(max_size=80), st.sampled_from(ODD_ADDRESSES))
FIELDS = st.sampled_from(["MessageSid", "SmsMessageSid", "From", "To", "Body", "NumMedia", "AccountSid", "X"])


@DB_EXAMPLES
@given(form=st.dictionaries(FIELDS, st.lists(JUNK, min_size=1, max_size=3), max_size=8))
def test_malformed_webhook_forms_never_fail_or_count(client, engine, club, form):
    form = {k: v for k, v in form.items() if not (k == "From" and ROSA in v)}
    response = client.post("/twilio/messages", data=form)
    assert response.status_code in (200, 400), response.data
    assert b"Traceback" not in response.data
    assert f.count(engine, Report) == 0


@pytest.mark.parametrize("content_type, body", [
    ("application/json",
     b'{"MessageSid": "SM1", "From": "+59171000001", "To": "+59162000100", "Body": "20"}'),
    ("text/plain", b"MessageSid=SM1&From=%2B59171000001&To=%2B59162000100&Body=20"),
    ("application/x-www-form-urlencoded", b"MessageSid=SM\xff\xfe&From=%2B591\xc3\x28&To=\x80&Body=\xff20"),
    ("application/x-www-form-urlencoded", b"%%%&&&==="),
    ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
])
def test_wrong_content_types_and_bytes_get_a_clear_status(client, engine, club, content_type, body):
    response = client.post("/twilio/messages", data=body, content_type=content_type)
    assert response.status_code in (200, 400), response.data
    assert f.count(engine, Report) == 0


def test_repeated_fields_take_the_first_value(client, engine, club):
    data = MultiDict([("MessageSid", "SM" + "d" * 32), ("MessageSid", "SM" + "e" * 32), ("From", ROSA),
            ("From", "+59179999999"), ("To", COOP_NUMBER), ("Body", "20"), ("Body", "900")])
    response = client.post("/twilio/messages", data=data)
    assert response.status_code == 200
    assert f.reports(engine) == [("A", 20, "accepted")]
    assert f.count(engine, InboundMessage) == 1
