"""Where outbound messages go: one small class per channel, one method each.

The Twilio channel (later work) will be the only module that imports twilio.rest.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol, TextIO

from bot.models import Outbox
from bot.phones import mask


@dataclass(frozen=True)
class Sent:
    """What a channel reports back: its id for the message and the status it reached."""

    sid: str | None
    status: str


class Channel(Protocol):
    def send(self, message: Outbox) -> Sent:
        """Hand one message over for delivery."""


class Console:
    """Prints messages instead of sending them: the embedded default, no Twilio account needed."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def send(self, message: Outbox) -> Sent:
        """Print the message with its recipient masked, and call it sent."""
        stream = self.stream or sys.stdout
        print(f"[{message.channel} to {mask(message.recipient)}] {message.kind}: {message.body}",
              file=stream, flush=True)
        return Sent(sid=None, status="sent")
