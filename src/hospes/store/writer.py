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

Deadlines: a unit is run only within the database deadline (Settings.db_timeout) of its request. On SQLite
the writer waits for the write lock no longer than the earliest deadline of its batch, and looks at each
unit's deadline again just before running it: a unit whose request is past its deadline (or was given up,
its future cancelled) is not run, so a code or refresh token is never consumed for an answer nobody reads.
On PostgreSQL the whole transaction is bounded (AsyncpgPool.transaction). Either way the request fails with
``DatabaseUnavailable`` having changed nothing.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Engine

from hospes import metrics
from hospes.store.pg import AsyncpgPool
from hospes.store.sql import AsyncpgTx, DbapiTx, Tx, drive
from hospes.store.unavailable import DatabaseUnavailable, is_unavailable

T = TypeVar("T")
Unit = Callable[[Tx], Coroutine[Any, Any, Any]]
# A queued unit: the unit, the future its request awaits, that request's event loop, its deadline
# (time.monotonic()).
Job = tuple[Unit, "asyncio.Future[Any]", asyncio.AbstractEventLoop, float]
MAX_BATCH = 64


def _late() -> DatabaseUnavailable:
    return DatabaseUnavailable("the database did not take the write in time; nothing was changed")


class Writer:
    def __init__(self, engine: Engine, gate: Callable[[float | None], AbstractContextManager[None]],
                 pg: AsyncpgPool | None, timeout: float) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._gate = gate
        self.timeout = timeout
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._pg = pg
        self._start_lock = threading.Lock()

    async def run(self, unit: Callable[[Tx], Coroutine[Any, Any, T]], timeout: float | None = None) -> T:
        """Run ``unit`` in a committed transaction; its return value once the commit is durable. Within
        ``timeout`` seconds (default: the database deadline), or not at all: ``DatabaseUnavailable``. Counted
        (hospes/metrics.py): the queue's depth while it waits, its time (wait and commit) once done."""
        if not metrics.ON:
            return await self._run(unit, timeout)
        start = time.perf_counter()
        metrics.WRITER_QUEUE.inc()
        try:
            return await self._run(unit, timeout)
        finally:
            metrics.WRITER_QUEUE.dec()
            metrics.database_done("writer_unit", start)

    async def _run(self, unit: Callable[[Tx], Coroutine[Any, Any, T]], timeout: float | None) -> T:
        if self._pg is not None:
            async def on(conn: Any) -> T:
                return await unit(AsyncpgTx(conn))
            return await self._pg.transaction(on, timeout)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_thread()
        self._queue.put((unit, future, loop, time.monotonic() + (timeout or self.timeout)))
        return await future

    def run_sync(self, unit: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        """The same, from a thread that is not an event loop (the CLI, tests)."""
        return self._one_transaction(unit)

    # -- one unit, one transaction ---------------------------------------------------------------------
    def _one_transaction(self, unit: Callable[[Tx], Coroutine[Any, Any, T]], deadline: float | None = None) -> T:
        with self._gate(self.timeout if deadline is None else deadline - time.monotonic()):
            raw = self.engine.raw_connection()
            try:
                if self.sqlite:
                    self._begin_immediate(raw.cursor(), deadline)
                try:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise _late()
                    result = drive(unit(DbapiTx(raw, sqlite=self.sqlite)))
                except BaseException:
                    raw.rollback()
                    raise
                raw.commit() if not self.sqlite else raw.cursor().execute("COMMIT")
                return result
            finally:
                self._release(raw)

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

    def _commit(self, batch: list[Job]) -> Iterator[tuple[asyncio.Future[Any], asyncio.AbstractEventLoop, Any,
                                                        BaseException | None]]:
        # A request given up (its future cancelled) or past its deadline before its turn: not run.
        now = time.monotonic()
        live: list[Job] = []
        for job in batch:
            if job[3] <= now or job[1].cancelled():
                yield job[1], job[2], None, _late()
            else:
                live.append(job)
        while live:
            try:
                outcomes = self._batch(live)
            except Exception as exc:
                if is_unavailable(exc):
                    # No lock by the earliest deadline (or no connection, no disk): nothing ran. Those past their
                    # deadline fail; the others wait on for the time they have left.
                    cutoff = max(time.monotonic(), min(job[3] for job in live))
                    for _unit, future, loop, deadline in live:
                        if deadline <= cutoff:
                            yield future, loop, None, _late()  # one exception each: raising adds to its traceback
                    live = [job for job in live if job[3] > cutoff]
                    continue
                outcomes = self._alone(live, exc)
            for (_unit, future, loop, _deadline), (result, error) in zip(live, outcomes, strict=True):
                yield future, loop, result, error
            return

    def _alone(self, live: list[Job], exc: Exception) -> list[tuple[Any, BaseException | None]]:
        """The batch failed as a whole, nothing committed: run each unit alone, so only the one at fault fails."""
        if len(live) == 1:
            return [(None, exc)]
        outcomes: list[tuple[Any, BaseException | None]] = []
        for unit, _future, _loop, deadline in live:
            try:
                outcomes.append((self._one_transaction(unit, deadline), None))
            except Exception as alone:
                outcomes.append((None, alone))
        return outcomes

    def _begin_immediate(self, cur: Any, deadline: float | None) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write lock no longer than ``deadline`` (SQLite's busy
        handler; the pooled connection's own busy timeout is put back by ``_release``)."""
        if deadline is not None:
            cur.execute(f"PRAGMA busy_timeout={max(1, int((deadline - time.monotonic()) * 1000))}")
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise _late() from exc
            raise

    def _batch(self, jobs: list[Job]) -> list[tuple[Any, BaseException | None]]:
        """One transaction for all of ``jobs``, a savepoint each (none needed for a batch of one). A unit whose
        deadline passed while the batch waited for the lock is not run."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        first = min(job[3] for job in jobs)
        with self._gate(first - time.monotonic()):
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                if self.sqlite:
                    self._begin_immediate(cur, first)
                try:
                    tx = DbapiTx(raw, sqlite=self.sqlite)
                    now = time.monotonic()
                    if len(jobs) == 1:
                        outcomes.append((drive(jobs[0][0](tx)), None) if jobs[0][3] > now else (None, _late()))
                    else:
                        for unit, _future, _loop, deadline in jobs:
                            if deadline <= now:
                                outcomes.append((None, _late()))
                                continue
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
                self._release(raw)
        return outcomes

    def _release(self, raw: Any) -> None:
        try:
            if self.sqlite:
                raw.cursor().execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        finally:
            raw.close()

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
