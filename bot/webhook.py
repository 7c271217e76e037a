"""Twilio's side of the web app: inbound messages, and the health check."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text
from twilio.request_validator import RequestValidator, compare
from twilio.twiml.messaging_response import MessagingResponse

from bot import clock, puntada, spool
from bot.db import DATABASE_DOWN
from bot.inbound import Inbound, Media, receive
from bot.render import render

log = logging.getLogger(__name__)
blueprint = Blueprint("webhook", __name__)
MAX_FIELD = 64  # a MessageSid is 34 characters; an address at most "whatsapp:" and 15 digits
MAX_MEDIA = 10  # Twilio sends at most ten media with one message
MAX_URL = 500


@blueprint.post("/twilio/messages")
def messages() -> Response:
    """Record and answer one inbound SMS or WhatsApp message, as TwiML."""
    if not signed_by_twilio():
        log.warning("inbound message refused: bad or missing X-Twilio-Signature")
        return plain("invalid signature", 403)
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    sender, recipient = form.get("From", ""), form.get("To", "")
    if not (sid and sender and recipient):
        return plain("MessageSid, From and To are required", 400)
    if not all(_well_formed(value) for value in (sid, sender, recipient)):
        return plain("MessageSid, From or To is too long or has control characters", 400)
    message = Inbound(sid, sender, recipient, form.get("Body", ""), clock.now(), media=_media(form),
                      location=_location(form), opt_out=form.get("OptOutType", "")[:8])
    try:
        reply = receive(puntada().engine, message)
    except DATABASE_DOWN as error:
        # Nothing is lost: the message waits on disk and the spool job records it later.
        spool.append(Path(puntada().settings.spool_dir), message)
        log.warning("database unavailable (%s): inbound %s spooled", type(error).__name__, sid)
        reply = render("spooled", "es")
    twiml = MessagingResponse()
    if reply:  # no reply at all to a number flooding the bot
        twiml.message(reply)
    return Response(str(twiml), mimetype="text/xml")


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers, 503 when it does not."""
    try:
        with puntada().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database means "not healthy"
        log.exception("health check: database unreachable")
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200


def signed_by_twilio() -> bool:
    """Whether the request carries Twilio's valid signature (always true without a token)."""
    token = puntada().settings.twilio_auth_token
    if not token:
        return True
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator, url = _validator(token), _signed_url()
    # The URL exactly as configured matches almost always: one HMAC. Otherwise twilio's own
    # check, which also tries the URL with and without the port.
    exact = "bodySHA256" not in request.args and compare(
        validator.compute_signature(url, request.form), signature
    )
    return exact or validator.validate(url, request.form, signature)


@cache
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def _signed_url() -> str:
    """The URL Twilio signed: the public origin when configured, else what we were called at."""
    base = puntada().settings.public_base_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def _media(form) -> tuple[Media, ...]:
    """Twilio's NumMedia, MediaUrlN and MediaContentTypeN: every voice note and photo, kept."""
    try:
        count = min(max(int(form.get("NumMedia", "0") or 0), 0), MAX_MEDIA)
    except ValueError:
        count = 0
    found = []
    for n in range(count):
        url, kind = form.get(f"MediaUrl{n}", ""), form.get(f"MediaContentType{n}", "")
        if url.startswith("https://") and len(url) <= MAX_URL and url.isprintable():
            found.append(Media(url, kind[:100] or "application/octet-stream"))
    return tuple(found)


def _location(form) -> tuple[float, float, str | None] | None:
    """A location she shared on WhatsApp: Latitude, Longitude and (when given) Address."""
    try:
        latitude, longitude = float(form["Latitude"]), float(form["Longitude"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    address = form.get("Address") or form.get("Label") or None
    return latitude, longitude, address[:300] if address else None


def _well_formed(value: str) -> bool:
    return len(value) <= MAX_FIELD and value.isprintable()


def plain(message: str, status: int) -> Response:
    """A one-line text/plain answer."""
    return Response(message + "\n", status=status, mimetype="text/plain")
