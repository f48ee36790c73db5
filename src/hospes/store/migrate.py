"""Apply the Alembic migrations programmatically (``hospes db upgrade``, ``hospes serve``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(sqlalchemy_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return cfg


class NewerSchema(Exception):
    """The database is at a revision this code does not know: a newer release migrated it (a rolling upgrade,
    docs/DEPLOYING.md). Migrations only add, so this code still works on it; it must not try to migrate."""

    def __init__(self, revision: str) -> None:
        super().__init__(f"the database is at revision {revision}, newer than this code's {head()}")
        self.revision = revision


def upgrade(sqlalchemy_url: str, revision: str = "head") -> None:
    """Apply the pending migrations, or NewerSchema when a newer release's are there already."""
    if sqlalchemy_url.startswith("sqlite:///"):
        Path(sqlalchemy_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    current = _current(sqlalchemy_url)
    if revision == "head" and current is not None and current == newest_file_revision():
        return  # up to date: nothing for Alembic to load (every start and CLI command passes here)
    if current is not None and not known(current):
        raise NewerSchema(current)
    from alembic import command

    command.upgrade(alembic_config(sqlalchemy_url), revision)


def _current(sqlalchemy_url: str) -> str | None:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(sqlalchemy_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def newest_file_revision() -> str:
    """The newest migration's revision, read from the file names alone (each migration's revision is its file's
    four-digit prefix, tests/store/test_migrations.py checks): loading the scripts to ask Alembic costs more than
    the rest of a CLI command."""
    return max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def known(revision: str) -> bool:
    """Whether ``revision`` is one of this code's migrations (an older or the current schema)."""
    return revision in _revisions()


@lru_cache(maxsize=1)
def _revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(script.revision for script in
                     ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())


@lru_cache(maxsize=1)
def head() -> str | None:
    """The newest revision this code knows (what a current database's alembic_version holds)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
