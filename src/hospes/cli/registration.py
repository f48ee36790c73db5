"""``hospes registration-tokens create``: initial access tokens for dynamic client registration (RFC 7591 §3),
which HOSPES_REGISTRATION=token requires (oauth/registration.py keeps only their digests)."""

from __future__ import annotations

from typing import Annotated

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, run

registration_tokens_app = typer.Typer(no_args_is_help=True,
                                      help="Initial access tokens for dynamic client registration (RFC 7591).")


@registration_tokens_app.command("create")
def registration_tokens_create(
    uses: Annotated[int | None, typer.Option("--uses", help="How many registrations it allows (default: any).")] = None,
    expires_in: Annotated[int | None, typer.Option(
        "--expires-in", help="Seconds until it stops working (default: never).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A new initial access token, shown once: a client sends it as Authorization: Bearer to /oauth/register."""
    from hospes.oauth import registration

    made = run(lambda s: registration.create_initial_token(s, uses=uses, expires_in=expires_in, actor=ACTOR))
    expires = made.expires_at.isoformat() if made.expires_at else None
    emit({"tokenId": made.id, "token": made.token, "uses": made.uses, "expiresAt": expires}, as_json,
         f"{made.token}\n(shown once; uses: {made.uses or 'any'}; expires: {expires or 'never'})")
