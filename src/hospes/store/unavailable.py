"""The one rule for "the database is unavailable": it did not answer within the deadline, refused the
connection, or the connection broke. Such a failure is the database's, not the request's: the web layer
answers 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3), and the request changed nothing, so the client may
send it again. Anything else (a programming error, a constraint) stays a 500.
"""

from __future__ import annotations

import sqlite3

# SQLite's own words for a database that is there but cannot be written now (sqlite.org/rescode.html:
# SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN).
_SQLITE_UNAVAILABLE = ("database is locked", "database is busy", "database table is locked",
                       "database or disk is full", "disk i/o error", "unable to open database file")


class DatabaseUnavailable(Exception):
    """The database did not answer in time (or at all); nothing was changed."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or the error it was raised from) means the database is unavailable."""
    return any(err is not None and _unavailable(err) for err in (exc, exc.__cause__))


def _unavailable(exc: BaseException) -> bool:
    # TimeoutError is also asyncio's (Python 3.11) and asyncpg's command_timeout; ConnectionError a refused or
    # reset connection (asyncpg raises the socket's own).
    if isinstance(exc, (DatabaseUnavailable, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower().startswith(_SQLITE_UNAVAILABLE)
    module = type(exc).__module__
    if module.startswith("sqlalchemy"):
        from sqlalchemy import exc as sa

        if isinstance(exc, sa.TimeoutError):  # no pooled connection free within pool_timeout
            return True
        if isinstance(exc, sa.DBAPIError):
            return bool(exc.connection_invalidated) or (exc.orig is not None and _unavailable(exc.orig))
        return False
    if module.startswith("psycopg"):
        import psycopg

        # OperationalError: connection refused, broken or timed out, and QueryCanceled (statement_timeout).
        return isinstance(exc, psycopg.OperationalError)
    if module.startswith("asyncpg"):
        import asyncpg

        return isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.QueryCanceledError,
                                asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
                                asyncpg.ConnectionDoesNotExistError))
    return False
