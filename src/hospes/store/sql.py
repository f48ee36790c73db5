"""Plain SQL over a DB-API connection, for the few statements on the token endpoint's path.

The ORM costs tens of microseconds per statement in Python; a token request runs about eight. Here
each statement is constant text written once with ``%s`` placeholders (SQLite's ``?`` is
substituted), and the two differences between the databases that matter are adapted in one place:
times (SQLite stores UTC wall time as text, PostgreSQL timestamptz) and JSON columns.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def _qmark(sql: str) -> str:
    return sql.replace("%s", "?")


class Tx:
    """One transaction's statements on a raw DB-API connection (the caller begins and commits)."""

    __slots__ = ("conn", "sqlite", "_cur")

    def __init__(self, conn: Any, *, sqlite: bool) -> None:
        self.conn = conn
        self.sqlite = sqlite
        self._cur = conn.cursor()

    def _run(self, sql: str, params: tuple[Any, ...]) -> Any:
        cur = self._cur
        cur.execute(_qmark(sql) if self.sqlite else sql, params)
        return cur

    def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        row = self._run(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def execute(self, sql: str, *params: Any) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it touched."""
        return int(self._run(sql, params).rowcount)

    # -- values -------------------------------------------------------------------------------
    def ts(self, value: datetime | None) -> Any:
        """A time as the column stores it."""
        if value is None or not self.sqlite:
            return value
        # SQLAlchemy's SQLite format: "YYYY-MM-DD HH:MM:SS.ffffff", UTC.
        return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]

    def json(self, value: Any) -> Any:
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)


def aware(value: Any) -> datetime | None:
    """A time read back from either database, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    return list(value)
