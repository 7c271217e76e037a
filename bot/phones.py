"""Phone numbers: E.164 in storage, Twilio addresses at the edge, masked in logs."""

from __future__ import annotations

import phonenumbers

from bot.models import Channel

WHATSAPP_PREFIX = "whatsapp:"


class BadPhone(ValueError):
    """A phone number that cannot be read as a real number (`readable`: it reads, but no
    such number exists in that country)."""

    def __init__(self, message: str, *, readable: bool = False):
        super().__init__(message)
        self.readable = readable


def to_e164(raw: str, region: str) -> str:
    """Read a number typed locally ('71234567') or internationally ('+591 7123 4567')."""
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as error:
        raise BadPhone(f"{raw!r} is not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise BadPhone(f"{raw!r} is not a valid phone number for {region.upper()}", readable=True)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_address(address: str) -> tuple[str, Channel]:
    """Split a Twilio address ('whatsapp:+591…' or '+591…') into number and channel."""
    address = (address or "").strip()
    if address.lower().startswith(WHATSAPP_PREFIX):
        return address[len(WHATSAPP_PREFIX) :].strip(), Channel.WHATSAPP
    return address, Channel.SMS


def address_for(phone: str, channel: str) -> str:
    """The Twilio address that reaches `phone` on `channel`."""
    return f"{WHATSAPP_PREFIX}{phone}" if channel == Channel.WHATSAPP else phone


def mask(phone: str) -> str:
    """'+59171234567' → '+591*****567': enough to tell numbers apart in a log, no more."""
    number, channel = split_address(phone)
    prefix = WHATSAPP_PREFIX if channel == Channel.WHATSAPP else ""
    if len(number) <= 6:
        return prefix + "*" * len(number)
    return prefix + number[:4] + "*" * (len(number) - 7) + number[-3:]
