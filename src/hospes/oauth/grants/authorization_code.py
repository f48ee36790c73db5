"""grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5–4.6)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.oauth import errors, pkce
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.issuance import Authentication, issue_tokens, revoke_grant, wants_refresh
from hospes.oauth.provider import Provider
from hospes.oauth.tokens import digest
from hospes.store.models import AuthorizationCode, Grant, User

GRANT_TYPE = "authorization_code"


class CodeReplayed(Exception):
    """Raised after the revocation is committed, so it survives the failed request."""


def handle(provider: Provider, s: Session, client: AuthenticatedClient, form: Mapping[str, Sequence[str]],
           one: Any) -> dict[str, Any]:
    if client.grant_type != "authorization_code":
        raise errors.UnauthorizedClient("This client may not use the authorization code grant.")
    code = one("code")
    if not code:
        raise errors.InvalidRequest("The code parameter is required.")
    redirect_uri = one("redirect_uri")
    verifier = one("code_verifier")
    row = s.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code)))
    invalid = errors.InvalidGrant("The authorization code is invalid, expired or already used.")
    if row is None or row.credential_id != client.id:
        raise invalid
    if row.used_at is not None:
        # RFC 6749 §4.1.2: a code used twice revokes everything issued from it.
        revoke_grant(s, row.grant_id)
        raise CodeReplayed()
    if utc(row.expires_at) <= now():
        raise invalid
    if row.redirect_uri:
        if redirect_uri is None or not hmac.compare_digest(redirect_uri.encode(), row.redirect_uri.encode()):
            raise errors.InvalidGrant("The redirect_uri does not match the one in the authorization request.")
    elif redirect_uri is not None and redirect_uri not in client.redirect_uris:
        raise errors.InvalidGrant("The redirect_uri does not match the one in the authorization request.")
    if row.code_challenge:
        if not verifier:
            raise errors.InvalidGrant("The code_verifier is required.")
        if not pkce.verify(verifier, row.code_challenge):
            raise errors.InvalidGrant("The code_verifier does not match the code_challenge.")
    elif verifier is not None:
        # RFC 9700 §2.1.1: refuse a verifier when no challenge was sent (PKCE downgrade).
        raise errors.InvalidGrant("A code_verifier was sent but no code_challenge was.")
    # Single use, atomically: of two concurrent exchanges only one wins.
    claimed = s.execute(update(AuthorizationCode).where(AuthorizationCode.id == row.id,
                                                        AuthorizationCode.used_at.is_(None))
                        .values(used_at=now()))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        revoke_grant(s, row.grant_id)
        raise CodeReplayed()
    grant = s.get(Grant, row.grant_id)
    user = s.get(User, row.user_id)
    if grant is None or grant.revoked_at is not None or user is None or user.disabled:
        raise invalid
    scope = row.scope.split()
    auth = Authentication(auth_time=row.auth_time, acr=row.acr, amr=list(row.amr or []), nonce=row.nonce,
                          sid=row.session_id)
    return issue_tokens(provider, s, client=client, grant_id=grant.id, user=user, scope=scope, auth=auth,
                        refresh=wants_refresh(client, scope))
