"""The PostgreSQL databases of the test suite's PostgreSQL pass, one per test and reused from test to test.

Each test gets a database of its own, but making and dropping one per test is slow: ``DROP DATABASE`` waits for
a checkpoint (about 1.7 s on this machine, with hundreds of tests per pass), where emptying a database's tables
costs about 10 ms. So a test process keeps the databases its tests are done with, emptied, for the next test: a
migrated one keeps its schema and loses every row (sequences start again at 1), an empty one loses its schema.
One whose schema a test changed (a dropped table, a trigger, another migration) is dropped, never reused."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from hospes.store.migrate import upgrade

# What makes two migrated databases the same: their tables, columns, indexes, triggers, functions and version.
_FINGERPRINT = text("""
    SELECT md5(coalesce((SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':'
                                           || is_nullable || ':' || coalesce(column_default, ''), ','
                                           ORDER BY table_name, column_name)
                         FROM information_schema.columns WHERE table_schema = 'public'), '')
           || coalesce((SELECT string_agg(indexname || indexdef, ',' ORDER BY indexname)
                        FROM pg_indexes WHERE schemaname = 'public'), '')
           || (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)::text
           || (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'public')::text
           || coalesce((SELECT string_agg(version_num, ',') FROM alembic_version), ''))
""")


class _SchemaChanged(Exception):
    pass


class PostgresDatabases:
    """Hands out test databases (``take``) and takes them back (``give_back``) emptied for the next test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._admin = self._engine("postgres")
        self._free: dict[bool, list[str]] = {True: [], False: []}
        self._template: str | None = None
        self._fingerprint = ""
        self._emptying = ""

    def _url(self, name: str) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{name}"

    def _engine(self, name: str) -> Engine:
        url = self._url(name).replace("postgresql://", "postgresql+psycopg://", 1)
        return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def _execute(self, sql: str, **params: Any) -> None:
        with self._admin.connect() as c:
            c.execute(text(sql), params)

    def _create(self, template: str | None) -> str:
        name = f"hospes_test_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def _drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def template(self) -> str:
        """The database every migrated test database is a copy of: migrated once per test process."""
        if self._template is None:
            name = self._create(None)
            upgrade(self._url(name).replace("postgresql://", "postgresql+psycopg://", 1))
            engine = self._engine(name)
            with engine.connect() as c:
                self._fingerprint = c.execute(_FINGERPRINT).scalar_one()
                tables = c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                        "AND tablename <> 'alembic_version'")).scalars().all()
                sequences = c.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"))
                # Rows go in any order with foreign keys unchecked (session_replication_role); each sequence
                # starts again at 1, as in a new database.
                self._emptying = ("BEGIN; SET LOCAL session_replication_role = replica;"
                                  + "".join(f'DELETE FROM "{t}";' for t in tables)
                                  + "".join(f"SELECT setval('\"{s}\"', 1, false);" for s in sequences.scalars())
                                  + "COMMIT;")
            engine.dispose()
            self._template = name
        return self._template

    def take(self, migrated: bool) -> str:
        """A database of the test's own, migrated to the newest schema or empty; its URL."""
        free = self._free[migrated]
        name = free.pop() if free else self._create(self.template() if migrated else None)
        return self._url(name)

    def give_back(self, url: str, migrated: bool) -> None:
        """Empty the test's database for the next test, or drop it if its schema is no longer the one it had."""
        name = url.rsplit("/", 1)[1]
        self._execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = :name AND pid <> pg_backend_pid()", name=name)
        engine = self._engine(name)
        try:
            with engine.connect() as c:
                c.exec_driver_sql("SET lock_timeout = '5s'")
                if migrated:
                    if c.execute(_FINGERPRINT).scalar_one() != self._fingerprint:
                        raise _SchemaChanged
                    c.exec_driver_sql(self._emptying)
                else:
                    c.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        except Exception:  # anything unexpected: this database is not used again
            engine.dispose()
            self._drop(name)
            return
        engine.dispose()
        self._free[migrated].append(name)

    def close(self) -> None:
        for name in [*self._free[True], *self._free[False], *([self._template] if self._template else [])]:
            self._drop(name)
        self._admin.dispose()
