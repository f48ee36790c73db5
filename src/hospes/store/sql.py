"""Plain SQL for the statements on the token endpoint's path and the store functions behind it.

On these paths the ORM's Python time per statement is several times the statement's own. Here each
statement is constant text written once with ``%s`` placeholders, and the differences between the
databases that matter are adapted in one place: placeholders, times (SQLite stores UTC wall time as
text, PostgreSQL timestamptz) and JSON columns.

Units of work are ``async`` functions over a ``Tx``:

- ``DbapiTx`` wraps a DB-API connection (SQLite in the writer thread; psycopg for synchronous
  callers). Its methods never suspend, so a unit over it is driven to completion by ``drive``
  without an event loop.
- ``AsyncpgTx`` wraps an asyncpg connection: on PostgreSQL a unit runs on the event loop and its
  round trips overlap with other requests.
- ``session_tx`` is an ORM session's own transaction as a ``DbapiTx``, so code that holds a session
  calls the same store functions (``drive(store_function(session_tx(s), …))``).
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import orjson

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")


@lru_cache(maxsize=256)
def qmark(sql: str) -> str:
    """``%s`` placeholders as SQLite's ``?``."""
    return sql.replace("%s", "?")


@lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """``%s`` placeholders as asyncpg's ``$1, $2, …``."""
    parts = sql.split("%s")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))


class Tx:
    """One transaction's statements (the caller begins and commits)."""

    sqlite = False

    async def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        raise NotImplementedError

    async def all(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def execute(self, sql: str, *params: Any) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it touched."""
        raise NotImplementedError

    def ts(self, value: datetime | None) -> Any:
        """A time as the column stores it."""
        return sqlite_text(value) if value is not None and self.sqlite else value

    def json(self, value: Any) -> Any:
        return json.dumps(value)


class DbapiTx(Tx):
    __slots__ = ("conn", "sqlite", "_cur")

    def __init__(self, conn: Any, *, sqlite: bool) -> None:
        self.conn = conn
        self.sqlite = sqlite
        self._cur = conn.cursor()

    def _run(self, sql: str, params: tuple[Any, ...]) -> Any:
        cur = self._cur
        cur.execute(qmark(sql) if self.sqlite else sql, params)
        return cur

    async def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        row = self._run(sql, params).fetchone()
        return tuple(row) if row is not None else None

    async def all(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(sql, params).fetchall()]

    async def execute(self, sql: str, *params: Any) -> int:
        return int(self._run(sql, params).rowcount)

    def json(self, value: Any) -> Any:
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)


class AsyncpgTx(Tx):
    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        row = await self.conn.fetchrow(numbered(sql), *params)
        return tuple(row) if row is not None else None

    async def all(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self.conn.fetch(numbered(sql), *params)]

    async def execute(self, sql: str, *params: Any) -> int:
        status = await self.conn.execute(numbered(sql), *params)
        # "UPDATE 1", "DELETE 0", "INSERT 0 1": the count is the last word.
        return int(status.rsplit(" ", 1)[-1])


def session_tx(s: Session) -> DbapiTx:
    """The ORM session's transaction as a ``Tx``: its statements run on the session's connection, inside
    its transaction. The session is flushed first, so they see (and follow) its pending changes."""
    s.flush()
    conn = s.connection()
    return DbapiTx(conn.connection, sqlite=conn.dialect.name == "sqlite")


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (a unit over a DbapiTx) to its result, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a unit of work over a DB-API connection must not await anything else")


def sqlite_text(value: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite, and as SQL compares it there: "YYYY-MM-DD HH:MM:SS.ffffff", UTC."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def aware(value: Any) -> datetime | None:
    """A time read back from either database, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def epoch_of(value: Any) -> int:
    """A stored time as epoch seconds (JWT and introspection claims)."""
    dt = aware(value)
    assert dt is not None
    return int(dt.timestamp())


# The columns ``Person.of`` reads, in its order (u: the users table).
PERSON_COLUMNS = "u.id, u.uuid, u.email, u.email_verified, u.first_name, u.last_name, u.locale, u.updated_at"


class Person(NamedTuple):
    """A user as the plain-SQL paths read one: the token endpoint and userinfo (the profile claims'
    source, OpenID Connect Core §5.4). Their queries select PERSON_COLUMNS."""

    id: int
    uuid: str
    email: str
    email_verified: bool
    first_name: str
    last_name: str
    locale: str
    updated_at: datetime | None

    @classmethod
    def of(cls, cols: Sequence[Any]) -> Person:
        uid, uuid, email, verified, first, last, locale, updated = cols
        return cls(uid, uuid, email, bool(verified), first, last, locale, aware(updated))


def json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        value = orjson.loads(value)  # a JSON column read as text (SQLite, asyncpg)
    return list(value)


def json_object(value: Any) -> dict[str, Any] | None:
    """A JSON object column as the driver returns it (text on SQLite and asyncpg), decoded; None for NULL."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        value = orjson.loads(value)
    return dict(value) if value is not None else None  # JSON null as well as SQL NULL
