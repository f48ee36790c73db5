"""Every wait for the database has a deadline, and work whose deadline passed is not done.

Against the real databases: SQLite with its write lock taken by another connection; PostgreSQL with every
connection of the asyncpg pool taken, and a statement that runs past the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

import pytest
from sqlalchemy import text

from hospes.config import ConfigError, load_settings
from hospes.store.db import Database
from hospes.store.sql import Tx
from hospes.store.unavailable import DatabaseUnavailable, is_unavailable
from hospes.web import failures
from tests.aio import run
from tests.conftest import backend

DEADLINE = 0.5


@pytest.fixture
def quick_db(settings: Any, db: Database) -> Any:
    """The test's migrated database, opened with a short deadline."""
    database = Database(settings.sqlalchemy_url, DEADLINE)
    _version(database)  # connected once: SQLite's WAL set, as a server's first connection sets it
    yield database
    database.dispose()


async def _mark(tx: Tx) -> None:
    await tx.execute("UPDATE alembic_version SET version_num = 'touched'")


def _version(database: Database) -> str:
    with database.engine.connect() as c:
        return str(c.execute(text("SELECT version_num FROM alembic_version")).scalar())


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite's write lock")
def test_a_unit_that_cannot_get_the_write_lock_in_time_is_not_run(quick_db: Database, database_url: str) -> None:
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            run(quick_db.writer.run(_mark))
        assert time.monotonic() - start < DEADLINE + 0.5
        # The ORM's transactions too: the writer gate and SQLite's lock share one deadline.
        start = time.monotonic()
        with pytest.raises(Exception) as refused, quick_db.transaction() as s:
            s.execute(text("SELECT 1"))
        assert is_unavailable(refused.value)
        assert time.monotonic() - start < DEADLINE + 0.5
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _version(quick_db) != "touched"  # the unit never ran, so it did not run late either
    run(quick_db.writer.run(_mark))
    assert _version(quick_db) == "touched"


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite's writer thread")
def test_a_unit_past_its_deadline_in_the_queue_is_not_run(quick_db: Database, database_url: str) -> None:
    """The lock comes free after the request's deadline, but before the writer gives up on an earlier unit:
    the late unit is dropped, the other one runs."""
    # Used from the thread run() starts.
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)

    async def both() -> list[Any]:
        other.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, other.execute, "ROLLBACK")
        long = quick_db.writer.run(_mark, timeout=2.0)
        short = quick_db.writer.run(_mark, timeout=0.1)
        return await asyncio.gather(long, short, return_exceptions=True)

    try:
        long, short = run(both())
    finally:
        other.close()
    assert long is None and isinstance(short, DatabaseUnavailable)


@pytest.mark.skipif(backend() != "postgresql", reason="asyncpg")
def test_asyncpg_waits_for_a_free_connection_and_a_statement_no_longer_than_the_deadline(quick_db: Database) -> None:
    pool = quick_db.pg
    assert pool is not None

    async def scenario() -> tuple[float, float]:
        taken = [await pool._take() for _ in range(pool.SIZE)]
        start = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await pool.fetchall("SELECT 1", ())
        waited = time.monotonic() - start
        for conn in taken:
            pool._give(conn, None)
        start = time.monotonic()
        with pytest.raises(Exception) as slow:
            await pool.fetchall("SELECT pg_sleep(5)", ())
        assert is_unavailable(slow.value)
        slept = time.monotonic() - start
        assert await pool.fetchall("SELECT 1", ()) == [(1,)]  # and the pool serves again
        await pool.close()
        return waited, slept

    waited, slept = run(scenario())
    assert waited < DEADLINE + 0.5 and slept < DEADLINE + 0.5


@pytest.mark.skipif(backend() != "postgresql", reason="psycopg")
def test_a_psycopg_statement_is_bounded(quick_db: Database) -> None:
    start = time.monotonic()
    with pytest.raises(Exception) as slow, quick_db.transaction() as s:
        s.execute(text("SELECT pg_sleep(5)"))
    assert is_unavailable(slow.value)
    assert time.monotonic() - start < DEADLINE + 0.5
    with quick_db.transaction() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1


def test_programming_errors_are_not_unavailability(quick_db: Database) -> None:
    with pytest.raises(Exception) as wrong, quick_db.transaction() as s:
        s.execute(text("SELECT * FROM no_such_table"))
    assert not is_unavailable(wrong.value)
    assert not is_unavailable(ValueError("x")) and not is_unavailable(KeyError("x"))
    assert is_unavailable(sqlite3.OperationalError("database is locked"))
    assert is_unavailable(TimeoutError()) and is_unavailable(ConnectionRefusedError())


def test_the_deadline_is_a_checked_setting(settings: Any) -> None:
    assert settings.db_timeout == 3.0
    assert load_settings(db_timeout="1.5").db_timeout == 1.5
    for bad in ("0", "-1", "1000", "soon"):
        with pytest.raises(ConfigError, match="HOSPES_DB_TIMEOUT"):
            load_settings(db_timeout=bad)


def test_a_failure_logs_one_line_and_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> BaseException:
        try:
            raise DatabaseUnavailable("the database did not answer in time")
        except DatabaseUnavailable as exc:
            return exc

    with caplog.at_level(logging.ERROR, logger="hospes.web"):
        ids = [failures.report("POST", "/oauth/token.php", fail()) for _ in range(3 * failures.LINES_PER_SECOND)]
    assert len(set(ids)) == len(ids)
    records = caplog.records
    assert sum(1 for r in records if r.exc_info) == 1  # the traceback once
    assert ids[0] in records[0].getMessage() and ids[1] in records[1].getMessage()
    # At most LINES_PER_SECOND lines a second for one kind of failure; the rest are counted, not written.
    assert len(records) <= 2 * failures.LINES_PER_SECOND + 1


@pytest.mark.skipif(backend() != "postgresql", reason="asyncpg")
def test_after_a_database_restart_a_transaction_goes_out_on_a_fresh_connection(quick_db: Database) -> None:
    """An idle connection the server closed (as a restart closes them all) does not fail the next request."""
    from hospes.store.health import write_probe

    async def scenario() -> Any:
        assert quick_db.pg is not None
        await quick_db.pg.fetchall("SELECT 1", ())  # leaves an idle connection
        with quick_db.engine.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        await asyncio.sleep(0.2)
        version = await quick_db.writer.run(write_probe)
        await quick_db.pg.close()
        return version

    assert run(scenario())
