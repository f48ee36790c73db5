"""Client authentication by JWT (RFC 7523 §2.2 and §3, OIDC Core §9) at the token, introspection and revocation
endpoints: private_key_jwt with the client's registered keys, client_secret_jwt with its sealed secret; the
credential's method enforced; every bad assertion invalid_client (a malformed request invalid_request), never
a 500; a jti used once."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.registry import HeaderParameter

from hospes.config import ensure_secret_key
from hospes.oauth import credentials, resources
from hospes.oauth.client_assertion import ASSERTION_TYPE
from hospes.oauth.credentials import CLIENT_CREDENTIALS

ISSUER = "http://127.0.0.1:8000"
BILLING = "https://billing.example.com/api"
TOKEN = "/oauth/token.php"


class Client:
    def __init__(self, identifier: str, key: Any, alg: str, secret: str = "") -> None:
        self.identifier, self.key, self.alg, self.secret = identifier, key, alg, secret

    def assertion(self, *, aud: Any = ISSUER, key: Any = None, alg: str | None = None,
                  header: dict[str, Any] | None = None, **claims: Any) -> str:
        t = int(time.time())
        body = {"iss": self.identifier, "sub": self.identifier, "aud": aud, "iat": t, "exp": t + 60,
                "jti": str(uuid.uuid4()), **claims}
        body = {k: v for k, v in body.items() if v is not None}
        use = key if key is not None else self.key
        kid = getattr(use, "kid", None)
        head = {"alg": alg or self.alg, **({"kid": kid} if kid and not isinstance(use, OctKey) else {}),
                **(header or {})}
        # A registry that knows header "x", so a test can send it as critical (RFC 7515 §4.1.11).
        registry = jws.JWSRegistry(header_registry={"x": HeaderParameter("x", "int")}, algorithms=[head["alg"]])
        return jws.serialize_compact(head, json.dumps(body).encode(), use, registry=registry)


def form(assertion: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, **extra}


@pytest.fixture
def setup(db: Any, settings: Any) -> dict[str, Client]:
    """Clients of each kind, all allowed client_credentials for the billing resource."""
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
    made: dict[str, Client] = {}
    with db.transaction() as s:
        resources.add(s, issuer=ISSUER, identifier=BILLING, name="Billing", actor=None,
                      scopes=[("billing:read", "Read invoices")])
        jwks = {"keys": [k.as_dict(private=False) for k in (ec, rsa, ed)]}
        pk = credentials.create(s, grant_type=[CLIENT_CREDENTIALS], scope="billing:read",
                                token_endpoint_auth_method="private_key_jwt", jwks=jwks)
        made["ec"] = Client(pk.client_identifier, ec, "ES256")
        made["rsa"] = Client(pk.client_identifier, rsa, "PS256")
        made["ed"] = Client(pk.client_identifier, ed, "EdDSA")
        key = ensure_secret_key(settings).encode()  # the server's, which seals a client_secret_jwt secret
        cs = credentials.create(s, grant_type=[CLIENT_CREDENTIALS], scope="billing:read",
                                token_endpoint_auth_method="client_secret_jwt", secret_key=key)
        made["hs"] = Client(cs.client_identifier, OctKey.import_key(cs.client_secret.encode()), "HS256",
                            cs.client_secret)
        plain = credentials.create(s, grant_type=[CLIENT_CREDENTIALS], scope="billing:read")
        made["plain"] = Client(plain.client_identifier, OctKey.import_key(plain.client_secret.encode()), "HS256",
                               plain.client_secret)
    return made


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def refused(r: Any, error: str = "invalid_client") -> str:
    assert r.status_code in (400, 401), (r.status_code, r.text)
    assert r.json()["error"] == error, r.text
    return str(r.json().get("error_description", ""))


@pytest.mark.parametrize("kind", ["ec", "rsa", "ed", "hs"])
def test_each_kind_of_client_authenticates_with_its_jwt(client: Any, setup: dict[str, Client], kind: str) -> None:
    c = setup[kind]
    body = ok(client.post(TOKEN, data=form(c.assertion(), resource=BILLING)))
    assert body["scope"] == "billing:read"


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_client_secret_jwt_takes_every_hmac(client: Any, setup: dict[str, Client], alg: str) -> None:
    ok(client.post(TOKEN, data=form(setup["hs"].assertion(alg=alg), resource=BILLING)))


@pytest.mark.parametrize("aud", [ISSUER, ISSUER + TOKEN, ISSUER + "/oauth/token", [ISSUER, "https://other"]])
def test_the_audience_is_the_issuer_or_the_token_endpoint(client: Any, setup: dict[str, Client], aud: Any) -> None:
    ok(client.post(TOKEN, data=form(setup["ec"].assertion(aud=aud), resource=BILLING)))


def test_an_assertion_is_used_once(client: Any, setup: dict[str, Client]) -> None:
    a = setup["ec"].assertion()
    ok(client.post(TOKEN, data=form(a, resource=BILLING)))
    assert "used already" in refused(client.post(TOKEN, data=form(a, resource=BILLING)))
    # The same jti from another client is that client's own.
    ok(client.post(TOKEN, data=form(setup["hs"].assertion(jti="shared"), resource=BILLING)))
    ok(client.post(TOKEN, data=form(setup["ec"].assertion(jti="shared"), resource=BILLING)))


def _bad_assertions(c: dict[str, Client]) -> list[tuple[str, str]]:
    ec, hs = c["ec"], c["hs"]
    other = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    t = int(time.time())
    header, payload, _sig = ec.assertion().split(".")
    return [
        (ec.assertion(aud="https://elsewhere.example.com"), "aud"),
        (ec.assertion(aud=ISSUER + "/oauth/userinfo.php"), "aud"),
        (ec.assertion(aud=None), "aud"),
        (ec.assertion(exp=None), "exp"),
        (ec.assertion(exp=t - 120), "expired"),
        (ec.assertion(exp=t + 7200), "at most"),
        (ec.assertion(exp="soon"), "NumericDate"),
        (ec.assertion(nbf=t + 600), "future"),
        (ec.assertion(iat=t + 600), "future"),
        (ec.assertion(jti=None), "jti"),
        (ec.assertion(jti="x" * 300), "jti"),
        (ec.assertion(sub="someone-else"), "iss and sub"),
        (ec.assertion(key=other), "signature"),
        (ec.assertion(header={"kid": "unknown"}), "matches"),
        (ec.assertion(header={"crit": ["x"], "x": 1}), "critical"),
        (f"{header}.{payload}.", "signature"),
        (header + "." + payload, "malformed"),
        ("not-a-jwt", "malformed"),
        ("é.é.é", "malformed"),
        # private_key_jwt never takes an HMAC, even one keyed with something the server holds.
        (ec.assertion(alg="HS256", key=OctKey.import_key(b"k" * 64)), "private key"),
        # client_secret_jwt never takes a signature of a private key.
        (hs.assertion(alg="ES256", key=other), "HMAC"),
        (hs.assertion(key=OctKey.import_key(b"w" * 86)), "signature"),
        # The unsigned JWT of RFC 7519 §6 ({"alg":"none"}).
        ("eyJhbGciOiJub25lIn0." + payload + ".", "alg"),
    ]


def test_bad_assertions_are_invalid_client_with_a_reason(client: Any, setup: dict[str, Client]) -> None:
    for assertion, why in _bad_assertions(setup):
        r = client.post(TOKEN, data=form(assertion, resource=BILLING))
        assert r.status_code == 401, (why, r.text)
        assert why in refused(r), (why, r.text)


def test_the_registered_method_is_enforced(client: Any, setup: dict[str, Client]) -> None:
    plain, hs, ec = setup["plain"], setup["hs"], setup["ec"]
    # A client with a secret (no JWT method) cannot switch to an assertion made with that secret.
    refused(client.post(TOKEN, data=form(plain.assertion(), resource=BILLING)))
    # A client_secret_jwt client cannot fall back to sending its secret.
    r = client.post(TOKEN, data={"grant_type": "client_credentials", "resource": BILLING},
                    auth=(hs.identifier, hs.secret))
    assert "client_secret_jwt" in refused(r)
    # A private_key_jwt client has no secret to send, nor may it pretend to be public.
    refused(client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": ec.identifier}))
    refused(client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(ec.identifier, "")))


def test_malformed_requests_are_invalid_request(client: Any, setup: dict[str, Client]) -> None:
    ec, plain = setup["ec"], setup["plain"]
    a = ec.assertion()
    refused(client.post(TOKEN, data={"grant_type": "client_credentials", "client_assertion": a}), "invalid_request")
    refused(client.post(TOKEN, data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}),
            "invalid_request")
    refused(client.post(TOKEN, data=form(a), auth=(plain.identifier, plain.secret)), "invalid_request")
    refused(client.post(TOKEN, data=form(a, client_secret="x")), "invalid_request")
    saml = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    r = client.post(TOKEN, data={**form(a), "client_assertion_type": saml})
    assert "client_assertion_type" in refused(r)
    # RFC 7521 §4.2: a client_id sent must be the assertion's.
    assert "does not match" in refused(client.post(TOKEN, data=form(ec.assertion(), client_id=plain.identifier)))
    assert ok(client.post(TOKEN, data=form(ec.assertion(), client_id=ec.identifier, resource=BILLING)))


def test_introspection_and_revocation_take_the_jwt_too(client: Any, setup: dict[str, Client]) -> None:
    ec = setup["ec"]
    access = ok(client.post(TOKEN, data=form(ec.assertion(), resource=BILLING)))["access_token"]
    a = ec.assertion(aud=ISSUER + "/oauth/introspect")
    seen = ok(client.post("/oauth/introspect", data={"token": access, "client_assertion_type": ASSERTION_TYPE,
                                                     "client_assertion": a}))
    assert seen["active"] is True and seen["sub"] == ec.identifier
    # Used once here as well.
    refused(client.post("/oauth/introspect", data={"token": access, "client_assertion_type": ASSERTION_TYPE,
                                                   "client_assertion": a}))
    # The audience of one endpoint is not another's (the token endpoint's is accepted everywhere).
    refused(client.post("/oauth/introspect", data={
        "token": access, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": ec.assertion(aud=ISSUER + "/oauth/revoke")}))
    r = client.post("/oauth/revoke", data={"token": access, "client_assertion_type": ASSERTION_TYPE,
                                           "client_assertion": ec.assertion(aud=ISSUER + "/oauth/revoke")})
    assert r.status_code == 200, r.text
    seen = ok(client.post("/oauth/introspect", data={"token": access, "client_assertion_type": ASSERTION_TYPE,
                                                     "client_assertion": ec.assertion(aud=ISSUER + TOKEN)}))
    assert seen == {"active": False}


def test_keys_at_a_jwks_uri_are_kept_for_their_max_age_and_fetched_again_for_a_new_kid(monkeypatch: Any) -> None:
    from hospes.oauth import client_assertion, fetch
    from hospes.oauth.client_assertion import REFETCH_AFTER, ClientKeys, KeysNeeded
    from tests.aio import run

    uri = "https://rp.example.com/jwks"
    t = [1000.0]
    served: list[bytes] = []
    one = ECKey.generate_key("P-256", parameters={"kid": "one"})
    two = ECKey.generate_key("P-256", parameters={"kid": "two"})

    def fake_fetch(url: str, **kw: Any) -> fetch.Fetched:
        assert url == uri and kw["allow_private"] is False
        if not served:
            raise fetch.FetchError("The host did not answer.")
        return fetch.Fetched(served[-1], 120)

    monkeypatch.setattr(client_assertion.fetch, "fetch", fake_fetch)
    keys = ClientKeys(allow_private=False, clock=lambda: t[0])
    with pytest.raises(KeysNeeded):
        keys.at_uri(uri, "one")
    run(keys.fetch(uri))  # fails: remembered, and refused without another fetch for a while
    with pytest.raises(Exception, match="could not be fetched"):
        keys.at_uri(uri, "one")
    t[0] += REFETCH_AFTER
    served.append(json.dumps({"keys": [one.as_dict(private=False)]}).encode())
    with pytest.raises(KeysNeeded):
        keys.at_uri(uri, "one")
    run(keys.fetch(uri))
    assert [k.kid for k in keys.at_uri(uri, "one").keys] == ["one"]
    # A kid it does not hold: fetched again, but not more often than REFETCH_AFTER.
    served.append(json.dumps({"keys": [two.as_dict(private=False)]}).encode())
    assert keys.at_uri(uri, "two").keys[0].kid == "one"  # too soon: the held set, which will not verify
    t[0] += REFETCH_AFTER
    with pytest.raises(KeysNeeded):
        keys.at_uri(uri, "two")
    run(keys.fetch(uri))
    assert keys.at_uri(uri, "two").keys[0].kid == "two"
    # Past the max-age (120 s), fetched again.
    t[0] += 121
    with pytest.raises(KeysNeeded):
        keys.at_uri(uri, None)
    # A document holding a private key is refused like a bad registration.
    served.append(json.dumps({"keys": [two.as_dict(private=True)]}).encode())
    run(keys.fetch(uri))
    with pytest.raises(Exception, match="public keys only"):
        keys.at_uri(uri, "two")
