"""The database really unavailable, for tests of what keeps working without it (no mock: the real server
refuses). PostgreSQL refuses new connections and ends the open ones; SQLite's file and its WAL are moved away,
so a new connection finds an empty database (connections already open still read the old file: dispose the
engine that holds them first)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from tests.conftest import PG_DEFAULT


@contextmanager
def database_away(url: str) -> Iterator[None]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        files = [Path(f"{parsed.database}{suffix}") for suffix in ("", "-wal", "-shm")]
        for f in files:
            if f.exists():
                f.rename(f"{f}.away")
        try:
            yield
        finally:
            for f in files:
                f.unlink(missing_ok=True)
                if Path(f"{f}.away").exists():
                    Path(f"{f}.away").rename(f)
        return
    name = parsed.database
    admin = create_engine(os.environ.get("HOSPES_TEST_DATABASE_URL", PG_DEFAULT)
                          .replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
    try:
        yield
    finally:
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
