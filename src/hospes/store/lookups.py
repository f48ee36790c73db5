"""The hot reads: the token lookups behind userinfo and introspection, one indexed query each.

Relying parties call these two endpoints on every API request they serve, so they skip the ORM and
the thread pool:

- SQLite: a connection of the event loop's own in autocommit, queried on the loop: an indexed read is
  shorter than a hop to a thread, and under WAL a reader never waits for a writer.
- PostgreSQL: a few asyncpg connections (store/pg.py) in autocommit; the round trip overlaps
  with other requests instead of blocking the loop.

Nothing is cached: each query is its own transaction and sees the latest commit, so a revoked
token or grant, a disabled user or a reset client secret takes effect on the very next request,
on every worker.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from hospes import metrics
from hospes.config import DEFAULT_DB_TIMEOUT
from hospes.store.clients import CLIENT_WITH_TOKEN_SQL, REDIRECT_URIS_SQL, ClientRedirects, ClientWithToken
from hospes.store.grants import ACCESS_TOKEN_LIVE
from hospes.store.pg import AsyncpgPool
from hospes.store.sql import PERSON_COLUMNS, AsyncpgTx, DbapiTx, Person, Tx, numbered, qmark, sqlite_text

# One query per lookup, all constant text. Written with %s; SQLite's "?" is substituted below.
USERINFO_SQL = (
    f"SELECT t.scope, g.claims, t.credential_id, {PERSON_COLUMNS} "  # noqa: S608 (constant text)
    "FROM access_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id "
    f"WHERE t.token_hash = %s AND {ACCESS_TOKEN_LIVE}"
)


# The customer API's token lookup: the token, its grant (the accounts chosen) and client, and its person.
API_TOKEN_SQL = (
    f"SELECT t.scope, g.accounts, t.grant_id, t.credential_id, c.identifier, {PERSON_COLUMNS} "  # noqa: S608
    "FROM access_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id "
    "JOIN oauth_credentials c ON c.id = t.credential_id "
    f"WHERE t.token_hash = %s AND {ACCESS_TOKEN_LIVE}"
)
# The same for a token issued for another of Hospes's own resources (the MCP server): only one whose audience is
# that resource's identifier (RFC 8707 §2; RFC 9068 §4's aud check for opaque tokens). Built on API_TOKEN_SQL, so
# a condition on the audience belongs in api_token's own text, never in API_TOKEN_SQL.
AUDIENCE_TOKEN_SQL = API_TOKEN_SQL + " AND t.audience = %s"


@dataclass(frozen=True, slots=True)
class ApiTokenRow:
    """A live access token as the customer API reads it."""

    scope: tuple[str, ...]
    accounts: tuple[int, ...]  # the client accounts the person chose for this grant (none: none asked for)
    grant_id: int
    credential_id: int
    client_identifier: str  # the application's client_id
    person: Person


@dataclass(frozen=True, slots=True)
class UserinfoRow:
    scope: list[str]
    claims: str | None  # the grant's, asked for with the claims parameter
    credential_id: int  # the client the token was issued to
    person: Person


class Lookups:
    """The hot reads, over the same database the rest of Hospes uses."""

    def __init__(self, engine: Engine, pg: AsyncpgPool | None, timeout: float = DEFAULT_DB_TIMEOUT) -> None:
        self.engine = engine
        self._busy_ms = int(timeout * 1000)  # the database deadline (Settings.db_timeout)
        self.sqlite = engine.dialect.name == "sqlite"
        self._pg = pg
        self._local = threading.local()
        # Each statement in this database's placeholder style, once.
        style = numbered if pg is not None else qmark
        self._userinfo_sql, self._introspection_sql = style(USERINFO_SQL), style(CLIENT_WITH_TOKEN_SQL)
        self._api_token_sql, self._audience_token_sql = style(API_TOKEN_SQL), style(AUDIENCE_TOKEN_SQL)

    def _param_now(self, now: datetime) -> Any:
        # SQLite compares the stored text; PostgreSQL, timestamptz.
        return sqlite_text(now) if self.sqlite else now

    async def _timed(self, operation: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """``_rows``, its time counted as ``operation`` (hospes/metrics.py)."""
        if not metrics.ON:
            return await self._rows(sql, params)
        start = time.perf_counter()
        try:
            return await self._rows(sql, params)
        finally:
            metrics.database_done(operation, start)

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
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            self._local.conn = conn
        return conn

    async def userinfo(self, token_hash: bytes, now: datetime) -> UserinfoRow | None:
        rows = await self._timed("userinfo", self._userinfo_sql, (token_hash, self._param_now(now)))
        if not rows:
            return None
        return UserinfoRow(rows[0][0].split(), rows[0][1], rows[0][2], Person.of(rows[0][3:]))

    async def api_token(self, token_hash: bytes, now: datetime) -> ApiTokenRow | None:
        """The customer API's bearer token, when it is live (store/grants.py ACCESS_TOKEN_LIVE)."""
        params = (token_hash, self._param_now(now))
        return self._api_token_row(await self._timed("api_token", self._api_token_sql, params))

    async def audience_token(self, token_hash: bytes, now: datetime, audience: str) -> ApiTokenRow | None:
        """``api_token`` for a token whose audience is ``audience`` (the MCP server's identifier)."""
        sql, params = self._audience_token_sql, (token_hash, self._param_now(now), audience)
        return self._api_token_row(await self._timed("audience_token", sql, params))

    @staticmethod
    def _api_token_row(rows: list[tuple[Any, ...]]) -> ApiTokenRow | None:
        if not rows:
            return None
        scope, accounts, grant_id, credential_id, identifier, *person = rows[0]
        chosen = tuple(int(a) for a in (accounts or "").split() if a.isdigit())
        return ApiTokenRow(tuple(scope.split()), chosen, grant_id, credential_id, identifier, Person.of(person))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """A ``Tx`` for a few plain reads on the event loop, as the lookups above run (each statement sees the
        latest commit): the customer API's records."""
        if self._pg is not None:
            async with self._pg.connection() as conn:
                yield AsyncpgTx(conn)
            return
        conn = self._sqlite_connection()
        if conn is not None:
            yield DbapiTx(conn, sqlite=True)
            return
        raw = self.engine.raw_connection()  # an in-memory database lives in the engine's one connection
        try:
            yield DbapiTx(raw, sqlite=True)
        finally:
            raw.close()

    async def introspection(self, identifier: str, token_hash: bytes, now: datetime) -> ClientWithToken | None:
        """The client ``identifier`` and, when it is live and this client's, the token (RFC 7662 §2.2)."""
        t = self._param_now(now)
        params = (token_hash, t, token_hash, t, identifier)
        return ClientWithToken.of(await self._timed("introspection", self._introspection_sql, params))

    async def client_redirects(self) -> list[ClientRedirects]:
        """Every client's registered redirect URIs (read now and then by oauth/web_origins.py, not per request)."""
        return [ClientRedirects.of(row) for row in await self._rows(REDIRECT_URIS_SQL, ())]
