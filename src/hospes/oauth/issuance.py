"""Minting access and refresh tokens for a grant, and the token response (RFC 6749 §5.1).

The writes go through store/grants.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hospes import audit
from hospes.clock import now
from hospes.oauth import access_jwt, errors, id_token
from hospes.oauth import claims as standard
from hospes.oauth.client_auth import AuthenticatedClient
from hospes.oauth.provider import Provider
from hospes.secrets import digest, new_token
from hospes.store import grants as store
from hospes.store.grants import GrantRow
from hospes.store.resources import ResourceRow
from hospes.store.sql import Person, Tx


@dataclass(frozen=True)
class Authentication:
    """What the ID token says about how the person logged in."""

    auth_time: int  # 0: not known (a token obtained by exchange: access tokens do not keep it)
    acr: str | None
    amr: list[str]
    nonce: str | None = None
    sid: str | None = None


def wants_refresh(client: AuthenticatedClient, scope: list[str]) -> bool:
    policy = client.refresh_token_policy
    return policy == "always" or (policy == "offline_access" and "offline_access" in scope)


# -- the token endpoint's write path (units of work on store/writer.py) ------------------------------


@dataclass(frozen=True)
class Issued:
    """What a grant wrote; the ID token is signed once the write is committed (``respond``)."""

    body: dict[str, Any]
    client: AuthenticatedClient
    user: Person | None  # None: a client_credentials token, for no person (never an ID token)
    scope: list[str]
    auth: Authentication
    claims: str | None = None  # the grant's, asked for with the claims parameter
    id_token: bool = True  # an ID token when openid was granted (not for an exchanged token, RFC 8693 §2.2.1)


@dataclass(frozen=True)
class Refused:
    """A refusal whose writes must still be committed (a replayed code revokes its grant, RFC 6749 §4.1.2)."""

    error: Exception


async def refuse_reuse(tx: Tx, grant_id: int) -> Refused:
    """A code or rotated refresh token came back: revoke the whole grant (RFC 6749 §4.1.2, RFC 9700
    §4.14.2), commit that, and fail the request."""
    await store.revoke_grant(tx, grant_id, now())
    return Refused(errors.InvalidGrant("The grant has been revoked: a code or refresh token was reused."))


async def issue_tokens(
    provider: Provider, tx: Tx, *, client: AuthenticatedClient, grant: GrantRow, scope: list[str],
    auth: Authentication, refresh: bool, jkt: str | None, event: str, refresh_scope: list[str] | None = None,
    act: dict[str, Any] | None = None, not_after: datetime | None = None, ip: str = "",
    request_id: str | None = None,
) -> Issued:
    """An access token (and a refresh token when ``refresh``) under ``grant``, in the unit ``tx``. The access
    token's audience is the grant's resource (RFC 8707; None: the customer API) and its acr the login's, so a
    refreshed token keeps the acr of the authentication the grant began with. ``jkt``: the key of the request's DPoP
    proof (RFC 9449 §5), which the access token is bound to (token_type DPoP), and a public client's refresh token
    too; None: a bearer token (every grant passes what its request proved, so a proof is never ignored). A token
    exchange (RFC 8693) passes the ``act`` claim and the subject token's expiry as ``not_after``, and gets no ID
    token.

    The audit entry (``event``: token.granted, token.refreshed or token.exchanged, from ``ip`` in request
    ``request_id``) is written with the access token's INSERT, in the same unit: no statement of its own on
    PostgreSQL (store/audit.py)."""
    settings = provider.settings
    t = now()
    grant_id, user = grant.id, grant.user
    scope_str = " ".join(scope)
    expires_at = t + timedelta(seconds=settings.access_token_ttl)
    if not_after is not None and not_after < expires_at:
        expires_at = not_after
    lifetime = max(0, int((expires_at - t).total_seconds()))
    if grant.token_format == "jwt" and grant.resource is not None:
        # RFC 9068: for a resource that verifies its tokens offline. Signed here, inside the unit, because its
        # digest is stored like an opaque token's (revocation and introspection find it): a signature that fails
        # fails the unit, so the code or refresh token is not used up for an answer never given.
        issued_at = int(t.timestamp())
        access = access_jwt.sign(provider.keys, access_jwt.AccessTokenClaims(
            issuer=provider.issuer, audience=grant.resource, subject=user.uuid, client_id=client.identifier,
            scope=scope_str, issued_at=issued_at, expires_at=issued_at + lifetime, jwt_id=new_token(),
            auth_time=auth.auth_time or None, acr=auth.acr, amr=tuple(auth.amr), act=act, jkt=jkt))
    else:
        access = new_token()
    entry = audit.row(actor=f"user:{user.id}", action=event, target=f"grant:{grant_id}", ip=ip,
                      details={"scope": scope_str, "with_refresh": refresh, "resource": grant.resource},
                      client_id=client.identifier, request_id=request_id)
    await store.create_access_token(tx, token_hash=digest(access), grant_id=grant_id, credential_id=client.id,
                                    user_id=user.id, scope=scope_str, audience=grant.resource, acr=auth.acr,
                                    issued_at=t, expires_at=expires_at, act=act, jkt=jkt, audit=entry)
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "DPoP" if jkt is not None else "Bearer",  # RFC 9449 §5
        "expires_in": lifetime,
        "scope": scope_str,
    }
    if refresh:
        rt = new_token()
        # RFC 6749 §6: a rotated refresh token keeps the scope of the one it replaces.
        await store.create_refresh_token(tx, token_hash=digest(rt), grant_id=grant_id, credential_id=client.id,
                                         user_id=user.id, scope=" ".join(refresh_scope) if refresh_scope else scope_str,
                                         auth_time=auth.auth_time, acr=auth.acr, amr=auth.amr, issued_at=t,
                                         expires_at=t + timedelta(seconds=settings.refresh_token_ttl),
                                         # RFC 9449 §5: a public client's refresh token is bound to the key; a
                                         # confidential client's is bound to its authentication already.
                                         jkt=jkt if client.public else None)
        body["refresh_token"] = rt
    return Issued(body, client, user, scope, auth, grant.claims, id_token=act is None)


# A client_credentials token's Authentication: no person logged in.
NO_LOGIN = Authentication(auth_time=0, acr=None, amr=[])


async def issue_client_token(provider: Provider, tx: Tx, *, client: AuthenticatedClient, resource: ResourceRow,
                             scope: list[str], jkt: str | None, ip: str = "", request_id: str | None = None) -> Issued:
    """A client_credentials access token (RFC 6749 §4.4.3) for the operator's ``resource``, in the unit ``tx``:
    for no person (its grant's and its own user_id NULL), with no refresh token (§4.4.3: "A refresh token
    SHOULD NOT be included") and no ID token. A resource of token format jwt gets an RFC 9068 JWT whose
    ``sub`` is the client's identifier (§2.2: "in cases of access tokens obtained through grants where no
    resource owner is involved, such as the client credentials grant, the value of sub SHOULD correspond to
    an identifier the authorization server uses to indicate the client application"), and no auth_time, acr
    or amr. ``jkt``: the key of the request's DPoP proof, which the token is bound to (RFC 9449 §5). Its audit
    entry (token.granted, the client as actor) is written with it."""
    settings = provider.settings
    t = now()
    scope_str = " ".join(scope)
    grant_id = await store.create_client_grant(tx, credential_id=client.id, scope=scope_str,
                                               resource=resource.identifier, at=t)
    if resource.token_format == "jwt":
        issued_at = int(t.timestamp())
        access = access_jwt.sign(provider.keys, access_jwt.AccessTokenClaims(
            issuer=provider.issuer, audience=resource.identifier, subject=client.identifier,
            client_id=client.identifier, scope=scope_str, issued_at=issued_at,
            expires_at=issued_at + settings.access_token_ttl, jwt_id=new_token(), jkt=jkt))
    else:
        access = new_token()
    entry = audit.row(actor=f"client:{client.identifier}", action="token.granted", target=f"grant:{grant_id}",
                      ip=ip, details={"scope": scope_str, "with_refresh": False, "resource": resource.identifier},
                      client_id=client.identifier, request_id=request_id)
    await store.create_access_token(tx, token_hash=digest(access), grant_id=grant_id, credential_id=client.id,
                                    user_id=None, scope=scope_str, audience=resource.identifier, acr=None,
                                    issued_at=t, expires_at=t + timedelta(seconds=settings.access_token_ttl),
                                    jkt=jkt, audit=entry)
    body: dict[str, Any] = {"access_token": access, "token_type": "DPoP" if jkt is not None else "Bearer",
                            "expires_in": settings.access_token_ttl, "scope": scope_str}
    return Issued(body, client, None, scope, NO_LOGIN)


def respond(provider: Provider, issued: Issued) -> dict[str, Any]:
    """The token response (RFC 6749 §5.1), with the ID token when openid was granted (OIDC Core §3.1.3.3)."""
    body = issued.body
    if "openid" in issued.scope and issued.id_token and issued.user is not None:
        auth = issued.auth
        body["id_token"] = id_token.issue(
            provider, client_id=issued.client.identifier, sub=issued.user.uuid, auth_time=auth.auth_time,
            alg=issued.client.id_token_signed_response_alg, nonce=auth.nonce, access_token=body["access_token"],
            acr=auth.acr, amr=auth.amr, sid=auth.sid,
            extra=standard.released(issued.user, issued.scope, standard.stored_for(issued.claims, "id_token")),
        )
    return body
