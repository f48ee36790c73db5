"""The UserInfo endpoint (OpenID Connect Core §5.3) with bearer tokens (RFC 6750) and DPoP-bound ones (RFC 9449 §7).

A bearer request costs one indexed query, as before DPoP: the token's binding (``jkt``) is read in it, and a bound
token presented as a bearer token is refused. A DPoP request adds its proof's check and the jti's single use
(oauth/dpop.py ``remember``), its only write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from hospes.clock import now
from hospes.oauth import claims as standard
from hospes.oauth import dpop, errors
from hospes.oauth.params import MAX_TOKEN
from hospes.oauth.provider import Provider
from hospes.secrets import digest
from hospes.store import replay


def extract_token(authorization: str | None, form_token: list[str], query_token: list[str]) -> tuple[str, str]:
    """RFC 6750 §2: header, form body, or (WHMCS compatibility, §2.3) the query; exactly one. The header's scheme
    may be DPoP (RFC 9449 §7.1). The scheme ("bearer" or "dpop") and the token."""
    found: list[str] = []
    scheme = "bearer"
    if authorization:
        presented = dpop.scheme_and_token(authorization)
        if presented is None:
            raise errors.InvalidRequest("The Authorization header must use the Bearer or DPoP scheme.")
        scheme, value = presented
        found.append(value)
    found += form_token + query_token
    if not found:
        raise MissingToken()
    if len(found) > 1:
        # RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token."
        raise errors.InvalidRequest("Send the access token once, by one method.")
    return scheme, found[0]


class MissingToken(errors.OAuthError):
    """RFC 6750 §3.1: with no credentials, the challenge carries no error code."""

    error = "invalid_request"
    status_code = 401


class UserInfo(NamedTuple):
    claims: dict[str, Any]
    credential_id: int  # the client the token was issued to (web/: which origins may read the answer)


async def userinfo(provider: Provider, token: str, scheme: str = "bearer", proofs: Sequence[str] = (),
                   method: str = "GET", path: str = "") -> UserInfo:
    """The claims for ``token``, presented with ``scheme``; ``proofs``: the request's DPoP headers, ``method`` and
    ``path`` what its proof must name (RFC 9449 §4.3)."""
    proof = provider.dpop.at_resource(scheme, token, proofs, method, path)
    presentable = 0 < len(token) <= MAX_TOKEN
    lookups = provider.lookups
    if proof is not None and lookups.remembers_with_userinfo:
        # PostgreSQL: the proof's jti recorded in the read's own round trip (store/lookups.py).
        found, first = await lookups.userinfo_remembering(digest(token) if presentable else b"", now(),
                                                          replay.DPOP_PROOF, proof.replay_digest, dpop.expiry(proof))
        if found is None:
            raise errors.InvalidToken("The access token is invalid, expired or revoked.")
        dpop.bound(scheme, found.jkt, proof)
        if not first:
            raise dpop.replayed()
    else:
        found = await lookups.userinfo(digest(token), now()) if presentable else None
        if found is None:
            raise errors.InvalidToken("The access token is invalid, expired or revoked.")
        await dpop.admit(provider, scheme, found.jkt, proof)
    if "openid" not in found.scope:
        raise errors.InsufficientScope("The access token was not issued for OpenID Connect (scope openid).")
    claims: dict[str, Any] = {"sub": found.person.uuid}
    # OIDC Core §5.4 by scope, and §5.5 what the claims parameter asked userinfo for.
    claims.update(standard.released(found.person, found.scope, standard.stored_for(found.claims, "userinfo")))
    return UserInfo(claims, found.credential_id)
