"""Where outbound messages go: one small class per channel, one method each; and the one
place inbound media (voice notes, photos) are fetched from Twilio.

TwilioChannel is the only code in the project that imports twilio.rest.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TextIO

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.config import Settings
from bot.models import Outbox
from bot.phones import address_for, mask

TWILIO_ORIGIN = "https://api.twilio.com"
# Seconds to connect, and again to read: a dispatcher holds a sender's lease while it
# waits, so waiting is bounded.
TIMEOUT = 10.0

CREDENTIALS_REFUSED = "Twilio refused our credentials (check TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN)"
# Twilio error codes a coordinator may see, and what they mean for the member.
REASONS = {
    20003: CREDENTIALS_REFUSED,
    20429: "Twilio asked us to slow down",
    21211: "The number is not a valid phone number",
    21408: "Twilio is not allowed to send to this country",
    21610: "The member replied STOP to Twilio",
    21612: "Twilio cannot send from our number to this one",
    21614: "The number is not a mobile phone",
    30001: "Twilio's queue was full",
    30003: "The phone was off or out of coverage",
    30004: "The phone company blocked the message",
    30005: "The number does not exist or is no longer in service",
    30006: "The number is a landline or its carrier cannot receive messages",
    30007: "The phone company filtered the message as spam",
    30008: "The message was lost for an unknown reason",
    63016: "WhatsApp's 24-hour window had closed and no template was used",
}
# Worth another try later: Twilio or the carrier was busy, the handset was away; or our
# credentials were refused, which is ours to fix, not the message's fault: once the
# token is right again, the outbox drains.
TEMPORARY_CODES = frozenset({20003, 20429, 30001, 30003, 30008})
CREDENTIALS_STATUSES = frozenset({401, 403})
TEMPORARY_STATUSES = CREDENTIALS_STATUSES | {429}
OPT_OUT_CODE = 21610


class Failure(StrEnum):
    TEMPORARY = "temporary"  # try again later
    PERMANENT = "permanent"  # this message will never go out as it is
    OPTED_OUT = "opted_out"  # permanent, and the recipient asked for no more messages


class SendError(Exception):
    """A message a channel could not hand over, with Twilio's code and a plain reason."""

    def __init__(self, failure: Failure, reason: str, code: int | None = None):
        super().__init__(reason)
        self.failure, self.reason, self.code = failure, reason, code


@dataclass(frozen=True)
class Sent:
    """What a channel reports back: its id for the message and the status it reached."""

    sid: str | None
    status: str


class Channel(Protocol):
    paced: bool  # whether the per-sender rate cap applies (it costs nothing to print)

    def send(self, message: Outbox, *, sender: str, status_callback: str | None) -> Sent:
        """Hand one message over for delivery; raises SendError when it cannot."""


def reason_for(code: int | str | None, fallback: str = "Twilio could not deliver the message") -> str:
    """A plain-language reason for a Twilio error code."""
    try:
        return REASONS.get(int(code), fallback) if code is not None else fallback
    except ValueError:
        return fallback


def failure_for(http_status: int | None, code: int | None) -> Failure:
    """Whether an error is worth retrying, final, or the recipient's STOP."""
    if code == OPT_OUT_CODE:
        return Failure.OPTED_OUT
    if code in TEMPORARY_CODES or http_status in TEMPORARY_STATUSES or (http_status or 0) >= 500:
        return Failure.TEMPORARY
    return Failure.PERMANENT


class Console:
    """Prints messages instead of sending them: the embedded default, no Twilio account needed."""

    paced = False

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def send(self, message: Outbox, *, sender: str = "", status_callback: str | None = None) -> Sent:
        """Print the message with its recipient masked, and call it sent."""
        stream = self.stream or sys.stdout
        print(f"[{message.channel} to {mask(message.recipient)}] {message.kind}: {message.body}",
              file=stream, flush=True)
        return Sent(sid=None, status="sent")


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending what it addresses to api.twilio.com to another origin."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args, **kwargs):
        """Send the request to the configured origin instead of Twilio's own."""
        if url.startswith(TWILIO_ORIGIN):
            url = self.base_url + url[len(TWILIO_ORIGIN):]
        return super().request(method, url, *args, **kwargs)


class TwilioChannel:
    """Sends through Twilio's REST API with the official client."""

    paced = True

    def __init__(self, settings: Settings, *, timeout: float = TIMEOUT):
        http = BaseUrlHttpClient(settings.twilio_api_base_url, timeout=timeout)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)

    def send(self, message: Outbox, *, sender: str, status_callback: str | None) -> Sent:
        """Create the message at Twilio; `sender` is a From address or a Messaging Service SID."""
        fields = _sender_fields(sender) | _content_fields(message)
        if status_callback:
            fields["status_callback"] = status_callback
        try:
            created = self.client.messages.create(
                to=address_for(message.recipient, message.channel), **fields
            )
        except TwilioRestException as error:
            failure = failure_for(error.status, error.code)
            raise SendError(failure, _reason(error), error.code) from error
        except requests.Timeout as error:
            raise SendError(Failure.TEMPORARY, "Twilio did not answer in time") from error
        except requests.RequestException as error:
            raise SendError(Failure.TEMPORARY, "Could not reach Twilio") from error
        return Sent(sid=created.sid, status=created.status or "queued")


def _sender_fields(sender: str) -> dict[str, str]:
    if sender.startswith("MG"):
        return {"messaging_service_sid": sender}
    return {"from_": sender}


def _content_fields(message: Outbox) -> dict[str, str]:
    if message.content_sid:
        return {"content_sid": message.content_sid,
                "content_variables": json.dumps(message.content_variables or {}, ensure_ascii=False)}
    return {"body": message.body}


def _reason(error: TwilioRestException) -> str:
    if error.code in REASONS:
        return REASONS[error.code]
    if error.status == 429:
        return REASONS[20429]
    if error.status in CREDENTIALS_STATUSES:
        return CREDENTIALS_REFUSED
    if error.status >= 500:
        return "Twilio had a problem on its side"
    return f"Twilio refused the message (error {error.code})" if error.code else "Twilio refused the message"


def channel_for(settings: Settings) -> Channel:
    """The channel MESSAGING_BACKEND names: Twilio, or the console."""
    if settings.messaging_backend == "twilio":
        return TwilioChannel(settings)
    return Console()


# --- inbound media ---------------------------------------------------------------------------

MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's limit for one file


@dataclass(frozen=True)
class Fetched:
    """One medium as Twilio keeps it: its bytes and their type."""

    content: bytes
    content_type: str


class MediaError(Exception):
    """Why a medium could not be fetched, with the HTTP status the dashboard answers."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def media_url_is_ours(settings: Settings, url: str) -> bool:
    """Whether `url` is one of our account's message media at Twilio (nothing else is fetched)."""
    account = settings.twilio_account_sid
    return bool(account) and url.startswith(f"{TWILIO_ORIGIN}/2010-04-01/Accounts/{account}/Messages/") \
        and "/Media/" in url and ".." not in url and "?" not in url and "#" not in url


def fetch_media(settings: Settings, url: str, *, timeout: float = TIMEOUT) -> Fetched:
    """A voice note or photo a member sent, fetched with the account's credentials.

    Twilio answers with a redirect to a short-lived link on its CDN; requests does not carry
    the credentials to another host, so only Twilio's API ever sees the token.
    """
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise MediaError(503, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to fetch media")
    if not media_url_is_ours(settings, url):
        raise MediaError(404, "Not a medium of this account")
    target = settings.twilio_api_base_url.rstrip("/") + url[len(TWILIO_ORIGIN):]
    try:
        with requests.get(target, auth=(settings.twilio_account_sid, settings.twilio_auth_token),
                          timeout=timeout, stream=True, allow_redirects=True) as answer:
            if answer.status_code in (401, 403):
                raise MediaError(502, CREDENTIALS_REFUSED)
            if answer.status_code == 404:
                raise MediaError(404, "Twilio no longer has this medium")
            if answer.status_code >= 400:
                raise MediaError(502, f"Twilio answered {answer.status_code}")
            content = bytearray()
            for chunk in answer.iter_content(64 * 1024):
                content += chunk
                if len(content) > MAX_MEDIA_BYTES:
                    raise MediaError(502, "The medium is larger than 16 MB")
            return Fetched(bytes(content), answer.headers.get("Content-Type", "application/octet-stream"))
    except requests.Timeout as error:
        raise MediaError(504, "Twilio did not answer in time") from error
    except requests.RequestException as error:
        raise MediaError(502, "Could not reach Twilio") from error
