"""The DPoP proof checker (oauth/dpop.py) against RFC 9449 §4.3, with proofs made by joserfc as a client makes them."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from hospes.oauth import dpop, errors

ISSUER = "https://id.example.com/portal"
PATH = "/portal/oauth/userinfo.php"
URL = "https://id.example.com/portal/oauth/userinfo.php"
EC = ECKey.generate_key("P-256")


def proof(key: Any = EC, *, alg: str = "ES256", typ: str = "dpop+jwt", jwk: dict[str, Any] | None = None,
          **claims: Any) -> str:
    body = {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": URL, "iat": int(time.time())}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    header = {"typ": typ, "alg": alg, "jwk": jwk if jwk is not None else key.as_dict(private=False)}
    return jws.serialize_compact(header, json.dumps(body).encode(), key, algorithms=[alg]).__str__()


def checker(mode: str = "off", clock: Any = time.time) -> dpop.Dpop:
    return dpop.Dpop(ISSUER, b"k" * 32, mode, clock)


def refused(value: str, *, code: str = "invalid_dpop_proof", **kw: Any) -> errors.OAuthError:
    with pytest.raises(errors.OAuthError) as caught:
        checker(kw.pop("mode", "off")).check(value, kw.pop("method", "GET"), kw.pop("path", PATH), **kw)
    assert caught.value.error == code, caught.value.description
    return caught.value


def test_a_good_proof_gives_the_keys_thumbprint() -> None:
    p = checker().check(proof(), "GET", PATH)
    assert p.jkt == EC.thumbprint()
    assert p.remember_until == p.iat + dpop.IAT_PAST
    assert len(p.replay_digest) == 32


@pytest.mark.parametrize(("key", "alg"), [(RSAKey.generate_key(2048), "PS256"), (RSAKey.generate_key(2048), "RS256"),
                                          (OKPKey.generate_key("Ed25519"), "EdDSA"),
                                          (ECKey.generate_key("P-384"), "ES384")])
def test_every_advertised_kind_of_key(key: Any, alg: str) -> None:
    assert checker().check(proof(key, alg=alg), "GET", PATH).jkt == key.thumbprint()


def test_htu_is_compared_without_query_and_fragment_and_normalised() -> None:
    # RFC 9449 §4.3 item 9; RFC 3986 §6.2.2-6.2.3: case and the default port.
    c = checker()
    c.check(proof(htu=URL + "?x=1#f"), "GET", PATH)
    c.check(proof(htu="HTTPS://ID.example.com:443/portal/oauth/userinfo.php"), "GET", PATH)


def test_htu_is_built_from_the_issuer_not_the_request() -> None:
    refused(proof(htu="https://evil.example/portal/oauth/userinfo.php"))
    refused(proof(htu="http://id.example.com/portal/oauth/userinfo.php"))
    refused(proof(htu="https://id.example.com/oauth/userinfo.php"))


def test_wrong_method() -> None:
    assert "htm" in refused(proof(htm="POST")).description


def test_typ_alg_and_key_rules() -> None:
    assert "typ" in refused(proof(typ="JWT")).description
    hs = jws.serialize_compact({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct"}}, b"{}",
                               OctKey.import_key("s" * 32))
    assert "alg" in refused(hs).description
    # The private key in the header (§4.3 item 6).
    assert "private" in refused(proof(jwk=EC.as_dict(private=True))).description
    # A key of another type than the alg's.
    assert "not a key for" in refused(proof(jwk=RSAKey.generate_key(2048).as_dict(private=False))).description
    # An RSA key under 2048 bits.
    from cryptography.hazmat.primitives.asymmetric import rsa

    short = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    assert "2048" in refused(proof(short, alg="PS256")).description


def test_signature_by_another_key() -> None:
    other = ECKey.generate_key("P-256")
    forged = proof(other, jwk=EC.as_dict(private=False))
    assert "signature" in refused(forged).description


def test_not_a_jws() -> None:
    refused("abc")
    refused("a.b.c")
    refused("x" * (dpop.MAX_PROOF + 1))


def test_iat_window() -> None:
    refused(proof(iat=int(time.time()) - dpop.IAT_PAST - 5))
    refused(proof(iat=int(time.time()) + dpop.IAT_AHEAD + 5))
    refused(proof(iat="now"))
    refused(proof(iat=True))
    checker().check(proof(iat=int(time.time()) - dpop.IAT_PAST + 5), "GET", PATH)


def test_jti_required() -> None:
    refused(proof(jti=""))
    refused(proof(jti=7))


def test_ath_binds_the_access_token() -> None:
    token = secrets.token_urlsafe(32)
    checker().check(proof(ath=dpop.ath(token)), "GET", PATH, access_token=token, resource=True)
    refused(proof(ath=dpop.ath("another")), access_token=token, resource=True)
    refused(proof(), access_token=token, resource=True)


def test_nonces_per_mode() -> None:
    refused(proof(), mode="always", code="use_dpop_nonce")
    refused(proof(), mode="token", code="use_dpop_nonce")
    # "token": the resources take proofs without a nonce.
    checker("token").check(proof(), "GET", PATH, resource=True)
    c = checker("always")
    c.check(proof(nonce=c.nonces.current()), "GET", PATH)
    # A nonce that is not the server's is refused even when none is required, with a fresh one to retry with.
    exc = refused(proof(nonce="made-up"), mode="off", code="use_dpop_nonce")
    assert isinstance(exc, errors.UseDpopNonce) and exc.nonce == checker().nonces.current()


def test_nonces_are_the_same_on_every_node_and_expire() -> None:
    t = [1_000_000.0]
    a, b = checker("always", lambda: t[0]), checker("always", lambda: t[0])
    nonce = a.nonces.current()
    assert b.nonces.valid(nonce)  # another node, the same secret key: stateless
    t[0] += dpop.NONCE_SLOT
    assert b.nonces.valid(nonce)  # the next slot still accepts it
    t[0] += dpop.NONCE_SLOT
    assert not b.nonces.valid(nonce)
    assert not dpop.Dpop(ISSUER, b"other" * 8, "always", lambda: t[0]).nonces.valid(a.nonces.current())


def test_one_header_only() -> None:
    assert dpop.one_proof([]) is None
    assert dpop.one_proof(["x"]) == "x"
    with pytest.raises(errors.InvalidDpopProof):
        dpop.one_proof(["x", "y"])


def test_binding_at_a_resource() -> None:
    p = checker().check(proof(), "GET", PATH)
    dpop.bound("dpop", p.jkt, p)
    dpop.bound("bearer", None, None)
    with pytest.raises(errors.InvalidToken):
        dpop.bound("bearer", p.jkt, None)  # RFC 9449 §7.2: a bound token sent as Bearer
    with pytest.raises(errors.InvalidToken):
        dpop.bound("dpop", None, p)
    with pytest.raises(errors.InvalidDpopProof):
        dpop.bound("dpop", ECKey.generate_key("P-256").thumbprint(), p)


def test_scheme_and_token() -> None:
    assert dpop.scheme_and_token("DPoP abc") == ("dpop", "abc")
    assert dpop.scheme_and_token("bearer abc ") == ("bearer", "abc")
    assert dpop.scheme_and_token("Basic abc") is None
    assert dpop.scheme_and_token("DPoP ") is None
    assert dpop.scheme_and_token(None) is None
