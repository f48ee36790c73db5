"""The customer API describes itself: an OpenAPI 3.1 document built from the operations' declarations, and
RFC 9728 protected-resource metadata at its §3.1 location (the issuer's path, if any, after the well-known
suffix). Both are public."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from hospes.api.operations import OPERATIONS
from hospes.config import load_settings
from hospes.oauth.scopes import API_SCOPES
from tests.api import token_for

ISSUER = "http://127.0.0.1:8000"


def test_the_openapi_document_describes_every_operation_its_scope_and_errors(client: Any) -> None:
    r = client.get("/api/v1/openapi.json", headers={"origin": "https://anywhere.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    doc = r.json()
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": ISSUER + "/api/v1"}]
    flows = doc["components"]["securitySchemes"]["customer"]["flows"]["authorizationCode"]
    assert set(flows["scopes"]) == set(API_SCOPES)
    assert flows["tokenUrl"] == ISSUER + "/oauth/token.php"
    described = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert described == {(op.method, op.path) for op in OPERATIONS}
    for op in OPERATIONS:
        entry = doc["paths"][op.path][op.method.lower()]
        assert entry["security"] == [{"customer": [op.scope] if op.scope else []}]
        assert str(op.status) in entry["responses"] and "401" in entry["responses"]
        assert ("403" in entry["responses"]) == (op.scope is not None)
        for code, answer in entry["responses"].items():
            schema = answer["content"]["application/json"]["schema"]
            if code.startswith("4"):
                assert schema == {"$ref": "#/components/schemas/Error"}
    contract = {"/me", "/accounts", "/services", "/services/{id}", "/domains", "/domains/{id}", "/invoices",
                "/invoices/{id}", "/tickets", "/tickets/{id}", "/tickets/{id}/replies"}
    assert contract == set(doc["paths"])
    assert doc["components"]["schemas"]["NewTicket"]["required"] == ["subject", "message"]


def test_the_protected_resource_metadata(client: Any) -> None:
    r = client.get("/.well-known/oauth-protected-resource/api/v1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    meta = r.json()
    assert meta["resource"] == ISSUER + "/api/v1"
    assert meta["authorization_servers"] == [ISSUER]
    assert meta["scopes_supported"] == list(API_SCOPES)
    assert meta["bearer_methods_supported"] == ["header"]
    # The authorization server it names says the same scopes exist.
    assert set(API_SCOPES) <= set(client.get("/.well-known/oauth-authorization-server").json()["scopes_supported"])


def test_under_an_issuer_path_the_metadata_is_path_inserted(database_url: str, tmp_path: Any, db: Any,
                                                            make_account: Any, make_credential: Any,
                                                            make_service: Any) -> None:
    from hospes.app import create_app

    issuer = ISSUER + "/tenant"
    settings = load_settings(issuer=issuer, database_url=database_url, var_dir=str(tmp_path / "var"),
                             secret_key="test-secret-key-" + "x" * 32)
    jane = make_account()
    make_service(jane.client_id, "Tenant Hosting")
    cred = make_credential(scope="services:read")
    with TestClient(create_app(settings), base_url=ISSUER, follow_redirects=False) as c:
        r = c.get("/tenant/api/v1/services")
        assert r.status_code == 401
        url = ISSUER + "/.well-known/oauth-protected-resource/tenant/api/v1"
        assert f'resource_metadata="{url}"' in r.headers["www-authenticate"]
        meta = c.get(url.removeprefix(ISSUER)).json()
        assert meta["resource"] == issuer + "/api/v1" and meta["authorization_servers"] == [issuer]
        assert c.get("/tenant/api/v1/openapi.json").json()["servers"] == [{"url": issuer + "/api/v1"}]
        # The whole way through, under the path.
        tok = _tenant_token(c, jane, cred)
        [svc] = c.get("/tenant/api/v1/services", headers={"authorization": f"Bearer {tok}"}).json()["data"]
        assert svc["product"] == "Tenant Hosting"


def _tenant_token(c: Any, acct: Any, cred: Any) -> str:
    from urllib.parse import urlencode

    from tests.browserless import authorize, query_of

    r = authorize(c, "/tenant/oauth/authorize.php?" + urlencode({
        "response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
        "scope": "services:read", "state": "s"}), acct.email, acct.password)
    code = query_of(r.headers["location"])["code"]
    tok = c.post("/tenant/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                  "redirect_uri": cred.redirect_uri},
                 auth=(cred.client_id, cred.client_secret))
    return str(tok.json()["access_token"])


def test_the_metadata_and_document_need_no_token_but_the_api_does(client: Any, make_account: Any,
                                                                  make_credential: Any) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    jane = make_account()
    tok = token_for(client, jane, make_credential(scope="openid"), "openid")["access_token"]
    me = client.get("/api/v1/me", headers={"authorization": f"Bearer {tok}"})
    assert me.status_code == 200 and set(me.json()) == {"sub"}
    assert client.get("/api/v1/accounts", headers={"authorization": f"Bearer {tok}"}).json() == {
        "data": [], "next": None}
