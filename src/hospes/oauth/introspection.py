"""Token introspection (RFC 7662), for the client that holds the token.

Only the client a token was issued to learns that it is active (another client's is reported inactive, RFC
7662 §2.2): an operator's resource server that verifies opaque tokens this way introspects with the credentials
of the client that obtained them, or verifies a JWT access token (RFC 9068) offline instead. An active token
is described by its audience (``aud``: the resource it is for, RFC 8707, or the customer API), its scope,
person (``sub``; for a client_credentials token, which has none, the client's own identifier, as RFC 9068
§2.2 has it), client and, when known, the ``acr`` of the login behind it (RFC 9470: the resource decides
whether that is enough); a DPoP-bound token by ``token_type`` DPoP and ``cnf.jkt`` (RFC 9449 §6.2).
"""

from __future__ import annotations

from typing import Any

from hospes.clock import now
from hospes.oauth import audience, client_assertion, client_auth, errors
from hospes.oauth.claims import CONSENT_SCOPE
from hospes.oauth.client_assertion import Verifier
from hospes.oauth.params import MAX_TOKEN, Params, one
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store.clients import ClientRow

PATH = "/oauth/introspect"  # below the issuer: a client assertion's aud may name it


async def introspect(provider: Provider, authorization: str | None, form: Params) -> dict[str, Any]:
    # RFC 7662 §2.1: the endpoint requires authorization; public clients may not introspect.
    presented = client_auth.presented(authorization, form)
    token = one(form, "token") or ""
    hint = one(form, "token_type_hint")
    # One query: the client, and the token when it is live and this client's.
    row = await provider.lookups.introspection(
        presented.client_id, digest(token) if len(token) <= MAX_TOKEN else b"", now())
    verifier = provider.verifier(PATH)
    client = await client_assertion.keys_then(provider.client_keys, lambda: _check(
        presented, row.client if row else None, verifier))
    assert row is not None
    if client.assertion is not None:
        # Only a client that authenticated with a JWT pays for a write here: its jti, used once (RFC 7523 §3).
        await provider.db.writer.run(lambda tx: client_auth.record_assertion(tx, client))
    if not token:
        raise errors.InvalidRequest("The token parameter is required.")
    found = row.token(hint)
    # RFC 7662 §2.2: a token that is unknown, expired, revoked or another client's is just inactive.
    if found is None:
        return {"active": False}
    body: dict[str, Any] = {
        "active": True,
        "scope": found.scope,
        "client_id": client.identifier,
        "exp": found.expires_at,
        "iat": found.issued_at,
        # RFC 9068 §2.2 (RFC 7662 §2.2 sub): a client_credentials token acts for no person; its subject is
        # the client itself.
        "sub": found.sub if found.sub is not None else client.identifier,
        "aud": found.audience or audience.customer_api(provider.issuer),
        "iss": provider.issuer,
    }
    if found.acr is not None:
        body["acr"] = found.acr
    # RFC 7662 §2.2 makes username optional; here it is the email address, so it is told only to a token
    # whose scope releases the email claim (OIDC Core §5.4), as userinfo and the ID token would.
    if found.username is not None and CONSENT_SCOPE["email"] in found.scope.split():
        body["username"] = found.username
    if found.act:
        # RFC 8693 §4.1, §2.2: a token obtained by exchange says who acts for its subject.
        body["act"] = found.act
    if found.kind == "access_token":
        # RFC 7662 §2.2: token_type as in RFC 6749 §5.1; a refresh token has none. RFC 9449 §6.2: DPoP for one
        # bound to a key.
        body["token_type"] = "DPoP" if found.jkt is not None else "Bearer"
    if found.jkt is not None:
        # RFC 9449 §6.2: the key the token is bound to, for the resource server to check the proof against.
        body["cnf"] = {"jkt": found.jkt}
    return body


async def _check(presented: client_auth.Presented, row: ClientRow | None,
                 verifier: Verifier) -> client_auth.AuthenticatedClient:
    return client_auth.check(presented, row, allow_public=False, verifier=verifier)
