"""When the database does not answer, inbound messages wait in an append-only file on disk.

The webhook appends the message (flushed and fsynced before the member is answered
"received"), and the `spool` job replays the file once the database is back, through the
one inbound path: its unique MessageSid keeps a message from counting twice, however
often the file is replayed. The member then gets the reply she would have had, by SMS.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import asdict, astuple, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import Session

from bot import clock, outbox, store
from bot.db import unit_of_work
from bot.inbound import Inbound, Media, receive
from bot.models import InboundMessage
from bot.phones import split_address

log = logging.getLogger(__name__)
SPOOL = "inbound.jsonl"


@dataclass(frozen=True)
class Replayed:
    recorded: int = 0  # new messages taken in
    repeated: int = 0  # already in the database: nothing counted again
    left: int = 0  # still waiting (the database failed again)


def append(directory: Path, message: Inbound) -> None:
    """Keep `message` on disk until the database takes it; durable when this returns."""
    directory.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**asdict(message), "at": (message.at or clock.now()).isoformat()}) + "\n"
    path = directory / SPOOL
    while True:
        with open(path, "a", encoding="utf-8") as spool:
            fcntl.flock(spool, fcntl.LOCK_EX)
            # A replay may have taken the file away while we waited for the lock.
            if not path.exists() or os.fstat(spool.fileno()).st_ino != os.stat(path).st_ino:
                continue
            spool.write(line)
            spool.flush()
            os.fsync(spool.fileno())
            return


def replay(engine: Engine, directory: Path) -> Replayed:
    """Take every spooled message into the database, once; keep what still fails."""
    _take(directory)
    # Files a replay left behind when its process died are taken up too: the MessageSid
    # keeps any message in them from counting twice.
    total = Replayed()
    for batch in sorted(directory.glob("replaying-*.jsonl")):
        done = _replay_file(engine, directory, batch)
        total = Replayed(*(a + b for a, b in zip(astuple(total), astuple(done), strict=True)))
        if done.left:
            break
    if total.recorded or total.repeated:
        log.info("spool replayed: %d recorded, %d already in", total.recorded, total.repeated)
    return total


def _replay_file(engine: Engine, directory: Path, batch: Path) -> Replayed:
    recorded = repeated = 0
    try:
        lines = batch.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:  # another replay took it
        return Replayed()
    for index, line in enumerate(lines):
        message = _message(line)
        if message is None:
            continue
        try:
            if _known(engine, message.sid):
                repeated += 1
                continue
            reply = receive(engine, message)
            if reply:
                _send_reply(engine, message, reply)
            recorded += 1
        except Exception:
            # Still down: put back what is left for the next run, lose nothing.
            for rest in lines[index:]:
                _restore(directory, rest)
            batch.unlink(missing_ok=True)
            log.exception("spool replay stopped; %d message(s) wait", len(lines) - index)
            return Replayed(recorded, repeated, len(lines) - index)
    batch.unlink(missing_ok=True)
    return Replayed(recorded, repeated)


def _take(directory: Path) -> None:
    """Move the spool aside under its lock, so new messages start a new file."""
    path = directory / SPOOL
    if not path.exists():
        return
    with open(path, "a", encoding="utf-8") as spool:
        fcntl.flock(spool, fcntl.LOCK_EX)
        os.rename(path, directory / f"replaying-{clock.now():%Y%m%dT%H%M%S%f}-{os.getpid()}.jsonl")


def _restore(directory: Path, line: str) -> None:
    message = _message(line)
    if message is not None:
        append(directory, message)


def _message(line: str) -> Inbound | None:
    try:
        data = json.loads(line)
        location = data.get("location")
        return Inbound(data["sid"], data["sender"], data["recipient"], data["body"],
                       datetime.fromisoformat(data["at"]),
                       media=tuple(Media(m["url"], m["content_type"]) for m in data.get("media") or ()),
                       location=(location[0], location[1], location[2]) if location else None,
                       opt_out=data.get("opt_out", ""))
    except (ValueError, KeyError, TypeError):
        log.error("spool: an unreadable line was skipped")
        return None


def _known(engine: Engine, sid: str) -> bool:
    with Session(engine) as session:
        query = select(InboundMessage.id).where(InboundMessage.message_sid == sid)
        return session.scalars(query).first() is not None


def _send_reply(engine: Engine, message: Inbound, reply: str) -> None:
    """She was told "received"; now she gets what the bot made of it."""
    phone, channel = split_address(message.sender)
    with unit_of_work(engine) as session:
        cooperative = store.cooperative_by_number(session=session, number=split_address(message.recipient)[0])
        if cooperative is None:
            return  # a message to no club's number: kept, nobody to answer from
        outbox.queue(session=session, key=f"reply:{message.sid}", recipient=phone, body=reply,
                     kind="reply", channel=channel, cooperative_id=cooperative.id)
