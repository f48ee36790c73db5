"""Token introspection (RFC 7662) and revocation (RFC 7009), for the client that holds the token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hospes.clock import now
from hospes.oauth import client_auth, errors
from hospes.oauth.access import ActiveToken, find_access_token, find_refresh_token
from hospes.oauth.issuance import revoke_grant
from hospes.oauth.provider import Provider
from hospes.oauth.token import one_getter
from hospes.oauth.tokens import digest
from hospes.store.models import AccessToken

HINTS = ("access_token", "refresh_token")


def _lookup(s: Any, token: str, hint: str | None) -> ActiveToken | None:
    # RFC 7009 §2.1 / RFC 7662 §2.1: the hint only orders the search.
    order = [find_refresh_token, find_access_token] if hint == "refresh_token" else [
        find_access_token, find_refresh_token]
    for find in order:
        found = find(s, token)
        if found is not None:
            return found
    return None


async def introspect(provider: Provider, authorization: str | None,
                     form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    one = one_getter(form)
    # RFC 7662 §2.1: the endpoint requires authorization; public clients may not introspect.
    presented = client_auth.presented(authorization, form)
    token = one("token") or ""
    hint = one("token_type_hint")
    # One query: the client, and the token when it is live and this client's.
    row = await provider.lookups.introspection(
        presented.client_id, digest(token) if len(token) <= 512 else b"", now())
    client_auth.verify(presented, row.secret_hash if row else None, known=row is not None, allow_public=False)
    assert row is not None
    if not token:
        raise errors.InvalidRequest("The token parameter is required.")
    # RFC 7662 §2.2: a token that is unknown, expired, revoked or another client's is just inactive.
    if not row.tokens:
        return {"active": False}
    # RFC 7662 §2.1: the hint only says which kind to look at first.
    found = sorted(row.tokens, key=lambda t: t.kind != (hint or "access_token"))[0]
    body: dict[str, Any] = {
        "active": True,
        "scope": found.scope,
        "client_id": row.identifier,
        "username": found.username,
        "exp": found.expires_at,
        "iat": found.issued_at,
        "sub": found.sub,
        "aud": row.identifier,
        "iss": provider.issuer,
    }
    if found.kind == "access_token":
        # RFC 7662 §2.2: token_type as in RFC 6749 §5.1; a refresh token has none.
        body["token_type"] = "Bearer"
    return body


def revoke(provider: Provider, authorization: str | None, form: Mapping[str, Sequence[str]]) -> None:
    one = one_getter(form)
    with provider.db.transaction() as s:
        client = client_auth.authenticate(s, authorization, form)
        token = one("token")
        if not token:
            raise errors.InvalidRequest("The token parameter is required.")
        hint = one("token_type_hint")
        if hint is not None and hint not in HINTS:
            raise errors.UnsupportedTokenType(f"Revoking tokens of type {hint!r} is not supported.")
        found = _lookup(s, token, hint)
        # RFC 7009 §2.2: an invalid or unknown token is answered 200 too.
        if found is None or found.credential_id != client.id:
            return
        if found.kind == "refresh_token":
            # RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of its grant.
            revoke_grant(s, found.grant_id)
        else:
            row = s.get(AccessToken, found.id)
            if row is not None:
                row.revoked_at = now()
