"""A consistent copy of the database while it serves, and putting one back.

SQLite: the online backup API (https://www.sqlite.org/backup.html) copies every page in one step inside a
read transaction, so the copy is one moment of the database, WAL contents included, and writers go on
meanwhile (WAL readers never block them). A plain copy of the file misses what is still in ``-wal``. The
copy is written beside the output, checked (``PRAGMA integrity_check``), made a single self-contained file
(rollback journal) and only then renamed into place.

PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot too) and ``pg_restore``, run with the
connection's settings in the PG* environment variables, never on the command line (where ``ps`` shows them).

Restoring never merges: the target must be new or empty.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup or restore could not be made: the message says why, in a line."""


class Copied(NamedTuple):
    database: str  # "sqlite" | "postgresql"
    path: str
    bytes: int


def _sqlite_path(url: str) -> str | None:
    u = make_url(url)
    return u.database if u.get_backend_name() == "sqlite" else None


def backup(url: str, output: Path) -> Copied:
    """Copy the database at ``url`` (an SQLAlchemy URL) to ``output``."""
    path = _sqlite_path(url)
    if path is None:
        _pg_tool("pg_dump", url, "--format=custom", "--no-owner", "--file", str(output))
        return Copied("postgresql", str(output), output.stat().st_size)
    if not Path(path).is_file():
        raise BackupError(f"no database at {path}")
    partial = output.with_name(output.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with _sqlite(path, readonly=True) as src, _sqlite(str(partial)) as dst:
            src.backup(dst)  # all pages in one step: one consistent moment
            _check(dst, str(output))
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        os.replace(partial, output)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {path} to {output}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return Copied("sqlite", str(output), output.stat().st_size)


def restore(url: str, source: Path) -> Copied:
    """Put the backup ``source`` into the database at ``url``, which must be new or empty."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    path = _sqlite_path(url)
    if path is None:
        _pg_tool("psql", url, "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--command",
                 "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' LIMIT 1",
                 empty_or_fail="the database is not empty: restore into a new, empty database")
        # The database's name only (PGDATABASE is not enough for pg_restore); the rest stays in the environment.
        _pg_tool("pg_restore", url, f"--dbname={make_url(url).database}", "--exit-on-error", "--no-owner",
                 "--no-privileges", "--single-transaction", str(source))
        return Copied("postgresql", str(source), source.stat().st_size)
    target = Path(path)
    if target.exists() and target.stat().st_size > 0:
        with _sqlite(path, readonly=True) as existing:
            if existing.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone():
                raise BackupError(f"{path} is not empty: restore into a new database file")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _sqlite(str(source), readonly=True) as src:
            _check(src, str(source))
            if not src.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone():
                raise BackupError(f"{source} is not a Hospes database")
            with _sqlite(path) as dst:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a readable SQLite database: {exc}") from None
    return Copied("sqlite", path, target.stat().st_size)


@contextmanager
def _sqlite(path: str, *, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    # Read-only by URI, so a backup can never change the database it copies.
    uri = f"file:{quote(str(Path(path).resolve()))}{'?mode=ro' if readonly else ''}"
    with closing(sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)) as conn:
        yield conn


def _check(conn: sqlite3.Connection, name: str) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()
    if not result or result[0] != "ok":
        raise BackupError(f"{name}: integrity check failed: {result[0] if result else 'no answer'}")


def _pg_tool(tool: str, url: str, *args: str, empty_or_fail: str | None = None) -> None:
    """Run a PostgreSQL client tool against ``url``; ``empty_or_fail``: it must print nothing, or that's the error."""
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(f"{tool} is not installed (PostgreSQL's client tools): see docs/OPERATIONS.md, "
                          "Backup and restore")
    u = make_url(url)
    env = {**os.environ, "PGHOST": u.host or "", "PGPORT": str(u.port or 5432), "PGUSER": u.username or "",
           "PGDATABASE": u.database or ""}
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    for key, value in u.query.items():  # sslmode=require and the like
        if key in _PG_QUERY:
            env[_PG_QUERY[key]] = value if isinstance(value, str) else value[0]
    done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise BackupError(f"{tool} failed: {lines[0]}")
    if empty_or_fail is not None and done.stdout.strip():
        raise BackupError(empty_or_fail)


# Connection parameters a postgresql:// URL may carry, as libpq's environment variables.
_PG_QUERY = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
             "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME"}
