"""The migrations build exactly the schema the models describe, and can be undone and redone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from hospes.store.migrate import alembic_config
from hospes.store.models import Base


def test_migrations_match_the_models_and_round_trip(settings):
    url = settings.sqlalchemy_url
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = create_engine(url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_never_reuses_a_public_id(db, make_credential):
    if not db.url.startswith("sqlite"):
        return
    from hospes.oauth import credentials

    first = make_credential()
    with db.transaction() as s:
        credentials.delete_credential(s, credentials.find(s, credential_id=first.credential_id))
    second = make_credential()
    assert second.credential_id > first.credential_id
