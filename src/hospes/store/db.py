"""The database engine and sessions; SQLite (WAL) embedded, PostgreSQL in production."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from hospes.store.pg import AsyncpgPool, dsn_of
from hospes.store.writer import Writer


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy manage transactions (pysqlite's own handling is wrong for BEGIN IMMEDIATE).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL is durable against process crashes; FULL also against power loss. Codes and
    # refresh tokens must survive a crash of the process, so NORMAL is the floor; FULL is the default.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock up front, so two writers never deadlock on a lock upgrade.
    # Read-only work (Database.read) begins deferred: under WAL it never waits for a writer, so it
    # may run while this thread already holds the write lock in another transaction.
    if conn.get_execution_options().get("hospes_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class WriterGate:
    """SQLite has one writer at a time. Left to its busy handler, waiting writers sleep in growing
    steps (up to 100 ms each), and a thread pool larger than the connection pool can leave the
    lock holder waiting for a connection. Writers queue here instead, before taking a connection:
    a lock within the process, and an flock on a file beside the database across worker processes.
    Either wakes the next writer the moment the current one commits."""

    def __init__(self, lock_path: str | None) -> None:
        self._lock = threading.RLock()
        self._depth = threading.local()
        self._path = lock_path
        self._fd: int | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
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


@contextmanager
def _no_gate() -> Iterator[None]:
    yield


class Database:
    """Owns the engine; hands out short transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._gate: Callable[[], AbstractContextManager[None]] = _no_gate
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            memory = not path or path == ":memory:" or path.startswith("file:")
            self._gate = WriterGate(None if memory else f"{path}.writer-lock")
        # On PostgreSQL, the asyncpg connections of the event-loop paths (store/pg.py), shared by the hot
        # reads (store/lookups.py) and the token endpoint's writes.
        self.pg = AsyncpgPool(dsn_of(self.engine)) if self.engine.dialect.name != "sqlite" else None
        # The token endpoint's writes (group commit on SQLite); see store/writer.py.
        self.writer = Writer(self.engine, self._gate, self.pg)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine.execution_options(hospes_read_only=True),
                                           expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        with self._gate(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction that takes no write lock (SQLite), so it is safe to open from
        inside a transaction() on the same thread, e.g. the signing-key reload during a token request."""
        with self._read_sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    async def aclose(self) -> None:
        """Close what belongs to the running event loop (the asyncpg connections)."""
        if self.pg is not None:
            await self.pg.close()

    def dispose(self) -> None:
        self.writer.close()
        self.engine.dispose()
