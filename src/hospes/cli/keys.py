"""``hospes keys list|rotate [--now]``: the signing keys in the database (every node reads them within
HOSPES_KEY_RELOAD_SECONDS). Run it with the servers' settings: a rotation's wait is worked out from them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hospes.cli.common import ACTOR, JsonOpt, database, emit, fail, settings

keys_app = typer.Typer(no_args_is_help=True, help="Signing keys.")


def _keyring(db: Any) -> Any:
    from hospes.oauth.keys import KeyRing

    return KeyRing.for_settings(db, settings())


def _state(k: Any) -> str:
    if k.state == "pending":
        return f"pending, signs from {k.activates_at}"
    if k.state == "active":
        return f"active, signs until {k.retired_at}" if k.retired_at else "active"
    if k.state == "retiring":
        return f"retiring, published until {k.unpublish_at}"
    return "unpublished"


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Signing keys: pending ones are published and sign from their time; active ones sign; retiring ones
    stay published until their tokens expire."""
    with database() as db:
        keys = _keyring(db).list()
    if as_json:
        typer.echo(json.dumps({"keys": [k.__dict__ for k in keys]}))
        return
    for k in keys:
        typer.echo(f"{k.kid}\t{k.alg}\tcreated {k.created_at}\t{_state(k)}")


@keys_app.command("rotate")
def keys_rotate(
    now: Annotated[bool, typer.Option(
        "--now", help="For a compromised key: the new keys sign at once and the old ones leave the JWKS at once "
                      "(tokens they signed stop verifying).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add new signing keys: published now, signing once every relying party can have them (the JWKS
    max-age plus the key reload interval); the old ones sign until then and stay published until their
    tokens expire."""
    from hospes.oauth.keys import KeysUnreadable

    with database() as db:
        try:
            done = _keyring(db).rotate(at_once=now, actor=ACTOR)
        except KeysUnreadable as exc:
            fail(str(exc))
    signs_from = done.signs_from.isoformat()
    emit({"created": done.created, "signs_from": signs_from}, as_json,
         f"New signing keys: {', '.join(done.created)}; published now, signing from {signs_from}"
         + ("; the old keys are withdrawn" if now else ""))
