"""Token revocation (RFC 7009), for the client that holds the token.

One unit of work on the store's writer, in plain SQL: the client and the token in one query (the
introspection's, store/clients.py), then the revocation and its audit entry.
"""

from __future__ import annotations

from hospes import audit, logs
from hospes.clock import now
from hospes.oauth import client_assertion, client_auth, errors
from hospes.oauth.params import MAX_TOKEN, Params, one
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store import grants as store
from hospes.store.audit import insert
from hospes.store.clients import client_with_token
from hospes.store.sql import Tx

HINTS = ("access_token", "refresh_token")
PATH = "/oauth/revoke"  # below the issuer: a client assertion's aud may name it


async def revoke(provider: Provider, authorization: str | None, form: Params, ip: str = "") -> None:
    """Revoke the token the form names, for the client that holds it; audited (``token.revoked``, from ``ip``)
    when a live token was revoked."""
    presented = client_auth.presented(authorization, form)
    request_id = logs.request_id()  # read here: on SQLite the unit runs on the writer's thread

    values = form.get("token") or ()
    # Looked up with the client; checked (not repeated, not too long) once the client is authenticated.
    candidate = values[0] if len(values) == 1 and len(values[0]) <= MAX_TOKEN else ""

    verifier = provider.verifier(PATH)

    async def unit(tx: Tx) -> None:
        t = now()
        row = await client_with_token(tx, presented.client_id, digest(candidate) if candidate else b"", t)
        client = client_auth.check(presented, row.client if row else None, verifier=verifier)
        assert row is not None
        if client.assertion is not None:
            await client_auth.record_assertion(tx, client)
        if not one(form, "token"):
            raise errors.InvalidRequest("The token parameter is required.")
        hint = one(form, "token_type_hint")
        if hint is not None and hint not in HINTS:
            raise errors.UnsupportedTokenType(f"Revoking tokens of type {hint!r} is not supported.")
        found = row.token(hint)
        # RFC 7009 §2.2: an invalid or unknown token, or another client's, is answered 200 too.
        if found is None:
            return
        if found.kind == "refresh_token":
            # RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of its grant.
            await store.revoke_grant(tx, found.grant_id, t)
        else:
            await store.revoke_access_token(tx, found.id, t)
        assert row is not None
        await insert(tx, audit.row(actor=f"oauth_credential:{row.client.id}", action="token.revoked",
                                   target=f"grant:{found.grant_id}", ip=ip, details={"kind": found.kind},
                                   client_id=row.client.identifier, request_id=request_id))

    await client_assertion.keys_then(provider.client_keys, lambda: provider.db.writer.run(unit))
