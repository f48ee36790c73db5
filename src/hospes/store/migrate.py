"""Apply the Alembic migrations programmatically (``hospes db upgrade``, ``hospes serve``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(sqlalchemy_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return cfg


def upgrade(sqlalchemy_url: str, revision: str = "head") -> None:
    if sqlalchemy_url.startswith("sqlite:///"):
        Path(sqlalchemy_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(sqlalchemy_url), revision)


@lru_cache(maxsize=1)
def head() -> str | None:
    """The newest revision this code knows (what a current database's alembic_version holds)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
