"""The hot reads: the token lookups behind userinfo and introspection, one indexed query each.

Relying parties call these two endpoints on every API request they serve, so they skip the ORM and
the thread pool:

- SQLite: a pooled connection in autocommit, queried on the event loop. An indexed read takes
  microseconds, and under WAL a reader never waits for a writer.
- PostgreSQL: a small pool of asyncio psycopg connections in autocommit; the round trip overlaps
  with other requests instead of blocking the loop.

Nothing is cached: each query is its own transaction and sees the latest commit, so a revoked
token or grant, a disabled user or a reset client secret takes effect on the very next request,
on every worker.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

# One query per lookup, all constant text. Written with %s; SQLite's "?" is substituted below.
USERINFO_SQL = (
    "SELECT t.scope, u.uuid, u.email, u.email_verified, u.first_name, u.last_name, u.locale, u.updated_at "
    "FROM access_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s "
    "AND g.revoked_at IS NULL AND NOT u.disabled"
)

# The client and, when it is this client's, the live token of either kind (RFC 7662 §2.2: another
# client's token is reported inactive). The hint only orders a search (RFC 7662 §2.1); a digest of
# 256 random bits names at most one row, so both tables are searched at once.
INTROSPECTION_SQL = (
    "SELECT c.id, c.identifier, c.secret_hash, x.kind, x.scope, x.issued_at, x.expires_at, x.uuid, x.email "
    "FROM oauth_credentials c LEFT JOIN ("
    " SELECT 'access_token' AS kind, t.credential_id, t.scope, t.issued_at, t.expires_at, u.uuid, u.email"
    " FROM access_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s"
    " AND g.revoked_at IS NULL AND NOT u.disabled"
    " UNION ALL"
    " SELECT 'refresh_token' AS kind, t.credential_id, t.scope, t.issued_at, t.expires_at, u.uuid, u.email"
    " FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s"
    " AND g.revoked_at IS NULL AND NOT u.disabled AND t.used_at IS NULL"
    ") x ON x.credential_id = c.id "
    "WHERE c.identifier = %s"
)


@dataclass(frozen=True, slots=True)
class UserinfoRow:
    scope: list[str]
    sub: str
    email: str
    email_verified: bool
    first_name: str
    last_name: str
    locale: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class IntrospectedToken:
    kind: str  # "access_token" | "refresh_token"
    scope: str
    issued_at: int  # epoch seconds
    expires_at: int
    sub: str
    username: str


@dataclass(frozen=True, slots=True)
class IntrospectionRow:
    """The authenticating client, and the token when it is live and this client's."""

    credential_id: int
    identifier: str
    secret_hash: bytes | None
    tokens: tuple[IntrospectedToken, ...]


def _sqlite_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    # SQLAlchemy stores UTC wall time as text: "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _epoch(value: Any) -> int:
    dt = _sqlite_time(value)
    assert dt is not None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())


class Lookups:
    """The hot reads, over the same database the rest of Hospes uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._pg: _AsyncPgPool | None = None
        self._local = threading.local()
        if not self.sqlite:
            url = make_url(str(engine.url.render_as_string(hide_password=False))).set(drivername="postgresql")
            self._pg = _AsyncPgPool(url.render_as_string(hide_password=False))

    def _param_now(self, now: datetime) -> Any:
        # SQLite compares the stored text ("YYYY-MM-DD HH:MM:SS.ffffff", UTC); PostgreSQL, timestamptz.
        return now.astimezone(UTC).isoformat(" ", "microseconds")[:26] if self.sqlite else now

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._pg is not None:
            return await self._pg.fetchall(sql, params)
        conn = self._sqlite_connection()
        if conn is None:  # an in-memory database lives in the engine's one connection
            raw = self.engine.raw_connection()
            try:
                return list(raw.cursor().execute(sql.replace("%s", "?"), params).fetchall())  # type: ignore[union-attr]
            finally:
                raw.close()
        return conn.execute(sql.replace("%s", "?"), params).fetchall()

    def _sqlite_connection(self) -> sqlite3.Connection | None:
        """This thread's own read connection (the event loop's, in the server): no pool checkout per query."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            path = self.engine.url.database
            if not path or path == ":memory:" or path.startswith("file:"):
                return None
            # Autocommit: every SELECT is its own read transaction and sees the latest commit.
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True, cached_statements=32)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
        return conn

    async def userinfo(self, token_hash: bytes, now: datetime) -> UserinfoRow | None:
        rows = await self._rows(USERINFO_SQL, (token_hash, self._param_now(now)))
        if not rows:
            return None
        scope, sub, email, verified, first, last, locale, updated = rows[0]
        return UserinfoRow(scope.split(), sub, email, bool(verified), first, last, locale, _sqlite_time(updated))

    async def introspection(self, identifier: str, token_hash: bytes, now: datetime) -> IntrospectionRow | None:
        t = self._param_now(now)
        rows = await self._rows(INTROSPECTION_SQL, (token_hash, t, token_hash, t, identifier))
        if not rows:
            return None
        cid, ident, secret_hash, *_ = rows[0]
        tokens = tuple(IntrospectedToken(kind, scope, _epoch(iat), _epoch(exp), sub, email)
                       for *_, kind, scope, iat, exp, sub, email in rows if kind is not None)
        return IntrospectionRow(cid, ident, bytes(secret_hash) if secret_hash is not None else None, tokens)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()


def _numbered(sql: str) -> str:
    """``%s`` placeholders as asyncpg's ``$1, $2, …``."""
    parts = sql.split("%s")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))


class _AsyncPgPool:
    """A few asyncpg connections for the running event loop, opened when first needed. asyncpg rather than
    psycopg here: the same query costs far less Python time per call, and these queries are the whole of
    a userinfo or introspection request. The statements are single reads that leave no session state,
    so a connection goes back to the idle list without a reset round trip."""

    SIZE = 8

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

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        import asyncpg

        async with self._bind():
            for attempt in (0, 1):
                conn = self._idle.pop() if self._idle else await asyncpg.connect(self.dsn)
                try:
                    rows = await conn.fetch(_numbered(sql), *params)
                except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError, OSError):
                    # A connection the server closed (restart, idle timeout): retry once on a fresh one.
                    conn.terminate()
                    if attempt:
                        raise
                    continue
                except BaseException:
                    conn.terminate()
                    raise
                self._idle.append(conn)
                return [tuple(r) for r in rows]
        raise RuntimeError("unreachable")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
