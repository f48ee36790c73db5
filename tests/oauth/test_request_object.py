"""Request objects (RFC 9101) as the server checks them: signed by the client's key with an allowed algorithm,
from the client (iss), for this server (aud), within their time, with a jti; and the parameters they make."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from hospes.oauth import errors, request_object
from tests.browserless import authorize, query_of

ISSUER = "http://127.0.0.1:8000"
CLIENT = "client-1"


def make_key(kind: str = "EC", kid: str | None = "k1") -> Any:
    key = ECKey.generate_key("P-256") if kind == "EC" else RSAKey.generate_key(2048)
    if kid is not None:
        key = type(key).import_key({**key.as_dict(private=True), "kid": kid})
    return key


def jwks_of(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": CLIENT, "aud": ISSUER, "exp": now + 60, "iat": now, "nbf": now, "jti": "j-1",
                            "client_id": CLIENT, "response_type": "code", "scope": "openid", "max_age": 300,
                            "claims": {"userinfo": {"email": None}}, "resource": ["https://a.example", "https://b"]}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, body: dict[str, Any], alg: str = "ES256", **header: Any) -> str:
    head = {"alg": alg, "typ": "oauth-authz-req+jwt", **header}
    if key.kid and "kid" not in header:
        head["kid"] = key.kid
    return jwt.encode({k: v for k, v in head.items() if v is not None}, body, key, algorithms=[alg])


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    return request_object.verify(token, jwks, client_id=CLIENT, issuer=ISSUER, at=int(time.time()))


def test_a_signed_request_object_makes_the_parameters():
    key = make_key()
    got = verify(sign(key, claims()), jwks_of(key))
    params = request_object.parameters(got, CLIENT)
    assert params == {"client_id": [CLIENT], "response_type": ["code"], "scope": ["openid"], "max_age": ["300"],
                      "claims": ['{"userinfo":{"email":null}}'], "resource": ["https://a.example", "https://b"]}
    assert request_object.jti_of(got) == ("j-1", got["exp"])


def test_keys_are_found_by_kid_or_tried_when_unnamed():
    ec, rsa = make_key("EC", "e"), make_key("RSA", None)
    jwks = jwks_of(ec, rsa)
    assert verify(sign(rsa, claims(), "RS256"), jwks)["iss"] == CLIENT
    assert verify(sign(rsa, claims(), "PS256"), jwks)["iss"] == CLIENT
    with pytest.raises(errors.InvalidRequestObject, match="signature"):
        verify(sign(ec, claims(), kid="other"), jwks)


@pytest.mark.parametrize("case", ["other key", "none", "HS256", "typ", "encrypted", "not a jwt"])
def test_a_badly_signed_request_object_is_refused(case):
    key = make_key()
    jwks = jwks_of(key)
    token = sign(make_key(), claims()) if case == "other key" else sign(key, claims())
    if case == "none":
        token = _b64({"alg": "none"}) + "." + token.split(".")[1] + "."
    elif case == "HS256":
        from joserfc.jwk import OctKey
        secret = OctKey.import_key("s" * 32)
        token = jwt.encode({"alg": "HS256"}, claims(), secret)
        jwks = {"keys": [secret.as_dict(private=True)]}
    elif case == "typ":
        token = sign(key, claims(), typ="dpop+jwt")
    elif case == "encrypted":
        token = "a.b.c.d.e"
    elif case == "not a jwt":
        token = "nonsense"
    with pytest.raises(errors.InvalidRequestObject):
        verify(token, jwks)


@pytest.mark.parametrize("over", [
    {"iss": "someone-else"}, {"iss": None}, {"aud": "https://other.example"}, {"aud": None},
    {"client_id": "client-2"}, {"exp": None}, {"exp": -5}, {"exp": 7200},
    {"nbf": 600}, {"iat": -7200}, {"jti": None}, {"jti": 7},
    {"request_uri": "https://x"}, {"exp": "soon"},
])
def test_a_request_object_with_wrong_claims_is_refused(over):
    # A time is given as seconds from now, taken when the test runs (a long run collects far earlier).
    t = int(time.time())
    over = {k: t + v if k in ("exp", "nbf", "iat") and isinstance(v, int) else v for k, v in over.items()}
    key = make_key()
    with pytest.raises(errors.InvalidRequestObject):
        verify(sign(key, claims(**over)), jwks_of(key))


def test_an_audience_list_with_the_issuer_is_accepted():
    key = make_key()
    assert verify(sign(key, claims(aud=[ISSUER, "https://x"])), jwks_of(key))


def test_parameters_refuse_values_no_query_could_carry():
    with pytest.raises(errors.InvalidRequestObject):
        request_object.parameters({"prompt": True}, CLIENT)
    with pytest.raises(errors.InvalidRequestObject):
        request_object.parameters({"scope": {"a": 1}}, CLIENT)


# -- at the authorization and PAR endpoints ----------------------------------------------------------------

APP_ISSUER = "http://127.0.0.1:8000"


@pytest.fixture
def keyed(make_credential: Any) -> tuple[Any, Any]:
    """A credential with its public key registered (jwks), and the private key."""
    key = make_key()
    return make_credential(scope="openid email", jwks=jwks_of(key)), key


def signed_request(cred: Any, key: Any, **over: Any) -> str:
    from tests.oauth.test_par import request_params

    body = {**request_params(cred), "iss": cred.client_id, "aud": APP_ISSUER, "client_id": cred.client_id,
            "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": secrets.token_urlsafe(16)}
    body.update(over)
    return sign(key, {k: v for k, v in body.items() if v is not None})


def with_request(cred: Any, request: str, **query: str) -> str:
    return "/oauth/authorize.php?" + urlencode({"client_id": cred.client_id, "request": request, **query})


def test_a_signed_request_object_is_authorized_and_the_query_ignored(client, make_account, keyed):
    from tests.oauth.test_par import VERIFIER
    from tests.oauth.test_token import exchange

    cred, key = keyed
    acct = make_account()
    r = authorize(client, with_request(cred, signed_request(cred, key), scope="openid profile", state="other"),
                  acct.email, acct.password)
    q = query_of(r.headers["location"])
    assert q["state"] == "pushed-state"
    tok = exchange(client, cred, q["code"], code_verifier=VERIFIER)
    assert tok.status_code == 200, tok.text
    assert set(tok.json()["scope"].split()) == {"openid", "email"}


def test_bad_request_objects_are_refused_at_the_authorization_endpoint(client, keyed, make_credential):
    from tests.oauth.test_authorize import assert_error_page

    cred, key = keyed
    valid = signed_request(cred, key)
    unsigned = _b64({"alg": "none"}) + "." + valid.split(".")[1] + "."  # the same claims, alg none
    assert_error_page(client.get(with_request(cred, unsigned)), "invalid_request_object")
    assert_error_page(client.get(with_request(cred, signed_request(cred, make_key()))), "invalid_request_object")
    assert_error_page(client.get(with_request(cred, signed_request(cred, key, aud="https://other.example"))),
                      "invalid_request_object")
    # A request object made for another client (its iss, client_id) is not this one's.
    other = make_credential(jwks=jwks_of(key))
    assert_error_page(client.get(with_request(other, signed_request(cred, key))), "invalid_request_object")
    # A client with no registered keys cannot send one.
    plain = make_credential()
    assert_error_page(client.get(with_request(plain, signed_request(plain, key))), "invalid_request_object")


def test_a_request_object_is_used_once(client, keyed):
    from tests.oauth.test_authorize import assert_error_page, is_login_page

    cred, key = keyed
    request = signed_request(cred, key)
    assert is_login_page(client.get(with_request(cred, request)))
    assert_error_page(client.get(with_request(cred, request)), "invalid_request_object")


def test_a_request_object_may_be_pushed(client, make_account, keyed):
    from tests.oauth.test_par import PAR, assert_json_error, authz_with

    cred, key = keyed
    acct = make_account()
    request = signed_request(cred, key)
    r = client.post(PAR, data={"request": request}, auth=(cred.client_id, cred.client_secret))
    assert r.status_code == 201, r.text
    back = authorize(client, authz_with(cred.client_id, r.json()["request_uri"]), acct.email, acct.password)
    assert query_of(back.headers["location"])["state"] == "pushed-state"
    again = client.post(PAR, data={"request": request}, auth=(cred.client_id, cred.client_secret))
    assert_json_error(again, "invalid_request_object")
    unsigned = client.post(PAR, data={"request": signed_request(cred, make_key())},
                           auth=(cred.client_id, cred.client_secret))
    assert_json_error(unsigned, "invalid_request_object")


def test_discovery_says_what_is_supported(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["request_parameter_supported"] is True
    assert meta["request_object_signing_alg_values_supported"] == list(request_object.ALGORITHMS)
    assert "none" not in meta["request_object_signing_alg_values_supported"]
    assert meta["request_uri_parameter_supported"] is False
