"""asyncpg connections for the paths that run on the event loop (store/lookups.py, store/writer.py).

asyncpg rather than psycopg here: the same statement costs far less Python time per call, and these
statements are most of a userinfo, introspection or token request. A few connections per event loop,
opened when first needed; a connection goes back to the idle list without a reset round trip, since
these paths leave no session state behind (a transaction is always ended by ``transaction``).

Every wait is bounded by the database deadline (Settings.db_timeout): connecting, a free slot when all are
taken, each statement (the server's statement_timeout; and a watch that closes the connection of a read still
waiting past the deadline, as a held network would leave it), and a transaction as a whole. A connection that
timed out or broke is closed, never reused: the server rolls back what it held.

Why a watch and not asyncpg's ``command_timeout``: that arms and cancels a timer around every statement, which
cost about 23,000 instructions per statement (callgrind), 6% of a whole userinfo call. The watch looks at the
reads in flight a few times a second, whatever their number; a read costs two dictionary updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from hospes.store.unavailable import DatabaseUnavailable

T = TypeVar("T")


def dsn_of(engine: Engine) -> str:
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class AsyncpgPool:
    # Shared by the hot reads and the token endpoint's transactions: enough for both under load.
    SIZE = 12

    def __init__(self, dsn: str, timeout: float) -> None:
        self.dsn = dsn
        self.timeout = timeout
        # The server ends a statement that runs too long (a lock wait) itself, so the connection stays usable; and
        # a transaction left waiting for its next statement (its client gone, a COMMIT held up by the network)
        # is rolled back, so a COMMIT that arrives after the request's deadline finds nothing to commit.
        ms = str(int(timeout * 1000))
        self._server_settings = {"statement_timeout": ms, "idle_in_transaction_session_timeout": ms}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[Any] = []
        self._slots: asyncio.Semaphore | None = None
        # Connections reading on this loop, with when they began (loop time); those the watch closed.
        self._reading: dict[Any, float] = {}
        self._overdue: set[Any] = set()
        self._watch_every = min(0.5, max(0.05, timeout / 4))

    def _bind(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            # A new event loop (a test harness may start several): the old connections belong to the old one.
            self._loop, self._idle, self._slots = loop, [], asyncio.Semaphore(self.SIZE)
            self._reading, self._overdue = {}, set()
            loop.call_later(self._watch_every, self._watch, loop)
        return self._slots

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """A read past the deadline has its connection closed, so that it fails now (``_overdue`` says why)
        instead of waiting for a network that does not answer. Runs while this pool serves ``loop``."""
        if self._loop is not loop or loop.is_closed():
            return
        limit = loop.time() - self.timeout
        for conn, began in list(self._reading.items()):
            if began < limit:
                del self._reading[conn]
                self._overdue.add(conn)
                conn.terminate()
        loop.call_later(self._watch_every, self._watch, loop)

    def _late(self, conn: Any) -> bool:
        """Whether the watch closed this connection for being past the deadline (and forget it)."""
        if conn in self._overdue:
            self._overdue.discard(conn)
            return True
        return False

    async def _take(self) -> Any:
        """A connection, holding one of the slots (give it back with ``_give``)."""
        import asyncpg

        slots = self._bind()
        if slots.locked():  # every connection is busy: wait for one, but not beyond the deadline
            try:
                async with asyncio.timeout(self.timeout):
                    await slots.acquire()
            except TimeoutError:
                raise DatabaseUnavailable("no database connection was free in time") from None
        else:
            await slots.acquire()
        try:
            if self._idle:
                return self._idle.pop()
            return await asyncpg.connect(self.dsn, timeout=self.timeout, server_settings=self._server_settings)
        except BaseException:
            slots.release()
            raise

    def _give(self, conn: Any, exc: BaseException | None) -> None:
        """Back to the idle list, unless it failed or was left inside a transaction; frees the slot."""
        import asyncpg

        # OSError includes TimeoutError; CancelledError, a transaction cut short by its deadline: the connection
        # may be mid-statement, so it is closed.
        broken = isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError, OSError,
                                  asyncio.CancelledError))
        if broken or conn.is_in_transaction() or conn.is_closed():
            conn.terminate()
        else:
            self._idle.append(conn)
        assert self._slots is not None
        self._slots.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection for a few reads, watched: past the deadline it is closed and DatabaseUnavailable raised."""
        conn = await self._take()
        reading = self._reading
        reading[conn] = self._loop.time()  # type: ignore[union-attr]  # bound by _take
        try:
            yield conn
        except BaseException as exc:
            reading.pop(conn, None)
            self._give(conn, exc)
            if self._late(conn):
                raise DatabaseUnavailable("the database did not answer in time") from None
            raise
        if reading.pop(conn, None) is None:
            self._overdue.discard(conn)
        self._give(conn, None)

    async def transaction(self, unit: Callable[[Any], Coroutine[Any, Any, T]], timeout: float | None = None) -> T:
        """``unit(conn)`` in one transaction, committed, all within ``timeout`` (default: the deadline). Past it,
        nothing is committed: the statement in flight is abandoned and the connection closed (the server rolls
        back), never waited on for a ROLLBACK that a hung network would not answer."""
        try:
            return await self._transaction(unit, timeout or self.timeout)
        except TimeoutError:
            raise DatabaseUnavailable("the database did not answer in time; nothing was committed") from None

    async def _transaction(self, unit: Callable[[Any], Coroutine[Any, Any, T]], timeout: float) -> T:
        import asyncpg

        async with asyncio.timeout(timeout):
            conn = await self._take()
            try:
                await conn.execute("BEGIN")
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError) as exc:
                # An idle connection the server closed (a restart): nothing was sent, so once more on a fresh one.
                self._give(conn, exc)
                conn = await self._take()
                try:
                    await conn.execute("BEGIN")
                except BaseException as again:
                    self._give(conn, again)
                    raise
            except BaseException as exc:
                self._give(conn, exc)
                raise
            try:
                result = await unit(conn)
                await conn.execute("COMMIT")
            except BaseException as exc:
                if conn.is_in_transaction() and not isinstance(exc, (OSError, asyncio.CancelledError)):
                    try:  # the unit refused (an OAuth error): undo, keep the connection
                        await conn.execute("ROLLBACK")
                    except BaseException as rollback:
                        self._give(conn, rollback)
                        raise exc from None
                self._give(conn, exc)
                raise
            self._give(conn, None)
            return result

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """One read. With a free slot and an idle connection (the common case) the statement alone is bounded
        (the watch); when it must wait for a slot or open a connection, the whole read is, by the same deadline.
        Retried once on a fresh connection when the server closed the idle one. (No context manager on the
        common path: this is most of a userinfo or introspection call on PostgreSQL.)"""
        import asyncpg

        slots = self._bind()
        if slots.locked() or not self._idle:
            return await self._fetch_within_deadline(sql, params)
        conn = await self._take()
        reading = self._reading
        reading[conn] = self._loop.time()  # type: ignore[union-attr]  # bound above
        try:
            rows = await conn.fetch(sql, *params)
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError, OSError) as exc:
            reading.pop(conn, None)
            self._give(conn, exc)
            if self._late(conn) or isinstance(exc, TimeoutError):  # not retried: the deadline is spent
                raise DatabaseUnavailable("the database did not answer in time") from None
            return await self._fetch_within_deadline(sql, params)
        except BaseException as exc:
            reading.pop(conn, None)
            self._give(conn, exc)
            raise
        if reading.pop(conn, None) is None:  # answered just as the watch closed it
            self._overdue.discard(conn)
        self._give(conn, None)
        return [tuple(r) for r in rows]

    async def _fetch_within_deadline(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            async with asyncio.timeout(self.timeout), self.connection() as conn:
                return [tuple(r) for r in await conn.fetch(sql, *params)]
        except TimeoutError:
            raise DatabaseUnavailable("the database did not answer in time") from None

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        if self._loop is not asyncio.get_running_loop():
            return  # they belong to another event loop (a test harness may run several): not ours to close
        for conn in idle:
            await conn.close()
