"""``hospes keys list|rotate``: the signing keys in the database (every node reads them within 30 s)."""

from __future__ import annotations

import json
from typing import Any

import typer

from hospes.cli.common import JsonOpt, database, emit, fail, settings

keys_app = typer.Typer(no_args_is_help=True, help="Signing keys.")


def _keyring(db: Any) -> Any:
    from hospes.config import ensure_secret_key
    from hospes.oauth.keys import KeyRing

    s = settings()
    return KeyRing(db, retire_after=max(s.id_token_ttl, s.session_ttl), secret_key=ensure_secret_key(s).encode())


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Signing keys: active ones sign; retired ones stay published until their tokens expire."""
    with database() as db:
        keys = _keyring(db).list()
    if as_json:
        typer.echo(json.dumps({"keys": [k.__dict__ for k in keys]}))
        return
    for k in keys:
        state = "active" if k.retired_at is None else (f"retired, published until {k.unpublish_at}"
                                                        if k.published else "unpublished")
        typer.echo(f"{k.kid}\t{k.alg}\tcreated {k.created_at}\t{state}")


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Add new signing keys that sign from now on; the old ones stay published until they expire."""
    from hospes.oauth.keys import KeysUnreadable

    with database() as db:
        try:
            kids = _keyring(db).rotate()
        except KeysUnreadable as exc:
            fail(str(exc))
    emit({"created": kids}, as_json, f"New signing keys: {', '.join(kids)}")
