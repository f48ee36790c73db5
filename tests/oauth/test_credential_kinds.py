"""Credentials of several grant types, with a way of authenticating and keys of their own (issue 16's
foundation): the one rule set in oauth/credentials.py, what store/clients.py reads back in the token
endpoint's single query, and the WHMCS fields that keep working."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from hospes.oauth import credentials
from hospes.oauth.credentials import CLIENT_CREDENTIALS, DEVICE_CODE, CredentialError
from hospes.store.clients import client_by_identifier
from hospes.store.models import OAuthCredential
from hospes.store.sql import drive, session_tx

SECRET_KEY = b"k" * 48


def public_jwks() -> dict[str, Any]:
    return {"keys": [ECKey.generate_key("P-256").as_dict(private=False) | {"kid": "k1", "use": "sig"}]}


def make(db: Any, **kw: Any) -> credentials.CreatedCredential:
    kw.setdefault("grant_type", "authorization_code")
    kw.setdefault("name", "App")
    kw.setdefault("scope", "openid")
    with db.transaction() as s:
        return credentials.create(s, **kw)


def row(db: Any, identifier: str) -> Any:
    with db.transaction() as s:
        return drive(client_by_identifier(session_tx(s), identifier))


def test_a_credential_lists_several_grant_types_and_the_single_query_reads_every_new_field(db):
    keys = public_jwks()
    made = make(db, grant_type=["authorization_code", CLIENT_CREDENTIALS, "refresh_token"],
                token_endpoint_auth_method="private_key_jwt", jwks=json.dumps(keys), dpop_bound=True,
                require_par=True)
    assert made.client_secret == ""  # private_key_jwt: no secret at all
    r = row(db, made.client_identifier)
    assert r.grant_types == frozenset({"authorization_code", "client_credentials", "refresh_token"})
    assert r.token_endpoint_auth_method == "private_key_jwt" and r.jwks == keys and r.jwks_uri is None
    assert r.dpop_bound is True and r.require_par is True
    assert r.public is False and r.secret_hash is None  # confidential without a secret
    with db.transaction() as s:
        cred = s.get(OAuthCredential, made.credential_id)
        assert cred.grant_type == "authorization_code client_credentials refresh_token"


def test_a_credential_of_an_earlier_release_reads_as_before(db):
    made = make(db)
    r = row(db, made.client_identifier)
    assert r.grant_types == frozenset({"authorization_code"}) and r.token_endpoint_auth_method is None
    assert r.public is False and r.dpop_bound is False and r.require_par is False and r.jwks is None
    public = make(db, public=True)
    assert row(db, public.client_identifier).public is True


@pytest.mark.parametrize(("kw", "message"), [
    ({"grant_type": "password"}, 'The requested grant type "password" is invalid.'),
    ({"grant_type": ""}, "A valid grant type is required."),
    ({"grant_type": ["single_sign_on", "authorization_code"]}, "cannot be combined"),
    ({"grant_type": "refresh_token"}, "refresh_token needs a grant type"),
    ({"grant_type": [CLIENT_CREDENTIALS], "public": True}, "may be public"),
    ({"grant_type": [CLIENT_CREDENTIALS], "token_endpoint_auth_method": "none"}, "may be public"),
    ({"token_endpoint_auth_method": "tls_client_auth"}, "must be one of"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "needs the client's public keys"),
    ({"public": True, "token_endpoint_auth_method": "private_key_jwt"}, "authenticates with none"),
    ({"jwks": public_jwks(), "jwks_uri": "https://rp.example.com/jwks"}, "not both"),
    ({"jwks": "{not json"}, "not valid JSON"),
    ({"jwks": {"keys": []}}, "non-empty"),
    ({"jwks": {"keys": [ECKey.generate_key("P-256").as_dict(private=True)]}}, "public keys only"),
    ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "RSA, EC or OKP"),
    ({"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}}, "cannot be read"),
    ({"jwks": {"keys": [RSAKey.generate_key(1024).as_dict(private=False)]}}, "2048"),
    ({"jwks": {"keys": [ECKey.generate_key("P-256").as_dict(private=False) | {"use": "enc"}]}}, "signatures"),
    ({"jwks_uri": "http://rp.example.com/jwks"}, "https"),
    ({"jwks_uri": "https://rp.example.com/jwks#x"}, "fragment"),
    ({"token_endpoint_auth_method": "client_secret_jwt"}, "secret key"),
])
def test_bad_combinations_are_refused_with_a_message(db, kw, message):
    with pytest.raises(CredentialError, match=message):
        make(db, **kw)


def test_a_device_credential_may_be_public_and_a_person_sees_its_name(db):
    with pytest.raises(CredentialError, match="name"):
        make(db, grant_type=[DEVICE_CODE], name="", public=True)
    made = make(db, grant_type=[DEVICE_CODE, "refresh_token"], public=True, name="TV")
    assert row(db, made.client_identifier).public is True
    # A machine client needs no name: nobody is asked to approve it.
    assert make(db, grant_type=[CLIENT_CREDENTIALS], name="").client_secret


def test_client_secret_jwt_keeps_the_secret_sealed_to_its_credential(db):
    made = make(db, grant_type=[CLIENT_CREDENTIALS], token_endpoint_auth_method="client_secret_jwt",
                secret_key=SECRET_KEY)
    r = row(db, made.client_identifier)
    assert r.secret_sealed is not None and made.client_secret.encode() not in r.secret_sealed
    assert credentials.open_secret(SECRET_KEY, made.client_identifier, r.secret_sealed) == made.client_secret
    # Bound to its row: it does not open for another identifier, nor under another key.
    assert credentials.open_secret(SECRET_KEY, "OTHER", r.secret_sealed) is None
    assert credentials.open_secret(b"x" * 48, made.client_identifier, r.secret_sealed) is None


def test_moving_between_ways_of_authenticating(db):
    made = make(db, grant_type=[CLIENT_CREDENTIALS])
    with db.transaction() as s:
        cred = s.get(OAuthCredential, made.credential_id)
        # To private_key_jwt: keys needed, and the secret goes.
        with pytest.raises(CredentialError, match="public keys"):
            credentials.update_credential(s, cred, token_endpoint_auth_method="private_key_jwt")
    with db.transaction() as s:
        cred = s.get(OAuthCredential, made.credential_id)
        assert credentials.update_credential(s, cred, token_endpoint_auth_method="private_key_jwt",
                                             jwks_uri="https://rp.example.com/jwks") is None
        assert cred.secret_hash is None and cred.jwks_uri == "https://rp.example.com/jwks"
        with pytest.raises(CredentialError, match="no secret to reset"):
            credentials.update_credential(s, cred, reset_secret=True)
    with db.transaction() as s:
        cred = s.get(OAuthCredential, made.credential_id)
        # jwks replaces jwks_uri (never both).
        credentials.update_credential(s, cred, jwks=public_jwks())
        assert cred.jwks_uri is None and cred.jwks is not None
        # Back to a secret: a new one, given once; to client_secret_jwt: sealed as well.
        secret = credentials.update_credential(s, cred, token_endpoint_auth_method="client_secret_post")
        assert secret and cred.secret_hash is not None and cred.secret_sealed is None
        secret2 = credentials.update_credential(s, cred, token_endpoint_auth_method="client_secret_jwt",
                                                secret_key=SECRET_KEY)
        assert secret2 and credentials.open_secret(SECRET_KEY, cred.identifier, cred.secret_sealed) == secret2
        # None of them can make it public.
        with pytest.raises(CredentialError, match="public and confidential"):
            credentials.update_credential(s, cred, token_endpoint_auth_method="none")
    public = make(db, public=True)
    with db.transaction() as s:
        cred = s.get(OAuthCredential, public.credential_id)
        with pytest.raises(CredentialError, match="public and confidential"):
            credentials.update_credential(s, cred, token_endpoint_auth_method="client_secret_basic")
        with pytest.raises(CredentialError, match="may be public"):
            credentials.update_credential(s, cred, grant_type=[CLIENT_CREDENTIALS])


def test_whmcs_fields_keep_working_and_the_extra_ones_are_listed(db):
    one = make(db)
    several = make(db, grant_type=[CLIENT_CREDENTIALS, "authorization_code"], dpop_bound=True,
                   token_endpoint_auth_method="client_secret_post")
    with db.transaction() as s:
        by_type = {c.id for c in credentials.list_credentials(s, grant_type="authorization_code")}
        machines = {c.id for c in credentials.list_credentials(s, grant_type="client_credentials")}
        listed = {c.id: credentials.to_whmcs(c) for c in credentials.list_credentials(s)}
    assert by_type == {one.credential_id, several.credential_id} and machines == {several.credential_id}
    assert listed[one.credential_id]["grantTypes"] == "authorization_code"
    assert listed[one.credential_id]["tokenEndpointAuthMethod"] == "client_secret_basic"
    assert listed[several.credential_id]["grantTypes"] == "client_credentials authorization_code"
    assert listed[several.credential_id]["tokenEndpointAuthMethod"] == "client_secret_post"
    assert listed[several.credential_id]["dpopBound"] is True and listed[one.credential_id]["requirePar"] is False
