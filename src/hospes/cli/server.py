"""``hospes serve`` and ``hospes db upgrade``."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import typer

from hospes import logs
from hospes.cli.common import database, fail, settings, upgrade_or_fail
from hospes.config import ensure_secret_key

db_app = typer.Typer(no_args_is_help=True, help="Database.")


def issuer_port_warning(issuer: str, port: int) -> str | None:
    """A loopback issuer on another port than the one served: every URL Hospes hands out (discovery,
    redirects, the login form) would point where nothing listens. Behind a proxy the issuer is not loopback."""
    parts = urlsplit(issuer)
    if parts.hostname not in ("localhost", "::1") and not (parts.hostname or "").startswith("127."):
        return None
    issuer_port = parts.port or (443 if parts.scheme == "https" else 80)
    if issuer_port == port:
        return None
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    fixed = urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))
    return (f"Warning: the issuer {issuer} is on port {issuer_port}, but this server listens on port {port}: "
            f"discovery and every redirect will point at port {issuer_port}. Set HOSPES_ISSUER={fixed} "
            f"(make run PORT={port} does that).")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    graceful_timeout: Annotated[float | None, typer.Option(
        min=0.1, max=3600, help="Seconds requests in flight get after SIGTERM before the server exits "
                                "[default: HOSPES_GRACEFUL_TIMEOUT, 10].")] = None,
) -> None:
    """Apply migrations, create keys on first start, and serve HTTP."""
    from sqlalchemy import func, select

    from hospes.oauth.keys import KeyRing, KeysUnreadable
    from hospes.store.db import Database
    from hospes.store.models import Admin

    s = settings()
    ensure_secret_key(s)
    upgrade_or_fail(s)
    db = Database(s.sqlalchemy_url, s.db_timeout)
    try:
        created = KeyRing(db, 0, secret_key=ensure_secret_key(s).encode()).ensure()
    except KeysUnreadable as exc:
        db.dispose()
        fail(str(exc))
    with db.transaction() as session:
        admins = session.scalar(select(func.count()).select_from(Admin))
    db.dispose()
    logs.configure(s.log_format)

    def say(line: str, warning: bool = False) -> None:
        # With JSON logs the start-up lines are log records too, so every line of the output is JSON.
        if s.log_format == "json":
            logging.getLogger("hospes.server").log(logging.WARNING if warning else logging.INFO, "%s", line)
        else:
            typer.echo(line, err=warning)

    say(f"Hospes issuer: {s.issuer}")
    if (warning := issuer_port_warning(s.issuer, port)) is not None:
        say(warning, warning=True)
    say(f"Discovery:     {s.issuer}/.well-known/openid-configuration")
    if created:
        say(f"Created signing keys: {', '.join(created)}")
    if not admins:
        say("Next: create a first admin and a first client account, for example:\n"
            "  .venv/bin/hospes admins add --username admin --email admin@example.com --password-stdin\n"
            "  .venv/bin/hospes clients add --email jane@example.com --first-name Jane --last-name Doe "
            "--password-stdin")
    from hospes.web.server import raise_descriptor_limit, uvicorn_options
    from hospes.workers import CannotServe
    from hospes.workers import serve as serve_workers

    raise_descriptor_limit()
    try:
        serve_workers(host, port, workers, uvicorn_options(s, graceful_timeout or s.graceful_timeout))
    except CannotServe as exc:
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with database():
        pass
    typer.echo("Database is up to date.")
