"""The hot reads: the token lookups behind userinfo and introspection, one indexed query each.

Relying parties call these two endpoints on every API request they serve, so they skip the ORM and
the thread pool:

- SQLite: a connection of the event loop's own in autocommit, queried on the loop: an indexed read is
  shorter than a hop to a thread, and under WAL a reader never waits for a writer.
- PostgreSQL: a few asyncpg connections (store/pg.py) in autocommit; the round trip overlaps
  with other requests instead of blocking the loop.

The customer API's first page of a list is one query too (``api_first_page``): the token, the person's
accounts and the first rows of each, so that a round trip to PostgreSQL, most of such a request's cost, is
made once. What the token may see of them is still decided in Python (accounts/reach.py).

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
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine

from hospes import metrics
from hospes.config import DEFAULT_DB_TIMEOUT
from hospes.store import records, replay
from hospes.store.accounts import REACHED_COLUMNS, ReachedAccount, reached_of
from hospes.store.clients import CLIENT_WITH_TOKEN_SQL, REDIRECT_URIS_SQL, ClientRedirects, ClientWithToken
from hospes.store.grants import ACCESS_TOKEN_LIVE
from hospes.store.pg import AsyncpgPool
from hospes.store.sql import PERSON_COLUMNS, AsyncpgTx, DbapiTx, Person, Tx, numbered, qmark, sqlite_text

# One query per lookup, all constant text. Written with %s; SQLite's "?" is substituted below.
USERINFO_SQL = (
    f"SELECT t.scope, g.claims, t.credential_id, t.jkt, {PERSON_COLUMNS} "  # noqa: S608 (constant text)
    "FROM access_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id "
    f"WHERE t.token_hash = %s AND {ACCESS_TOKEN_LIVE}"
)

# PostgreSQL, a DPoP request (RFC 9449 §11.1): its proof's jti recorded by store/replay.py's statement in the same
# round trip as USERINFO_SQL's read; one row whatever the token: 1 when the jti was new, then the token's columns
# (NULL: none).
# Parameters: replay.first_use's (kind, digest, expires_at, now), then USERINFO_SQL's.
USERINFO_REMEMBERING_SQL = (f"WITH seen AS ({replay.FIRST_USE_SQL} RETURNING 1) "  # noqa: S608 (constant text)
                            f"SELECT (SELECT count(*) FROM seen), x.* FROM (SELECT 1) AS one "
                            f"LEFT JOIN ({USERINFO_SQL}) AS x ON TRUE")

# The customer API's token lookup: the token, its grant (the accounts chosen) and client, its person, and the
# accounts the person reaches now (as store/accounts.py REACHED_SQL), one row per account.
API_TOKEN_COLUMNS = (f"t.scope, g.accounts, t.grant_id, t.credential_id, cr.identifier, t.audience, t.acr, t.jkt, "
                     f"{PERSON_COLUMNS}")
_API_TOKEN_WIDTH = len(API_TOKEN_COLUMNS.split(","))
_REACHED_END = _API_TOKEN_WIDTH + len(REACHED_COLUMNS.split(","))
API_TOKEN_JOINS = (
    "FROM access_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.user_id "
    "JOIN oauth_credentials cr ON cr.id = t.credential_id "
    "LEFT JOIN user_clients uc ON uc.user_id = t.user_id LEFT JOIN client_accounts c ON c.id = uc.client_id "
    "LEFT JOIN users o ON o.id = c.owner_user_id"
)
API_TOKEN_SQL = (f"SELECT {API_TOKEN_COLUMNS}, {REACHED_COLUMNS} {API_TOKEN_JOINS} "  # noqa: S608 (constant text)
                 f"WHERE t.token_hash = %s AND {ACCESS_TOKEN_LIVE}")
# The same for a token issued for another of Hospes's own resources (the MCP server): only one whose audience is
# that resource's identifier (RFC 8707 §2; RFC 9068 §4's aud check for opaque tokens). Built on API_TOKEN_SQL, so
# a condition on the audience belongs in api_token's own text, never in API_TOKEN_SQL.
AUDIENCE_TOKEN_SQL = API_TOKEN_SQL + " AND t.audience = %s"


@lru_cache(maxsize=32)
def api_first_page_sql(kind: str, by_status: bool) -> str:
    """PostgreSQL: API_TOKEN_SQL, and with each account the person reaches its first rows of ``kind`` (as
    records.listed lists them for that account alone, at most %s of them, by its index on client_id): one row per
    account and record, in the list's order. Parameters: [the status,] how many rows per account, the token's
    hash and the time (ACCESS_TOKEN_LIVE)."""
    table, columns, order = records.table_of(kind)
    status = " AND f.status = %s" if by_status else ""
    return (
        f"SELECT {API_TOKEN_COLUMNS}, {REACHED_COLUMNS}, {_qualified('r', columns)} {API_TOKEN_JOINS} "  # noqa: S608
        f"LEFT JOIN LATERAL (SELECT {_qualified('f', columns)} FROM {table} f WHERE f.client_id = c.id{status} "
        f"ORDER BY {_qualified('f', order)} LIMIT %s) r ON TRUE "
        f"WHERE t.token_hash = %s AND {ACCESS_TOKEN_LIVE} ORDER BY {_qualified('r', order)}"
    )


def _qualified(alias: str, columns: str) -> str:
    """``"id, domain DESC"`` as ``"r.id, r.domain DESC"``."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


@dataclass(frozen=True, slots=True)
class ApiTokenRow:
    """A live access token as the customer API reads it."""

    scope: tuple[str, ...]
    accounts: tuple[int, ...]  # the client accounts the person chose for this grant (none: none asked for)
    grant_id: int
    credential_id: int
    client_identifier: str  # the application's client_id
    person: Person
    audience: str | None = None  # an operator's resource the token is for (RFC 8707); None: the customer API
    acr: str | None = None  # how the person logged in (RFC 9470 step-up)
    # The client accounts the person reaches, read with the token (store/accounts.py ``reached``); None: not read.
    reached: tuple[ReachedAccount, ...] | None = None
    jkt: str | None = None  # the DPoP key the token is bound to (RFC 9449 §6); None: a bearer token


@dataclass(frozen=True, slots=True)
class FirstPage:
    """What ``api_first_page`` read: the live token (with the accounts its person reaches), and for each of those
    accounts its first rows of the kind asked for, all in the list's order."""

    token: ApiTokenRow
    rows: list[Any]


def _api_token(rows: list[Any]) -> ApiTokenRow:
    """The token of API_TOKEN_SQL's rows, with the accounts its person reaches (one row each, or one without)."""
    scope, accounts, grant_id, credential_id, identifier, audience, acr, jkt, *person = rows[0][:_API_TOKEN_WIDTH]
    chosen = tuple(int(a) for a in (accounts or "").split() if a.isdigit())
    reached: dict[int, Any] = {}
    for row in rows:
        if row[_API_TOKEN_WIDTH] is not None:
            reached.setdefault(row[_API_TOKEN_WIDTH], row[_API_TOKEN_WIDTH:_REACHED_END])
    return ApiTokenRow(tuple(scope.split()), chosen, grant_id, credential_id, identifier, Person.of(person),
                       audience, acr, tuple(reached_of(reached.values())), jkt)


@dataclass(frozen=True, slots=True)
class UserinfoRow:
    scope: list[str]
    claims: str | None  # the grant's, asked for with the claims parameter
    credential_id: int  # the client the token was issued to
    jkt: str | None  # the DPoP key the token is bound to (RFC 9449 §6); None: a bearer token
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
        style = self._style = numbered if pg is not None else qmark
        self._first_page_sql: dict[tuple[str, bool], str] = {}
        self._userinfo_sql, self._introspection_sql = style(USERINFO_SQL), style(CLIENT_WITH_TOKEN_SQL)
        self._api_token_sql, self._audience_token_sql = style(API_TOKEN_SQL), style(AUDIENCE_TOKEN_SQL)
        self._userinfo_remembering_sql = style(USERINFO_REMEMBERING_SQL)

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
        row = rows[0]
        return UserinfoRow(row[0].split(), row[1], row[2], row[3], Person.of(row[4:]))

    @property
    def remembers_with_userinfo(self) -> bool:
        """Whether ``userinfo_remembering`` answers here: on PostgreSQL, where it saves a DPoP request a round trip
        (SQLite's lookups are read-only; its writes go through the writer)."""
        return self._pg is not None

    async def userinfo_remembering(self, token_hash: bytes, now: datetime, kind: str, digest: bytes,
                                   expires_at: datetime) -> tuple[UserinfoRow | None, bool]:
        """PostgreSQL: ``userinfo``, and replay.first_use of ``digest`` in the same statement (its answer second)."""
        params = (kind, digest, expires_at, now, token_hash, now)
        row = (await self._timed("userinfo", self._userinfo_remembering_sql, params))[0]
        found = UserinfoRow(row[1].split(), row[2], row[3], row[4], Person.of(row[5:])) if row[1] is not None else None
        return found, row[0] == 1

    async def api_token(self, token_hash: bytes, now: datetime) -> ApiTokenRow | None:
        """The customer API's bearer token, when it is live (store/grants.py ACCESS_TOKEN_LIVE), with the accounts
        its person reaches."""
        rows = await self._timed("api_token", self._api_token_sql, (token_hash, self._param_now(now)))
        return _api_token(rows) if rows else None

    async def audience_token(self, token_hash: bytes, now: datetime, audience: str) -> ApiTokenRow | None:
        """``api_token`` for a token whose audience is ``audience`` (the MCP server's identifier)."""
        sql, params = self._audience_token_sql, (token_hash, self._param_now(now), audience)
        rows = await self._timed("audience_token", sql, params)
        return _api_token(rows) if rows else None

    @property
    def pages_in_one_query(self) -> bool:
        """Whether ``api_first_page`` answers here: on PostgreSQL, where a round trip costs far more than a larger
        statement (it is most of a userinfo call). SQLite runs the statements on the server's own core, where
        ``api_token`` and records.listed, two plain indexed reads, cost less than one statement with a lateral
        read per account, which SQLite would have to emulate."""
        return self._pg is not None

    async def api_first_page(self, token_hash: bytes, now: datetime, kind: str, status: str | None,
                             per_account: int) -> FirstPage | None:
        """PostgreSQL (``pages_in_one_query``): ``api_token`` and the first ``per_account`` rows of ``kind`` (of
        ``status``, when given) of each account its person reaches, in one query (``api_first_page_sql``)."""
        shape = (kind, status is not None)
        sql = self._first_page_sql.get(shape)
        if sql is None:
            sql = self._first_page_sql[shape] = self._style(api_first_page_sql(*shape))
        filters = (status, per_account) if status is not None else (per_account,)
        rows = await self._timed("api_first_page", sql, (*filters, token_hash, self._param_now(now)))
        if not rows:
            return None
        end = _REACHED_END
        return FirstPage(_api_token(rows), [records.row_of(kind, row[end:]) for row in rows if row[end] is not None])

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

    async def resource_scope_names(self) -> list[str]:
        """The scopes of the operator's resource servers (read now and then by oauth/discovery.py)."""
        return [str(row[0]) for row in await self._rows("SELECT name FROM resource_scopes ORDER BY id", ())]

    async def client_redirects(self) -> list[ClientRedirects]:
        """Every client's registered redirect URIs (read now and then by oauth/web_origins.py, not per request)."""
        return [ClientRedirects.of(row) for row in await self._rows(REDIRECT_URIS_SQL, ())]
