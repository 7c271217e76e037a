"""The outbox: every message that is not a webhook reply is stored here before it is sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot import clock
from bot.channels import Channel
from bot.config import Settings
from bot.dispatch import dispatch
from bot.models import Member, Outbox, OutboxStatus
from bot.render import render

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def connection_of(db: Session | Connection) -> Connection:
    """The connection under an ORM session, or the connection itself: notices are queued from
    both (the handlers answer on a Core connection, the jobs and pages in a session)."""
    return db if isinstance(db, Connection) else db.connection()


def queue(
    *,
    session: Session | Connection,
    key: str,
    recipient: str,
    body: str,
    kind: str,
    channel: str = "sms",
    cooperative_id: int | None = None,
    variables: dict[str, str] | None = None,
) -> bool:
    """Queue one message under a unique key; False when that key was queued before.

    `variables` are the values of the WhatsApp template for this kind of message, used
    when the message must go out as a template (outside WhatsApp's 24-hour window).
    """
    connection = connection_of(session)
    insert = _INSERTS[connection.dialect.name](Outbox)
    statement = insert.values(
        key=key,
        cooperative_id=cooperative_id,
        recipient=recipient,
        channel=channel,
        kind=kind,
        body=body,
        content_variables=variables,
        status=OutboxStatus.QUEUED,
        attempts=0,
        fell_back=False,
        created_at=clock.now(),
    ).on_conflict_do_nothing(index_elements=["key"])
    return connection.execute(statement.returning(Outbox.id)).first() is not None


def queue_many(*, session: Session | Connection, rows: list[dict]) -> int:
    """Queue many messages in one statement; returns how many keys were new."""
    if not rows:
        return 0
    now = clock.now()
    values = [
        dict(key=r["key"], cooperative_id=r.get("cooperative_id"), recipient=r["recipient"],
             channel=r.get("channel", "sms"), kind=r["kind"], body=r["body"],
             content_variables=r.get("variables"), status=OutboxStatus.QUEUED, attempts=0,
             fell_back=False, created_at=r.get("created_at") or now)
        for r in rows
    ]
    # One statement compiled once and executed for many rows (SQLAlchemy batches them as
    # "insertmanyvalues"); building a VALUES list of 10,000 rows cost more than the insert.
    table = Outbox.__table__
    connection = connection_of(session)
    statement = (
        _INSERTS[connection.dialect.name](table)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.id)
    )
    return len(connection.execute(statement, values).all())


def queue_for_member(
    *,
    session: Session | Connection,
    member: Member,
    key: str,
    kind: str,
    template: str,
    variables: dict[str, str] | None = None,
    **values,
) -> bool:
    """Queue a message to a member, rendered in her language, on her channel."""
    return queue(
        variables=variables,
        session=session,
        key=key,
        recipient=member.phone,
        body=render(template, member.language, **values),
        kind=kind,
        channel=member.channel,
        cooperative_id=member.cooperative_id,
    )


def messages(*, session: Session, status: str | None = None) -> list[Outbox]:
    """The outbox, oldest first, optionally of one status."""
    query = select(Outbox)
    if status:
        query = query.where(Outbox.status == status)
    return list(session.scalars(query.order_by(Outbox.id)))


def send_queued(
    engine: Engine,
    channel: Channel,
    *,
    settings: Settings | None = None,
    at: datetime | None = None,
    limit: int = 500,
) -> int:
    """Send what is queued and quiet hours allow, oldest first; returns how many went out."""
    return dispatch(engine, settings or Settings(), channel, at=at, limit=limit).sent
