"""JWT access tokens (RFC 9068), for a resource server of the operator's own that verifies them offline with the
JWKS instead of asking introspection. Signed as ID tokens are (keys.sign_jwt), told apart from them by the
header's ``typ`` (RFC 9068 §2.1), which a resource server checks (§4) so an ID token is never taken for one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hospes.oauth.keys import KeyRing, sign_jwt

# RFC 9068 §2.1: the media type application/at+jwt, "application/" left out (RFC 7515 §4.1.9).
TYP = "at+jwt"


@dataclass(frozen=True)
class AccessTokenClaims:
    issuer: str
    audience: str  # the resource identifier (RFC 8707)
    subject: str  # the person's sub, as in ID tokens and userinfo
    client_id: str  # the credential's client identifier
    scope: str  # space-separated
    issued_at: int  # epoch seconds
    expires_at: int
    jwt_id: str  # unique per token
    auth_time: int | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    act: dict[str, Any] | None = None  # RFC 8693 §4.1: who acts for the subject (a token obtained by exchange)
    jkt: str | None = None  # the DPoP key the token is bound to (RFC 9449 §6.1)


def payload(c: AccessTokenClaims) -> dict[str, Any]:
    """The claims of RFC 9068 §2.2; auth_time, acr and amr only when known (§2.2.1); act for a token obtained by
    exchange (RFC 8693 §4.1); cnf for a DPoP-bound one."""
    claims: dict[str, Any] = {
        "iss": c.issuer,
        "exp": c.expires_at,
        "aud": c.audience,
        "sub": c.subject,
        "client_id": c.client_id,
        "iat": c.issued_at,
        "jti": c.jwt_id,
        "scope": c.scope,  # §2.2.3: space-separated, as RFC 8693 §4.2
    }
    if c.auth_time is not None:
        claims["auth_time"] = c.auth_time
    if c.acr:
        claims["acr"] = c.acr
    if c.amr:
        claims["amr"] = list(c.amr)
    if c.act:
        claims["act"] = c.act
    if c.jkt is not None:
        # RFC 9449 §6.1 (RFC 7800 §3.1): the confirmation claim names the key's thumbprint.
        claims["cnf"] = {"jkt": c.jkt}
    return claims


def sign(keys: KeyRing, claims: AccessTokenClaims) -> str:
    """The access token: ``claims`` signed with the key ring's current RS256 key (RFC 9068 §2.1: RS256 is the
    algorithm every resource server supports), ``typ`` at+jwt and the key's ``kid`` in the header."""
    return sign_jwt(keys, payload(claims), typ=TYP)
