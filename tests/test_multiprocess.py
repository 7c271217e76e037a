"""Production's shape on PostgreSQL: 4 gunicorn workers take signed webhooks from 200
members at once, duplicates included, while a `puntada scheduler` process dispatches to a
local Twilio stand-in. Totals, milestones and completion notices come out exact: each
queued once and sent once."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from bot import admin
from bot.db import make_engine, unit_of_work
from bot.migrate import fresh_database
from bot.models import Cooperative, InboundMessage, Member, Order, Outbox, Report, Role
from tests import ROOT, twilio_standin
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="TEST_DATABASE_URL is not set")

PUBLIC_BASE_URL = "https://bot.example.org"
COOP = "+59162000100"
COORDINATORS = ("+59171000901", "+59171000902")
CONTACTS = ("+59172200001", "+59172200002")
MEMBERS = 200
MESSAGES_EACH = 3
BIN = Path(sys.executable).parent


@pytest.fixture
def fresh_postgres():
    with fresh_database(TEST_DATABASE_URL, prefix="puntada_mp") as url:
        yield url


def _phone(i: int) -> str:
    return f"+591{71000000 + i}"


def _messages() -> list[tuple[str, str, int]]:
    """(sender, body, pieces) for every distinct message, in a shuffled but fixed order."""
    rng = random.Random(200)
    forms = ["{n}", "hice {n}", "A {n}", "termine {n} piezas", "{n} blusas",
             "buenas tardes hoy {n} pzs gracias"]
    # Each member's counts differ: the same count again within minutes is a resend, held and asked.
    rows = [(_phone(i), rng.choice(forms).format(n=n), n)
            for i in range(MEMBERS) for n in rng.sample(range(1, 41), MESSAGES_EACH)]
    rng.shuffle(rows)
    return rows


def _seed(url: str, quantity: int) -> None:
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        coop = admin.add_cooperative(session=session, name="Bartolina Sisa", number=COOP)
        coop.quiet_start = coop.quiet_end = "00:00"  # the real clock must not hold the notices
        for k, phone in enumerate(COORDINATORS):
            admin.add_member(session=session, cooperative=coop, phone=phone, name=f"Coordinadora {k}",
                             role=Role.COORDINATOR)
        for i in range(MEMBERS):
            admin.add_member(session=session, cooperative=coop, phone=_phone(i), name=f"Bordadora {i}")
        admin.add_buyer(session=session, name="Andes Export", contacts=CONTACTS, language="es", region="BO")
        admin.add_order(session=session, cooperative=coop, buyer_name="Andes Export", code="A",
                        item="blusas", quantity=quantity, due="2030-12-23", assign="all")
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_healthy(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail("puntada serve did not answer /healthz within 30 s:\n" + log.read_text())


def _post(port: int, sid: str, sender: str, body: str) -> str:
    form = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": twilio_standin.ACCOUNT_SID,
            "From": sender, "To": COOP, "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
    signature = RequestValidator(twilio_standin.AUTH_TOKEN).compute_signature(
        f"{PUBLIC_BASE_URL}/twilio/messages", form)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/twilio/messages",
                                     data=urlencode(form).encode(), headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
        return answer.read().decode()


def test_four_workers_and_a_scheduler_count_and_notify_exactly_once(fresh_postgres, tmp_path):
    url = fresh_postgres
    messages = _messages()
    total = sum(pieces for _, _, pieces in messages)
    quantity = total * 9 // 10  # every milestone and the completion are crossed, with over-production
    _seed(url, quantity)

    port = _free_port()
    env = dict(os.environ, DATABASE_URL=url, TWILIO_ACCOUNT_SID=twilio_standin.ACCOUNT_SID,
               TWILIO_AUTH_TOKEN=twilio_standin.AUTH_TOKEN, PUBLIC_BASE_URL=PUBLIC_BASE_URL, HOST="127.0.0.1",
               PORT=str(port), SECRET_KEY="test-secret", DATABASE_POOL_SIZE="4")
    with twilio_standin.running() as twilio:
        web_log, clock_log = tmp_path / "web.log", tmp_path / "scheduler.log"
        web = _start([str(BIN / "puntada"), "serve", "--workers", "4", "--no-scheduler"],
                     dict(env, MESSAGING_BACKEND="console"), web_log)
        clock = _start([str(BIN / "puntada"), "scheduler"],
                       dict(env, MESSAGING_BACKEND="twilio", TWILIO_API_BASE_URL=twilio.url), clock_log)
        try:
            _wait_healthy(port, web, web_log)
            sids = [f"SM{uuid.uuid4().hex}" for _ in messages]
            posts = [(sid, sender, body) for sid, (sender, body, _) in zip(sids, messages, strict=True)]
            # One in five again (Twilio's retries), some of them while the first is in flight.
            posts += random.Random(5).sample(posts, len(posts) // 5)
            random.Random(6).shuffle(posts)
            with ThreadPoolExecutor(max_workers=24) as pool:
                replies = list(pool.map(lambda p: (p[0], _post(port, *p)), posts))
            by_sid: dict[str, set[str]] = {}
            for sid, reply in replies:
                by_sid.setdefault(sid, set()).add(reply)
            assert all(len(answers) == 1 for answers in by_sid.values())  # a repeat gets the first reply

            engine = make_engine(url)
            notices = _wait_for_notices(engine, twilio, expected=4 * len(COORDINATORS) + len(CONTACTS))
        finally:
            _stop(web)
            _stop(clock)

    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == len(messages)
        assert session.scalar(select(func.count()).select_from(Report)) == len(messages)
        assert session.scalar(select(func.sum(Report.pieces)).where(Report.status == "accepted")) == total
        assert session.scalar(select(Order.done)) == total
        by_phone = select(Member.phone, func.sum(Report.pieces)).join(Member, Member.id == Report.member_id)
        per_member = dict(session.execute(by_phone.group_by(Member.phone)).all())
        expected = Counter()
        for sender, _, pieces in messages:
            expected[sender] += pieces
        assert per_member == dict(expected)
        coop_id = session.scalar(select(Cooperative.id))
        noticed = select(func.count()).select_from(Outbox).where(
            Outbox.cooperative_id == coop_id, Outbox.kind.in_(["milestone", "completion"]))
        assert session.scalar(noticed) == len(notices)
    engine.dispose()
    kinds = Counter(row.kind for row in notices)
    assert kinds == {"milestone": 4 * len(COORDINATORS), "completion": len(CONTACTS)}
    assert {(row.recipient, row.key.split(":")[2]) for row in notices if row.kind == "milestone"} == {
        (phone, pct) for phone in COORDINATORS for pct in ("25", "50", "75", "100")}
    sent = Counter((form.get("To"), form.get("Body")) for form in twilio.forms())
    for row in notices:  # each went out once, with the SID Twilio gave it
        assert row.status == "sent"
        assert sent[(row.recipient, row.body)] == 1
    assert len({row.twilio_sid for row in notices}) == len(notices)


def _wait_for_notices(engine, twilio, *, expected: int) -> list[Outbox]:
    """The milestone and completion rows, once all of them are sent (the scheduler dispatches
    every few seconds)."""
    deadline = time.monotonic() + 30
    query = select(Outbox).where(Outbox.kind.in_(["milestone", "completion"])).order_by(Outbox.id)
    while True:
        with Session(engine) as session:
            rows = list(session.scalars(query))
        if len(rows) >= expected and all(r.status == "sent" for r in rows) or time.monotonic() > deadline:
            time.sleep(0.5)  # anything sent twice would show in the stand-in now
            return rows
        time.sleep(0.25)
