"""The outbox: queued once per key, printed by the console channel, marked sent."""

from __future__ import annotations

import io

from bot.channels import Console
from bot.db import unit_of_work
from bot.models import Outbox
from bot.outbox import queue, send_queued
from bot.phones import mask
from tests import factories as f
from tests.factories import JUANA, ROSA


def test_a_key_is_queued_once(engine, club):
    with unit_of_work(engine) as session:
        first = queue(session=session, key="reminder:1:2026-11-26", recipient=ROSA, body="Hola",
                      kind="reminder", cooperative_id=club.cooperative.id)
        again = queue(session=session, key="reminder:1:2026-11-26", recipient=ROSA, body="Hola",
                      kind="reminder", cooperative_id=club.cooperative.id)
    assert (first, again) == (True, False)
    assert f.count(engine, Outbox) == 1


def test_the_console_channel_prints_each_message_once_and_marks_it_sent(engine, club, now):
    f.text(engine, JUANA, "aviso Reunion el lunes", at=now)
    printed = io.StringIO()
    assert send_queued(engine, Console(printed), at=now) == 3
    assert send_queued(engine, Console(printed), at=now) == 0
    lines = printed.getvalue().splitlines()
    assert f"[sms to {mask(ROSA)}] broadcast: Bartolina Sisa: Reunion el lunes" in lines
    assert len(lines) == 3
    assert ROSA not in printed.getvalue()  # phone numbers are masked in what is printed
    assert f.count(engine, Outbox, Outbox.status == "sent") == 3


def test_masking_keeps_numbers_apart_without_showing_them():
    assert mask("+59171234567") == "+591*****567"
    assert mask("whatsapp:+59171234567") == "whatsapp:+591*****567"
    assert mask("12345") == "*****"
