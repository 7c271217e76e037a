"""Every log line, our own and the libraries', with phone numbers masked.

Database errors quote the row they refused (PostgreSQL: "Key (phone)=(+591…) already
exists"), and an exception logged with its traceback would carry that into the log. The
record factory below masks anything shaped like a phone number in the message and in
the formatted exception, before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import traceback

from bot.phones import mask

PHONE = re.compile(r"\+?\d{8,15}")
_installed = False


def scrub(text: str) -> str:
    """Mask phone-number-shaped runs of digits: '+59171234567' → '+591*****567'."""
    return PHONE.sub(lambda match: mask(match.group()), text)


def install() -> None:
    """Make every log record scrub itself (once per process)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def scrubbed(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.msg, record.args = scrub(record.getMessage()), ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())
        return record

    logging.setLogRecordFactory(scrubbed)
    _installed = True
