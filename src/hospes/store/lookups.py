"""The hot reads: the token lookups behind userinfo and introspection, one indexed query each.

Relying parties call these two endpoints on every API request they serve, so they skip the ORM and
the thread pool:

- SQLite: a pooled connection in autocommit, queried on the event loop. An indexed read takes
  microseconds, and under WAL a reader never waits for a writer.
- PostgreSQL: a few asyncpg connections (store/pg.py) in autocommit; the round trip overlaps
  with other requests instead of blocking the loop.

Nothing is cached: each query is its own transaction and sees the latest commit, so a revoked
token or grant, a disabled user or a reset client secret takes effect on the very next request,
on every worker.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from hospes.store.pg import AsyncpgPool
from hospes.store.sql import PERSON_COLUMNS, Person, epoch_of, numbered, qmark, sqlite_text

# One query per lookup, all constant text. Written with %s; SQLite's "?" is substituted below.
USERINFO_SQL = (
    f"SELECT t.scope, {PERSON_COLUMNS} "  # noqa: S608 (constant text)
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
    person: Person


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


class Lookups:
    """The hot reads, over the same database the rest of Hospes uses."""

    def __init__(self, engine: Engine, pg: AsyncpgPool | None) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._pg = pg
        self._local = threading.local()
        # Each statement in this database's placeholder style, once.
        style = numbered if pg is not None else qmark
        self._userinfo_sql, self._introspection_sql = style(USERINFO_SQL), style(INTROSPECTION_SQL)

    def _param_now(self, now: datetime) -> Any:
        # SQLite compares the stored text; PostgreSQL, timestamptz.
        return sqlite_text(now) if self.sqlite else now

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Rows of ``sql``, already in this database's placeholder style."""
        if self._pg is not None:
            return await self._pg.fetchall(sql, params)
        conn = self._sqlite_connection()
        if conn is None:  # an in-memory database lives in the engine's one connection
            raw = self.engine.raw_connection()
            try:
                return list(raw.cursor().execute(sql, params).fetchall())  # type: ignore[union-attr]
            finally:
                raw.close()
        return conn.execute(sql, params).fetchall()

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
        rows = await self._rows(self._userinfo_sql, (token_hash, self._param_now(now)))
        if not rows:
            return None
        return UserinfoRow(rows[0][0].split(), Person.of(rows[0][1:]))

    async def introspection(self, identifier: str, token_hash: bytes, now: datetime) -> IntrospectionRow | None:
        t = self._param_now(now)
        rows = await self._rows(self._introspection_sql, (token_hash, t, token_hash, t, identifier))
        if not rows:
            return None
        cid, ident, secret_hash, *_ = rows[0]
        tokens = tuple(IntrospectedToken(kind, scope, epoch_of(iat), epoch_of(exp), sub, email)
                       for *_, kind, scope, iat, exp, sub, email in rows if kind is not None)
        return IntrospectionRow(cid, ident, bytes(secret_hash) if secret_hash is not None else None, tokens)
