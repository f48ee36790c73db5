"""What every command shares: settings, the database, one unit of work, one-line errors, --json output.

Changes made through the CLI are audited by the operations themselves, as actor ``ACTOR``.

An error is one line on standard error and a non-zero exit (1: refused; 2: a usage error). Under ``--json`` it is
also one JSON object on standard output, the same shape for every command, so a script that reads standard output
always reads JSON: ``{"error": "invalid_input" | "usage", "message": "..."}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from hospes.config import ConfigError, Settings, load_settings

T = TypeVar("T")
ACTOR = "cli"
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result (or the error) as a JSON object.")]
# Set by ``main`` when the command line asks for --json: errors then come out as JSON too.
_json_errors = False


def json_errors(on: bool) -> None:
    global _json_errors
    _json_errors = on


def report(message: str, *, usage: bool = False) -> None:
    """An error, in the form the command line asked for."""
    if _json_errors:
        typer.echo(json.dumps({"error": "usage" if usage else "invalid_input", "message": message}))
    typer.echo(f"error: {message}", err=True)


def fail(message: str) -> NoReturn:
    report(message)
    raise typer.Exit(1)


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def upgrade_or_fail(s: Settings) -> None:
    """Apply pending migrations; a database that cannot be opened is one line and exit 1. A database a newer
    release has migrated already (a rolling upgrade) is used as it is, with a warning: migrations only add."""
    from hospes.store.migrate import NewerSchema, upgrade

    try:
        upgrade(s.sqlalchemy_url)
    except NewerSchema as exc:
        typer.echo(f"warning: {exc}; using it as it is (docs/DEPLOYING.md, rolling upgrades)", err=True)
    except Exception as exc:
        fail(f"cannot open the database: {str(exc).splitlines()[0]}")


@contextmanager
def database() -> Iterator[Any]:
    from hospes.store.db import Database

    s = settings()
    upgrade_or_fail(s)
    db = Database(s.sqlalchemy_url, s.db_timeout)
    try:
        yield db
    finally:
        db.dispose()


def run(fn: Callable[[Any], T]) -> T:
    """Run one unit of work; turn a validation error into a one-line message and exit 1."""
    from hospes.accounts.service import AccountError
    from hospes.adminapi.credentials import ApiCredentialError
    from hospes.oauth.credentials import CredentialError
    from hospes.oauth.resources import ResourceError
    from hospes.sso.applinks import AppLinkError

    with database() as db:
        try:
            with db.transaction() as s:
                return fn(s)
        except (AccountError, CredentialError, ApiCredentialError, AppLinkError, ResourceError) as exc:
            fail(str(exc))


def run_read(fn: Callable[[Any], T]) -> T:
    """A read-only unit (the ``list`` commands)."""
    with database() as db, db.read() as s:
        return fn(s)


def read_password(password: str | None, password_stdin: bool) -> str:
    if password is not None and password_stdin:
        fail("use --password or --password-stdin, not both")
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            fail("no password on standard input")
        return value
    if password is None:
        fail("a password is required: --password P or --password-stdin")
    return password


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)
