"""The database engine and sessions; SQLite (WAL) embedded, PostgreSQL in production."""

from __future__ import annotations

import fcntl
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from hospes.config import DEFAULT_DB_TIMEOUT
from hospes.store.pg import AsyncpgPool, dsn_of
from hospes.store.unavailable import DatabaseUnavailable
from hospes.store.writer import Writer


def make_engine(url: str, timeout: float = DEFAULT_DB_TIMEOUT) -> Engine:
    """The engine, every wait bounded by ``timeout`` seconds (Settings.db_timeout): a pooled connection
    (pool_timeout), connecting, each statement; SQLite's wait for another process's write lock."""
    kwargs: dict[str, Any] = {"pool_timeout": timeout}
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": timeout}
        if not path or path == ":memory:":
            del kwargs["pool_timeout"]  # one shared connection (StaticPool): no pool to wait for
    else:
        # libpq's connect_timeout is whole seconds, at least 2; the server ends a longer statement itself
        # (statement_timeout), and TimedConnection stops waiting for an answer that does not come.
        ms = int(timeout * 1000)  # and a transaction idle that long is rolled back (store/pg.py says why)
        kwargs["connect_args"] = {"connect_timeout": max(2, math.ceil(timeout)),
                                  "options": f"-c statement_timeout={ms} -c idle_in_transaction_session_timeout={ms}"}
        # No pre-ping: over a hung network the ping, then the reconnect, would each wait out the deadline. A
        # connection found broken fails its request (503) and SQLAlchemy then replaces every pooled connection.
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", lambda conn, record: _sqlite_pragmas(conn, timeout))
        event.listen(engine, "begin", _sqlite_begin_immediate)
    else:
        event.listen(engine, "do_connect", _timed_connection(timeout))
    return engine


def _timed_connection(timeout: float) -> Callable[..., Any]:
    """psycopg connections that wait for each answer at most ``timeout`` seconds (psycopg 3's wait timeout),
    then close: a thread never waits forever on a hung network or server (statement_timeout needs the server
    to answer). The error is psycopg's OperationalError on a closed connection, so SQLAlchemy drops the
    connection (and the pool's older ones) as after a disconnect."""
    import psycopg

    class DatabaseTimeout(psycopg.OperationalError):
        pass

    class TimedConnection(psycopg.Connection):  # type: ignore[type-arg]
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            try:
                return super().wait(gen, interval, timeout if timeout is not None else limit)
            except psycopg.errors._WaitTimeout:
                self.pgconn.finish()  # mid-statement: unusable, and the server rolls back what it held
                raise DatabaseTimeout("the database did not answer in time") from None

    limit = timeout

    def connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        return TimedConnection.connect(*cargs, **cparams)

    return connect


def _sqlite_pragmas(dbapi_conn: Any, timeout: float) -> None:
    # Let SQLAlchemy manage transactions (pysqlite's own handling is wrong for BEGIN IMMEDIATE).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL is kept in the file: set once. Setting it again needs a lock another connection may hold.
    if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL is durable against process crashes; FULL also against power loss. Codes and
    # refresh tokens must survive a crash of the process, so NORMAL is the floor; FULL is the default.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Another process's write lock (a backup, the sqlite3 shell) is waited on no longer than the deadline.
    cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    cur.close()


# When this thread's write transaction must have begun (Database.transaction): its wait for the writer gate
# and for SQLite's lock share one deadline.
_deadline = threading.local()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock up front, so two writers never deadlock on a lock upgrade.
    # Read-only work (Database.read) begins deferred: under WAL it never waits for a writer, so it
    # may run while this thread already holds the write lock in another transaction.
    if conn.get_execution_options().get("hospes_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        at = getattr(_deadline, "at", None)
        if at is not None:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={max(1, int((at - time.monotonic()) * 1000))}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class WriterGate:
    """SQLite has one writer at a time. Left to its busy handler, waiting writers sleep in growing
    steps (up to 100 ms each), and a thread pool larger than the connection pool can leave the
    lock holder waiting for a connection. Writers queue here instead, before taking a connection:
    a lock within the process, and an flock on a file beside the database across worker processes.
    Either wakes the next writer the moment the current one commits.

    The wait within the process is bounded by the caller's deadline. The flock is not (flock(2) has no
    timeout), but every holder bounds its own hold: its wait for SQLite's lock by the busy timeout, and its
    units by their deadlines, which it checks again once it holds the lock."""

    def __init__(self, lock_path: str | None) -> None:
        self._lock = threading.RLock()
        self._depth = threading.local()
        self._path = lock_path
        self._fd: int | None = None

    @contextmanager
    def __call__(self, timeout: float | None = None) -> Iterator[None]:
        if not self._lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise DatabaseUnavailable("the database's writer was busy for too long")
        try:
            depth = getattr(self._depth, "n", 0)
            self._depth.n = depth + 1
            try:
                if depth == 0 and self._path is not None:
                    if self._fd is None:
                        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    fcntl.flock(self._fd, fcntl.LOCK_EX)
                    try:
                        yield
                    finally:
                        fcntl.flock(self._fd, fcntl.LOCK_UN)
                else:
                    yield
            finally:
                self._depth.n = depth
        finally:
            self._lock.release()


@contextmanager
def _no_gate(timeout: float | None = None) -> Iterator[None]:
    yield


class Database:
    """Owns the engine; hands out short transactions."""

    def __init__(self, url: str, timeout: float = DEFAULT_DB_TIMEOUT) -> None:
        self.url = url
        #: How long a request may wait for the database (Settings.db_timeout).
        self.timeout = timeout
        self.engine = make_engine(url, timeout)
        self._gate: Callable[[float | None], AbstractContextManager[None]] = _no_gate
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            memory = not path or path == ":memory:" or path.startswith("file:")
            self._gate = WriterGate(None if memory else f"{path}.writer-lock")
        # On PostgreSQL, the asyncpg connections of the event-loop paths (store/pg.py), shared by the hot
        # reads (store/lookups.py) and the token endpoint's writes.
        self.pg = AsyncpgPool(dsn_of(self.engine), timeout) if self.engine.dialect.name != "sqlite" else None
        # The token endpoint's writes (group commit on SQLite); see store/writer.py.
        self.writer = Writer(self.engine, self._gate, self.pg, timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine.execution_options(hospes_read_only=True),
                                           expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        outer = getattr(_deadline, "at", None)
        _deadline.at = time.monotonic() + self.timeout
        try:
            with self._gate(self.timeout), self._sessions() as session, session.begin():
                yield session
        finally:
            _deadline.at = outer

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction that takes no write lock (SQLite), so it is safe to open from
        inside a transaction() on the same thread, e.g. the signing-key reload during a token request."""
        with self._read_sessions() as session, session.begin():
            yield session

    async def aclose(self) -> None:
        """Close what belongs to the running event loop (the asyncpg connections)."""
        if self.pg is not None:
            await self.pg.close()

    def dispose(self) -> None:
        self.writer.close()
        self.engine.dispose()
