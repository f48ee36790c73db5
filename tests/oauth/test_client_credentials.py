"""grant_type=client_credentials (RFC 6749 §4.4, RFC 8707): a confidential client's token for itself, for one
of the operator's resource servers, acting for no person; what introspection, revocation, userinfo and the
customer API make of it; and the bad requests the RFCs name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from hospes.oauth import credentials, resources
from hospes.oauth.credentials import CLIENT_CREDENTIALS

ISSUER = "http://127.0.0.1:8000"
BILLING = "https://billing.example.com/api"
NOTES = "https://notes.example.com"
STRICT = "https://vault.example.com"
TOKEN = "/oauth/token.php"


@pytest.fixture
def machine(db: Any) -> Any:
    """Three resources (opaque, jwt, one requiring a second factor) and a client_credentials credential holding
    scopes of the first two."""
    with db.transaction() as s:
        resources.add(s, issuer=ISSUER, identifier=BILLING, name="Billing", actor=None,
                      scopes=[("billing:read", "Read invoices"), ("billing:write", "Change invoices")])
        resources.add(s, issuer=ISSUER, identifier=NOTES, name="Notes", actor=None, token_format="jwt",
                      scopes=[("notes:read", "Read notes")])
        resources.add(s, issuer=ISSUER, identifier=STRICT, name="Vault", actor=None, require_acr="2",
                      scopes=[("vault:read", "Read the vault")])
        made = credentials.create(s, grant_type=[CLIENT_CREDENTIALS], name="Billing job",
                                  scope="billing:read billing:write notes:read vault:read services:read openid")
    return made


def token(client: Any, cred: Any, **form: str) -> Any:
    return client.post(TOKEN, data={"grant_type": "client_credentials", **form},
                       auth=(cred.client_identifier, cred.client_secret))


def error_of(r: Any) -> str:
    assert r.status_code in (400, 401), (r.status_code, r.text)
    return str(r.json()["error"])


def test_a_machine_token_for_a_resource_acts_for_no_person(client: Any, machine: Any) -> None:
    r = token(client, machine, resource=BILLING, scope="billing:read")
    assert r.status_code == 200, r.text
    body = r.json()
    # RFC 6749 §4.4.3: no refresh token; no person, so no ID token.
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["scope"] == "billing:read"
    auth = (machine.client_identifier, machine.client_secret)
    seen = client.post("/oauth/introspect", data={"token": body["access_token"]}, auth=auth).json()
    assert seen["active"] is True and seen["aud"] == BILLING and seen["scope"] == "billing:read"
    # RFC 9068 §2.2: the subject of a token for no person is the client itself.
    assert seen["sub"] == machine.client_identifier == seen["client_id"] and "username" not in seen
    assert "acr" not in seen
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    # Userinfo, the customer API and the MCP server act for a person: RFC 6750 §3.1 invalid_token.
    for path in ("/oauth/userinfo.php", "/api/v1/services", "/api/v1/me"):
        r = client.get(path, headers=bearer)
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"], path
    # Revocation (RFC 7009) finds it too.
    assert client.post("/oauth/revoke", data={"token": body["access_token"]}, auth=auth).status_code == 200
    assert client.post("/oauth/introspect", data={"token": body["access_token"]}, auth=auth).json() == {
        "active": False}


def test_without_scope_every_scope_of_the_resource_the_client_holds(client: Any, machine: Any) -> None:
    r = token(client, machine, resource=BILLING)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "billing:read billing:write"


def test_without_resource_the_one_resource_of_the_clients_scopes(client: Any, db: Any, machine: Any) -> None:
    # This client holds the scopes of three resources: it must name one.
    assert error_of(token(client, machine)) == "invalid_target"
    with db.transaction() as s:
        only = credentials.create(s, grant_type=[CLIENT_CREDENTIALS], scope="billing:read")
    r = token(client, only)
    assert r.status_code == 200, r.text
    seen = client.post("/oauth/introspect", data={"token": r.json()["access_token"]},
                       auth=(only.client_identifier, only.client_secret)).json()
    assert seen["aud"] == BILLING and seen["scope"] == "billing:read"


def test_a_jwt_resource_gets_an_rfc9068_token_whose_subject_is_the_client(client: Any, machine: Any) -> None:
    r = token(client, machine, resource=NOTES)
    assert r.status_code == 200, r.text
    keys = KeySet.import_key_set(client.get("/oauth/certs.php").json())
    decoded = jwt.decode(r.json()["access_token"], keys, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    assert claims["sub"] == claims["client_id"] == machine.client_identifier
    assert claims["aud"] == NOTES and claims["scope"] == "notes:read" and claims["iss"] == ISSUER
    assert not {"auth_time", "acr", "amr"} & set(claims)


@pytest.mark.parametrize(("form", "error"), [
    ({"resource": BILLING, "scope": "billing:read notes:read"}, "invalid_scope"),  # another resource's
    ({"resource": BILLING, "scope": "billing:admin"}, "invalid_scope"),  # not held
    ({"resource": BILLING, "scope": "openid"}, "invalid_scope"),  # about a person
    ({"resource": ISSUER + "/api/v1"}, "invalid_target"),  # the customer API acts for a person
    ({"resource": ISSUER + "/mcp"}, "invalid_target"),
    ({"resource": STRICT}, "invalid_target"),  # requires a person's second factor
    ({"resource": "https://unknown.example.com"}, "invalid_target"),
    ({"resource": "not a uri"}, "invalid_target"),
])
def test_bad_requests_get_the_rfcs_errors(client: Any, machine: Any, form: dict[str, str], error: str) -> None:
    assert error_of(token(client, machine, **form)) == error


def test_only_a_confidential_client_whose_credential_lists_the_grant(client: Any, db: Any,
                                                                   make_credential: Any) -> None:
    code_client = make_credential()  # authorization_code only
    r = client.post(TOKEN, data={"grant_type": "client_credentials", "resource": BILLING},
                    auth=(code_client.client_id, code_client.client_secret))
    assert error_of(r) == "unauthorized_client"
    public = make_credential(public=True)
    r = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": public.client_id})
    assert error_of(r) == "unauthorized_client"
    with db.transaction() as s:
        machine = credentials.create(s, grant_type=[CLIENT_CREDENTIALS], scope="openid")
    r = client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(machine.client_identifier, "wrong"))
    assert r.status_code == 401 and error_of(r) == "invalid_client"


def test_discovery_advertises_the_grant_and_the_jwt_client_authentication(client: Any) -> None:
    doc = client.get("/.well-known/openid-configuration").json()
    assert "client_credentials" in doc["grant_types_supported"]
    for endpoint in ("token", "revocation", "introspection"):
        methods = doc[f"{endpoint}_endpoint_auth_methods_supported"]
        assert {"client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"} <= set(methods)
        algs = doc[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert "none" not in algs and {"RS256", "ES256", "HS256"} <= set(algs)
    assert "none" not in doc["introspection_endpoint_auth_methods_supported"]
    json.dumps(doc)
