"""The migrations build exactly the schema the models describe, and can be undone and redone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from hospes.store.migrate import MIGRATIONS, alembic_config, head, newest_file_revision, upgrade
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


def test_each_migration_is_named_for_its_revision_so_an_up_to_date_database_is_seen_from_the_names():
    from alembic.script import ScriptDirectory

    scripts = list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())
    files = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert {s.revision for s in scripts} == {f.name[:4] for f in files} and len(scripts) == len(files)
    assert all(s.revision == s.module.__file__.rsplit("/", 1)[1][:4] for s in scripts)
    assert newest_file_revision() == head()


def test_upgrading_an_up_to_date_database_is_a_no_op_and_an_old_one_is_migrated(settings):
    url = settings.sqlalchemy_url
    command.upgrade(alembic_config(url), "0018")
    upgrade(url)  # from 0018: the newest migration runs
    engine = create_engine(url)
    with engine.connect() as conn:
        assert "request_id" in {c["name"] for c in inspect(conn).get_columns("audit_events")}
        assert MigrationContext.configure(conn).get_current_revision() == head()
    upgrade(url)  # at the head already: nothing to do
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head()
    engine.dispose()


def test_sqlite_never_reuses_a_public_id(db, make_credential):
    if not db.url.startswith("sqlite"):
        return
    from hospes.oauth import credentials

    first = make_credential()
    with db.transaction() as s:
        credentials.delete_credential(s, credentials.find(s, credential_id=first.credential_id))
    second = make_credential()
    assert second.credential_id > first.credential_id
