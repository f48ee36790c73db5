"""asyncpg connections for the paths that run on the event loop (store/lookups.py, store/writer.py).

asyncpg rather than psycopg here: the same statement costs far less Python time per call, and these
statements are most of a userinfo, introspection or token request. A few connections per event loop,
opened when first needed; a connection goes back to the idle list without a reset round trip, since
these paths leave no session state behind (a transaction is always ended by ``conn.transaction()``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url


def dsn_of(engine: Engine) -> str:
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class AsyncpgPool:
    # Shared by the hot reads and the token endpoint's transactions: enough for both under load.
    SIZE = 12

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[Any] = []
        self._slots: asyncio.Semaphore | None = None

    def _bind(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            # A new event loop (a test harness may start several): the old connections belong to the old one.
            self._loop, self._idle, self._slots = loop, [], asyncio.Semaphore(self.SIZE)
        return self._slots

    async def _take(self) -> Any:
        """A connection, holding one of the slots (give it back with ``_give``)."""
        import asyncpg

        slots = self._bind()
        await slots.acquire()
        try:
            return self._idle.pop() if self._idle else await asyncpg.connect(self.dsn)
        except BaseException:
            slots.release()
            raise

    def _give(self, conn: Any, exc: BaseException | None) -> None:
        """Back to the idle list, unless it failed or was left inside a transaction; frees the slot."""
        import asyncpg

        broken = isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError, OSError))
        if broken or conn.is_in_transaction() or conn.is_closed():
            conn.terminate()
        else:
            self._idle.append(conn)
        assert self._slots is not None
        self._slots.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        conn = await self._take()
        try:
            yield conn
        except BaseException as exc:
            self._give(conn, exc)
            raise
        self._give(conn, None)

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """One read; retried once on a fresh connection when the server closed the idle one. (No context
        manager here: this is most of a userinfo or introspection call on PostgreSQL.)"""
        import asyncpg

        for attempt in (0, 1):
            conn = await self._take()
            try:
                rows = await conn.fetch(sql, *params)
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError, OSError) as exc:
                self._give(conn, exc)
                if attempt:
                    raise
                continue
            except BaseException as exc:
                self._give(conn, exc)
                raise
            self._give(conn, None)
            return [tuple(r) for r in rows]
        raise RuntimeError("unreachable")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        if self._loop is not asyncio.get_running_loop():
            return  # they belong to another event loop (a test harness may run several): not ours to close
        for conn in idle:
            await conn.close()
