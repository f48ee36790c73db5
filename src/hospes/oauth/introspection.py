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


def introspect(provider: Provider, authorization: str | None, form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    one = one_getter(form)
    with provider.db.read() as s:
        # RFC 7662 §2.1: the endpoint requires authorization; public clients may not introspect.
        client = client_auth.authenticate(s, authorization, form, allow_public=False)
        token = one("token")
        if not token:
            raise errors.InvalidRequest("The token parameter is required.")
        found = _lookup(s, token, one("token_type_hint"))
        # RFC 7662 §2.2: a token of another client is reported inactive, revealing nothing.
        if found is None or found.credential_id != client.id:
            return {"active": False}
        body: dict[str, Any] = {
            "active": True,
            "scope": " ".join(found.scope),
            "client_id": found.client_identifier,
            "username": found.user.email,
            "exp": int(found.expires_at.timestamp()),
            "iat": int(found.issued_at.timestamp()),
            "sub": found.user.uuid,
            "aud": found.client_identifier,
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
