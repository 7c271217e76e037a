"""The engine, and sessions that commit or roll back as one unit of work."""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 15_000
WRITES = "puntada_writes"
# What the database failing looks like (the webhook spools the message instead of answering).
DATABASE_DOWN = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)
T = TypeVar("T")


def make_engine(url: str, *, pool_size: int = 5, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    """Build an engine for `url`; nothing connects until the first query."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_ms)
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, hide_parameters=True
    )


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves.
        isolation_level=None,
        # Errors (and so logs) never carry the values: phone numbers, message bodies.
        hide_parameters=True,
    )

    _busy_timeouts[engine] = busy_timeout_ms / 1000

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the writer; FULL makes a confirmed report survive
        # a power cut, which is an ordinary event in El Alto.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # A unit of work takes the write lock up front: a deferred transaction that later
        # writes fails with "database is locked" instead of waiting its turn. Reads stay
        # deferred so that they never queue behind writers (WAL gives them a snapshot).
        writes = connection.get_execution_options().get(WRITES, False)
        # On the driver's connection: SQLAlchemy's execution costs more than the BEGIN itself.
        try:
            connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
        except connection.dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance("BEGIN", None, error, connection.dialect.loaded_dbapi.Error,
                                          hide_parameters=True, dialect=connection.dialect) from error

    return engine


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with _writer_turn(engine), Session(_writer(engine), expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction that commits on success and rolls back on any
    error: for statements without the ORM; `Session(bind=connection)` joins it."""
    # The pool's checkout happens before the writer's turn: the turn is for the transaction only.
    with _writer(engine).connect() as connection, _writer_turn(engine), connection.begin():
        yield connection


def together(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work` in a write transaction, returning its result once committed.

    On a SQLite file, the threads of this process that write at the same moment share one
    transaction (group commit): one turn at the write lock and one fsync for all of them,
    each work run after the other exactly as if alone. When one of them fails, the shared
    transaction is rolled back and each runs again alone, so a failure is only its own.
    """
    if getattr(_inside, "work", False):
        # The thread would wait for itself (and hold the write lock meanwhile): a bug, said at once.
        raise RuntimeError("together() called from inside a write it runs")
    if _queue(engine) is None:
        with write_transaction(engine) as connection:
            return _run(work, connection)
    with _groups_lock:
        group = _groups.get(engine) or _groups.setdefault(engine, _Group())
    return group.run(engine, work)


_inside = threading.local()


def _run(work: Callable[[Connection], T], connection: Connection) -> T:
    _inside.work = True
    try:
        return work(connection)
    finally:
        _inside.work = False


class _Job:
    def __init__(self, work: Callable[[Connection], object]):
        self.work = work
        self.finished = False
        self.result: object = None
        self.error: BaseException | None = None

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class _Group:
    """The writes waiting in one process; whichever thread finds nobody leading runs them."""

    def __init__(self) -> None:
        self.ready = threading.Condition()
        self.pending: list[_Job] = []
        self.leading = False

    def run(self, engine: Engine, work: Callable[[Connection], T]) -> T:
        job = _Job(work)
        with self.ready:
            self.pending.append(job)
            while self.leading and not job.finished:
                self.ready.wait()
            if job.finished:
                return job.outcome()
            self.leading = True
            batch, self.pending = self.pending, []
        try:
            _run_batch(engine, batch)
        finally:
            for waiting in batch:
                if not waiting.finished:  # the leader was interrupted: nobody is left waiting forever,
                    # and the others hear it as the database failing (the webhook spools them)
                    interrupted = RuntimeError("write interrupted")
                    waiting.error = exc.OperationalError("group commit", None, interrupted)
                    waiting.finished = True
            with self.ready:
                self.leading = False
                self.ready.notify_all()
        return job.outcome()


def _run_batch(engine: Engine, batch: list[_Job]) -> None:
    if len(batch) > 1:
        failed = False
        try:
            with write_transaction(engine) as connection:
                results = []
                for job in batch:
                    try:
                        results.append(_run(job.work, connection))
                    except Exception:
                        failed = True  # one message's failure, whatever its class: each runs alone below
                        raise
        except DATABASE_DOWN as error:
            if not failed:  # opening or committing the transaction: each would fail the same way again
                for job in batch:
                    job.error, job.finished = error, True
                return
        except Exception:
            pass
        else:
            for job, result in zip(batch, results, strict=True):
                job.result, job.finished = result, True
            return
    for job in batch:
        try:
            with write_transaction(engine) as connection:
                result = _run(job.work, connection)
            job.result = result
        except Exception as error:
            job.error = error
        job.finished = True


_groups: weakref.WeakKeyDictionary[Engine, _Group] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _writer(engine: Engine) -> Engine:
    """The engine whose transactions take SQLite's write lock at BEGIN (made once per engine)."""
    writer = engine.__dict__.get("_puntada_writer")
    if writer is None:  # kept on the engine itself: it lives and goes with it
        writer = engine.__dict__.setdefault("_puntada_writer", engine.execution_options(**{WRITES: True}))
    return writer


class _WriterQueue:
    """SQLite's writers of one database file wait their turn in line, across threads and processes.

    SQLite has one writer at a time, and a writer that finds the lock taken polls for it,
    sleeping up to 100 ms between looks: under load some wait for seconds while others
    pass. Here they queue on a thread lock and on an flock of `<database>.writers`, which
    wakes the next one the moment the current one commits. Durability is untouched: the
    transaction is still BEGIN IMMEDIATE … COMMIT with synchronous=FULL. A writer outside
    the queue (another program) is waited for by SQLite's busy timeout, as before.
    """

    def __init__(self, path: str):
        self.path = f"{path}.writers"
        self.lock = threading.RLock()
        self.depth = 0
        self.held = False
        self.fd: int | None = None
        self.pid = 0

    @contextmanager
    def turn(self, timeout: float) -> Iterator[None]:
        # Past the busy timeout a writer goes ahead and SQLite decides, as without the queue.
        if not self.lock.acquire(timeout=timeout):
            yield
            return
        try:
            self.depth += 1
            if self.depth == 1:
                self.held = self._take()
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0 and self.held:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
                    self.held = False
        finally:
            self.lock.release()

    def _take(self) -> bool:
        if self.pid != os.getpid():  # a forked child opens its own: flocks belong to open files
            self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        # Blocking: the kernel wakes the next writer the moment this one lets go (a poll with
        # sleeps left the lock idle between looks, and let the holder's next write jump the
        # line). A holder that hangs holds it until it dies: gunicorn kills a worker stuck for
        # 30 s, and a dead process's flock is released.
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return True


_queues: dict[str, _WriterQueue] = {}
_queues_lock = threading.Lock()
_busy_timeouts: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def _queue(engine: Engine) -> _WriterQueue | None:
    """The writers' queue of a SQLite file (None for PostgreSQL and in-memory databases)."""
    try:
        return _engine_queues[engine]
    except KeyError:
        pass
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    queue = None
    if database and database != ":memory:" and not database.startswith("file:"):
        path = os.path.abspath(database)
        with _queues_lock:
            queue = _queues.get(path) or _queues.setdefault(path, _WriterQueue(path))
    _engine_queues[engine] = queue
    return queue


_engine_queues: weakref.WeakKeyDictionary[Engine, _WriterQueue | None] = weakref.WeakKeyDictionary()


def _writer_turn(engine: Engine):
    queue = _queue(engine)
    if queue is None:
        return nullcontext()
    return queue.turn(_busy_timeouts.get(engine, SQLITE_BUSY_TIMEOUT_MS / 1000))
