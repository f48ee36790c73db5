"""Durable writes for the token and revocation endpoints, with group commit.

A unit of work is an ``async`` function over a ``Tx`` (store/sql.py). It must be all-or-nothing and
may return a value or raise.

- SQLite: one writer thread per process takes every unit waiting in its queue and runs them in a
  single ``BEGIN IMMEDIATE … COMMIT``, each inside its own savepoint, so a unit that raises is rolled
  back alone. The commit (``synchronous=FULL`` fsyncs the WAL) is paid once per batch rather than
  once per request. No answer leaves before its commit: the writes are exactly as durable as one
  transaction per request, and throughput grows with load instead of queueing on fsync. If a batch
  cannot commit as a whole, each of its units is run again in a transaction of its own, so one bad
  neighbour never fails the others.
- PostgreSQL: each unit is its own transaction on an asyncpg connection, on the event loop; the
  server commits concurrent transactions together (its own group commit).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Engine

from hospes.store.pg import AsyncpgPool
from hospes.store.sql import AsyncpgTx, DbapiTx, Tx, drive

T = TypeVar("T")
Unit = Callable[[Tx], Coroutine[Any, Any, Any]]
MAX_BATCH = 64


class Writer:
    def __init__(self, engine: Engine, gate: Callable[[], AbstractContextManager[None]],
                 pg: AsyncpgPool | None) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._gate = gate
        self._queue: queue.SimpleQueue[tuple[Unit, asyncio.Future[Any], asyncio.AbstractEventLoop] | None] = (
            queue.SimpleQueue())
        self._workers: list[threading.Thread] = []
        self._pg = pg
        self._start_lock = threading.Lock()

    async def run(self, unit: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        """Run ``unit`` in a committed transaction; its return value once the commit is durable."""
        if self._pg is not None:
            async with self._pg.connection() as conn, conn.transaction():
                return await unit(AsyncpgTx(conn))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_thread()
        self._queue.put((unit, future, loop))
        return await future

    def run_sync(self, unit: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        """The same, from a thread that is not an event loop (the CLI, tests)."""
        return self._one_transaction(unit)

    # -- one unit, one transaction ---------------------------------------------------------------------
    def _one_transaction(self, unit: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        with self._gate():
            raw = self.engine.raw_connection()
            try:
                if self.sqlite:
                    raw.cursor().execute("BEGIN IMMEDIATE")
                try:
                    result = drive(unit(DbapiTx(raw, sqlite=self.sqlite)))
                except BaseException:
                    raw.rollback()
                    raise
                raw.commit() if not self.sqlite else raw.cursor().execute("COMMIT")
                return result
            finally:
                raw.close()

    # -- the writer thread ----------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if not self._workers:
            with self._start_lock:
                if not self._workers:
                    t = threading.Thread(target=self._serve, name="hospes-writer", daemon=True)
                    t.start()
                    self._workers.append(t)

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            for future, loop, result, error in self._commit(batch):
                loop.call_soon_threadsafe(_settle, future, result, error)
            if stop:
                return

    def _commit(self, batch: list[Any]) -> Iterator[tuple[asyncio.Future[Any], asyncio.AbstractEventLoop, Any,
                                                            BaseException | None]]:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            outcomes = self._batch([unit for unit, _future, _loop in batch])
        except Exception as exc:
            if len(batch) == 1:
                outcomes = [(None, exc)]
            else:
                # Nothing was committed. Run each unit alone, so only the one at fault fails.
                outcomes = []
                for unit, _future, _loop in batch:
                    try:
                        outcomes.append((self._one_transaction(unit), None))
                    except Exception as alone:
                        outcomes.append((None, alone))
        for (_unit, future, loop), (result, error) in zip(batch, outcomes, strict=True):
            yield future, loop, result, error

    def _batch(self, units: list[Unit]) -> list[tuple[Any, BaseException | None]]:
        """One transaction for all of ``units``, a savepoint each (none needed for a batch of one)."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        with self._gate():
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                if self.sqlite:
                    cur.execute("BEGIN IMMEDIATE")
                try:
                    tx = DbapiTx(raw, sqlite=self.sqlite)
                    if len(units) == 1:
                        outcomes.append((drive(units[0](tx)), None))
                    else:
                        for unit in units:
                            cur.execute("SAVEPOINT unit")
                            try:
                                outcomes.append((drive(unit(tx)), None))
                            except Exception as exc:  # this unit alone is undone
                                cur.execute("ROLLBACK TO SAVEPOINT unit")
                                outcomes.append((None, exc))
                            cur.execute("RELEASE SAVEPOINT unit")
                    if self.sqlite:
                        cur.execute("COMMIT")
                    else:
                        raw.commit()
                except BaseException:
                    raw.rollback()
                    raise
            finally:
                raw.close()
        return outcomes

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for _ in workers:
            self._queue.put(None)
        for t in workers:
            t.join(timeout=10)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
