"""RFC 9068 JWT access tokens: what a resource server finds when it verifies one against the published JWKS."""

from __future__ import annotations

import json

from joserfc import jwt
from joserfc.jwk import KeySet

from hospes.oauth.access_jwt import AccessTokenClaims, sign
from hospes.oauth.keys import KeyRing
from hospes.store.db import Database

SECRET = b"test-secret-key-" + b"a" * 32
ISSUER = "https://id.example.com"
RESOURCE = "https://notes.example.com/api"


def _ring(db: Database) -> KeyRing:
    ring = KeyRing(db, 0, secret_key=SECRET)
    ring.ensure()
    return ring


def _verify(ring: KeyRing, token: str) -> jwt.Token:
    # As a resource server does: only the public JWKS, RS256 allowed.
    published = KeySet.import_key_set(json.loads(ring.jwks_json()))
    return jwt.decode(token, published, algorithms=["RS256"])


def test_an_access_token_carries_every_claim_of_rfc_9068_and_verifies_with_the_jwks(db: Database):
    ring = _ring(db)
    claims = AccessTokenClaims(
        issuer=ISSUER, audience=RESOURCE, subject="7b0c6a52-6d3e-4f4e-9b1e-2f4a5c1d9e01", client_id="abc123",
        scope="notes:read notes:write", issued_at=1_900_000_000, expires_at=1_900_003_600, jwt_id="j-1",
        auth_time=1_899_999_000, acr="2", amr=("pwd", "otp"))
    decoded = _verify(ring, sign(ring, claims))
    # RFC 9068 §2.1: typ at+jwt, and the kid of the RS256 key that signs now.
    assert decoded.header == {"typ": "at+jwt", "alg": "RS256", "kid": ring.signing_key("RS256").kid}
    # §2.2 and §2.2.1, nothing more.
    assert decoded.claims == {
        "iss": ISSUER, "aud": RESOURCE, "sub": "7b0c6a52-6d3e-4f4e-9b1e-2f4a5c1d9e01", "client_id": "abc123",
        "scope": "notes:read notes:write", "iat": 1_900_000_000, "exp": 1_900_003_600, "jti": "j-1",
        "auth_time": 1_899_999_000, "acr": "2", "amr": ["pwd", "otp"],
    }


def test_what_is_not_known_is_left_out(db: Database):
    ring = _ring(db)
    claims = AccessTokenClaims(issuer=ISSUER, audience=RESOURCE, subject="client-abc", client_id="abc",
                               scope="notes:read", issued_at=1, expires_at=2, jwt_id="j-2")
    decoded = _verify(ring, sign(ring, claims))
    assert set(decoded.claims) == {"iss", "aud", "sub", "client_id", "scope", "iat", "exp", "jti"}



def test_a_dpop_bound_token_names_its_key(db: Database):
    # RFC 9449 §6.1: the confirmation claim with the key's JWK SHA-256 thumbprint.
    ring = _ring(db)
    claims = AccessTokenClaims(issuer=ISSUER, audience=RESOURCE, subject="client-abc", client_id="abc",
                               scope="notes:read", issued_at=1, expires_at=2, jwt_id="j-3",
                               jkt="0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
    assert _verify(ring, sign(ring, claims)).claims["cnf"] == {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
