"""Durable writes for the token endpoint, with group commit on SQLite.

A unit of work is a plain function over a ``Tx``. It must be all-or-nothing and may return a value
or raise.

- SQLite: one writer thread takes every unit waiting in its queue and runs them in a single
  ``BEGIN IMMEDIATE … COMMIT``, each inside its own savepoint, so a unit that raises is rolled back
  alone. The commit (``synchronous=FULL``: the WAL is fsynced) is paid once per batch rather than
  once per request. No answer leaves before its commit: the writes are exactly as durable as one
  transaction per request, and throughput grows with load instead of queueing on fsync.
- PostgreSQL: each unit is its own transaction on a pooled connection in a worker thread; the
  server already commits concurrent transactions together.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Engine

from hospes.store.sql import Tx

T = TypeVar("T")
Unit = Callable[[Tx], Any]
MAX_BATCH = 64


class Writer:
    def __init__(self, engine: Engine, gate: Callable[[], AbstractContextManager[None]]) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._gate = gate
        self._queue: queue.SimpleQueue[tuple[Unit, asyncio.Future[Any], asyncio.AbstractEventLoop] | None] = (
            queue.SimpleQueue())
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def run(self, unit: Callable[[Tx], T]) -> T:
        """Run ``unit`` in a committed transaction; its return value once the commit is durable."""
        if not self.sqlite:
            return await asyncio.to_thread(self._one_transaction, unit)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_thread()
        self._queue.put((unit, future, loop))
        return await future

    def run_sync(self, unit: Callable[[Tx], T]) -> T:
        """The same, from a thread that is not an event loop (the CLI, tests)."""
        return self._one_transaction(unit)

    # -- PostgreSQL, and synchronous callers ---------------------------------------------------------
    def _one_transaction(self, unit: Callable[[Tx], T]) -> T:
        with self._gate():
            raw = self.engine.raw_connection()
            try:
                if self.sqlite:
                    raw.cursor().execute("BEGIN IMMEDIATE")
                try:
                    result = unit(Tx(raw, sqlite=self.sqlite))
                except BaseException:
                    raw.rollback()
                    raise
                raw.commit() if not self.sqlite else raw.cursor().execute("COMMIT")
                return result
            finally:
                raw.close()

    # -- SQLite: the writer thread --------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, name="hospes-writer", daemon=True)
                    self._thread.start()

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
            with self._gate():
                raw = self.engine.raw_connection()
                try:
                    cur = raw.cursor()
                    cur.execute("BEGIN IMMEDIATE")
                    try:
                        tx = Tx(raw, sqlite=True)
                        for unit, _future, _loop in batch:
                            cur.execute("SAVEPOINT unit")
                            try:
                                outcomes.append((unit(tx), None))
                            except Exception as exc:  # this unit alone is undone
                                cur.execute("ROLLBACK TO unit")
                                outcomes.append((None, exc))
                            cur.execute("RELEASE unit")
                        cur.execute("COMMIT")
                    except BaseException:
                        raw.rollback()
                        raise
                finally:
                    raw.close()
        except Exception as exc:  # nothing was committed: every unit of the batch fails
            outcomes = [(None, exc)] * len(batch)
        for (_unit, future, loop), (result, error) in zip(batch, outcomes, strict=True):
            yield future, loop, result, error

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
