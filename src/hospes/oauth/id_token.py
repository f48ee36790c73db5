"""ID tokens (OpenID Connect Core §2, §3.1.3.6) and the hashes bound into them."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from hospes.clock import epoch
from hospes.oauth.keys import sign_jwt
from hospes.oauth.provider import Provider

_HASH = {"RS256": hashlib.sha256, "ES256": hashlib.sha256}


def half_hash(value: str, alg: str) -> str:
    """OpenID Connect Core §3.1.3.6: left half of the hash, base64url (at_hash, c_hash)."""
    d = _HASH[alg](value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(d[: len(d) // 2]).rstrip(b"=").decode("ascii")


def issue(
    provider: Provider, *, client_id: str, sub: str, auth_time: int, alg: str = "RS256",
    nonce: str | None = None, access_token: str | None = None, acr: str | None = None,
    amr: list[str] | tuple[str, ...] | None = None, sid: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    t = epoch()
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "sub": sub,
        "aud": client_id,
        "exp": t + provider.settings.id_token_ttl,
        "iat": t,
        "auth_time": auth_time,
        # OIDC Core §2: azp MAY be present with a single audience; strict RPs check it equals client_id.
        "azp": client_id,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["at_hash"] = half_hash(access_token, alg)
    if acr:
        claims["acr"] = acr
    if amr:
        claims["amr"] = list(amr)
    if sid:
        claims["sid"] = sid
    if extra:
        claims.update(extra)
    return sign_jwt(provider.keys, claims, typ="JWT", alg=alg)


def decode_hint(provider: Provider, token: str) -> dict[str, Any] | None:
    """Verify an ID token we issued (signature and issuer); expiry is not required (logout hints)."""
    if not token or len(token) > 8192:
        return None
    try:
        decoded = jwt.decode(token, provider.keys.verification_keys(), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    claims = dict(decoded.claims)
    if claims.get("iss") != provider.issuer or not isinstance(claims.get("sub"), str):
        return None
    return claims
