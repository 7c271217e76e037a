"""admin.Invalid's one-line reasons, read back into keys of the page's strings.

admin.py validates every write for the command line and the dashboard alike; its reasons
are English sentences. The dashboard shows them in the person's language by recognising
each kind of reason here; one it does not know is shown as admin wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE = re.compile(r"^line (\d+): (.*)$", re.S)
_KINDS = [
    (re.compile(r"the header must be (.*)"), "header"),
    (re.compile(r"expected (\d+) columns, found (\d+)"), "columns"),
    (re.compile(r"is already a member"), "phone_taken"),
    (re.compile(r"^(member name|buyer name|--item) is empty"), "name_empty"),
    (re.compile(r"^(member name|buyer name|--item) is longer than"), "name_long"),
    (re.compile(r"is not a (valid )?phone number"), "phone_bad"),
    (re.compile(r"^role "), "role_bad"),
    (re.compile(r"^channel "), "channel_bad"),
    (re.compile(r"^language "), "language_bad"),
]


@dataclass(frozen=True)
class Reason:
    key: str  # under "errors." in the strings file; "" for a reason not recognised
    text: str  # admin's own sentence, shown when the key is ""
    line: int | None = None
    values: dict = field(default_factory=dict)


def reason(message: str) -> Reason:
    """The kind of a validation failure, and the CSV line it is on, if any."""
    line = None
    found = _LINE.match(message)
    if found:
        line, message = int(found.group(1)), found.group(2)
    for pattern, key in _KINDS:
        hit = pattern.search(message)
        if hit:
            values = {"expected": hit.group(1), "found": hit.group(2)} if key == "columns" else {}
            return Reason(key, message, line, values)
    return Reason("", message, line)
