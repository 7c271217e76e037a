"""The reference: a minimal Flask app doing the webhook's durable job by hand.

What Puntada's single path is measured against (bench/README.md, "The reference app"). It
does the least an honest webhook must do for one message, with no framework of ours:

- Twilio's signature checked with twilio's RequestValidator (one HMAC);
- a digits parse of the body (the first number in it; "total" and words get no report);
- one transaction per message on one connection per worker: claim the MessageSid
  (INSERT … ON CONFLICT DO NOTHING), find the member, insert the report on her
  cooperative's first active order, UPDATE … RETURNING the order's total, sum her month
  from the covering index, store the reply with the message, commit — SQLite in WAL with
  synchronous=FULL (one fsync per message), PostgreSQL with synchronous_commit on;
- the reply as TwiML written by hand.

It runs on the benchmark's own database (the schema Puntada's migrations make), served by
gunicorn with the options `puntada serve` uses (bot.serving.options).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
from datetime import UTC, date, datetime, timedelta
from xml.sax.saxutils import escape

from flask import Flask, Response, request
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.serving import serve_app

DIGITS = re.compile(r"\d+")
LA_PAZ = timedelta(hours=-4)  # the benchmark's club is in El Alto, UTC-4 all year

CLAIM = """INSERT INTO inbound_message (message_sid, cooperative_id, sender, recipient, channel, body,
                                       intent, understood, handled, reply, received_at)
           VALUES ({p}, (SELECT id FROM cooperative WHERE sms_number = {p} OR whatsapp_number = {p}),
                   {p}, {p}, {p}, {p}, '', {t}, {f}, '', {p})
           ON CONFLICT (message_sid) DO NOTHING RETURNING id"""
MEMBER = """SELECT m.id, m.name, m.cooperative_id FROM member m JOIN cooperative c ON c.id = m.cooperative_id
            WHERE (c.sms_number = {p} OR c.whatsapp_number = {p}) AND m.phone = {p}"""
ORDER = "SELECT id, code FROM orders WHERE cooperative_id = {p} AND status = 'active' ORDER BY code LIMIT 1"
REPORT = """INSERT INTO report (cooperative_id, member_id, order_id, pieces, status, at, local_date,
                                inbound_id, source)
            VALUES ({p}, {p}, {p}, {p}, 'accepted', {p}, {p}, {p}, 'sms')"""
ADD = "UPDATE orders SET done = done + {p} WHERE id = {p} RETURNING done"
MONTH = """SELECT coalesce(sum(pieces), 0) FROM report
           WHERE member_id = {p} AND status = 'accepted' AND local_date >= {p} AND local_date <= {p}"""
FINISH = "UPDATE inbound_message SET member_id = {p}, intent = {p}, reply = {p} WHERE id = {p}"


class Database:
    """One connection and the statements in its driver's parameter style."""

    def __init__(self, url: str):
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            import sqlite3

            self.connection = sqlite3.connect(parsed.database, isolation_level=None, check_same_thread=False,
                                              timeout=15)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=15000"):
                self.connection.execute(f"PRAGMA {pragma}")
            # SQLite's own wait for the write lock sleeps and polls; writers of both workers
            # take turns on an flock instead, as Puntada's do (bot.db).
            self.turns = os.open(f"{parsed.database}.reference-writers", os.O_RDWR | os.O_CREAT, 0o600)
            marks = {"p": "?", "t": "1", "f": "0"}
        else:
            import psycopg

            self.connection = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(False))
            marks = {"p": "%s", "t": "true", "f": "false"}
        self.sql = {name: sql.format(**marks) for name, sql in
                    dict(CLAIM=CLAIM, MEMBER=MEMBER, ORDER=ORDER, REPORT=REPORT, ADD=ADD, MONTH=MONTH,
                         FINISH=FINISH).items()}

    def at(self, moment: datetime):
        # As SQLAlchemy stores an aware UTC time on SQLite (text); PostgreSQL takes it as is.
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    def day(self, value: date):
        return value.isoformat() if self.sqlite else value

    def record(self, sid: str, sender: str, recipient: str, channel: str, body: str) -> str | None:
        """The whole durable job for one message, in one transaction; the reply, or None for a repeat."""
        now = datetime.now(UTC)
        today = (now + LA_PAZ).date()
        match = DIGITS.search(body)
        pieces = int(match.group()) if match else 0
        if self.sqlite:
            fcntl.flock(self.turns, fcntl.LOCK_EX)
        try:
            return self._record(sid, sender, recipient, channel, body, pieces, now, today)
        finally:
            if self.sqlite:
                fcntl.flock(self.turns, fcntl.LOCK_UN)

    def _record(self, sid, sender, recipient, channel, body, pieces, now, today) -> str | None:
        cursor = self.connection.cursor()
        if self.sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        try:
            cursor.execute(self.sql["CLAIM"], (sid, recipient, recipient, sender, recipient, channel, body,
                                               self.at(now)))
            claimed = cursor.fetchone()
            if claimed is None:
                self.connection.rollback()
                return None
            cursor.execute(self.sql["MEMBER"], (recipient, recipient, sender))
            member = cursor.fetchone()
            if member is None:
                reply, member_id = "Tu numero no esta registrado.", None
            else:
                member_id, name, cooperative_id = member
                reply = self._report(cursor, claimed[0], member_id, name.split()[0], cooperative_id, pieces,
                                     now, today)
            intent = "report" if pieces else "unknown"
            cursor.execute(self.sql["FINISH"], (member_id, intent, reply, claimed[0]))
            self.connection.commit()
            return reply
        except BaseException:
            self.connection.rollback()
            raise

    def _report(self, cursor, inbound_id, member_id, first_name, cooperative_id, pieces, now, today) -> str:
        if not 0 < pieces <= 99_999:
            return "Manda cuantas piezas terminaste, por ejemplo: 20"
        cursor.execute(self.sql["ORDER"], (cooperative_id,))
        order_id, code = cursor.fetchone()
        cursor.execute(self.sql["REPORT"], (cooperative_id, member_id, order_id, pieces, self.at(now),
                                            self.day(today), inbound_id))
        cursor.execute(self.sql["ADD"], (pieces, order_id))
        done = cursor.fetchone()[0]
        cursor.execute(self.sql["MONTH"], (member_id, self.day(today.replace(day=1)), self.day(today)))
        month = cursor.fetchone()[0]
        return f"{first_name}, anoté {pieces} en el pedido {code}. Tu mes: {month}. Pedido {code}: {done}"


def create_app() -> Flask:
    settings = Settings.from_env()
    validator = RequestValidator(settings.twilio_auth_token)
    url = f"{settings.public_base_url}/twilio/messages"
    database = Database(settings.database_url)
    app = Flask(__name__)

    @app.post("/twilio/messages")
    def messages() -> Response:
        form = request.form
        if not validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
            return Response("invalid signature\n", status=403, mimetype="text/plain")
        sender, recipient = form.get("From", ""), form.get("To", "")
        channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
        reply = database.record(form.get("MessageSid", ""), sender.removeprefix("whatsapp:"),
                                recipient.removeprefix("whatsapp:"), channel, form.get("Body", ""))
        body = f"<Message>{escape(reply)}</Message>" if reply else ""
        return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                        mimetype="text/xml")

    return app


if __name__ == "__main__":
    serve_app(create_app, settings=Settings.from_env(), workers=int(sys.argv[1]), threads=int(sys.argv[2]),
              with_scheduler=False)
