"""ListOAuthCredentials, CreateOAuthCredential, UpdateOAuthCredential, DeleteOAuthCredential through
/includes/api.php: parameters, fields and WHMCS's error strings (reference/whmcs-oauth.md §5.2-5.5), in JSON and
XML; that what they create works at the token endpoint; and the audit rows they leave."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from hospes.oauth import pkce
from hospes.store.models import AuditEvent, OAuthCredential, Service
from tests.adminapi import (
    Api,
    api_cred_fixture,  # noqa: F401
    api_fixture,  # noqa: F401
    assert_no_secret,
    audit_rows,
    count,
    text,
)
from tests.browserless import authorize, query_of
from tests.conftest import Account, backend

RP = "https://rp.example.com/cb"
VERIFIER = "v" * 64


def create(api: Api, **params: Any) -> dict[str, Any]:
    fields = {"grantType": "authorization_code", "name": "Example App", "scope": "openid profile email",
              "redirectUri": RP, **params}
    return api.ok("CreateOAuthCredential", {k: v for k, v in fields.items() if v is not None})


def listed(api: Api, **params: Any) -> list[dict[str, Any]]:
    clients: list[dict[str, Any]] = api.ok("ListOAuthCredentials", params)["clients"]
    return clients


def code_for(api: Api, client_id: str, acct: Account, redirect_uri: str = RP,
             scope: str = "openid profile email") -> str:
    url = "/oauth/authorize.php?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
        "state": "st", "nonce": "n", "code_challenge": pkce.s256(VERIFIER), "code_challenge_method": "S256"})
    r = authorize(api.http, url, acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    q = query_of(r.headers["location"])
    assert q.get("state") == "st" and "code" in q, q
    return q["code"]


def token(api: Api, code: str, client_id: str, secret: str, redirect_uri: str = RP) -> Any:
    return api.http.post("/oauth/token.php", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": VERIFIER,
    }, auth=(client_id, secret))


# -- CreateOAuthCredential -----------------------------------------------------------------------------


def test_create_returns_whmcs_fields_and_the_credential_completes_a_code_flow(api, db, make_account):
    body = create(api, description="An app", logoUri="https://rp.example.com/logo.png")
    assert set(body) == {"result", "credentialId", "clientIdentifier", "clientSecret"}
    assert isinstance(body["credentialId"], int) and body["clientIdentifier"] and len(body["clientSecret"]) >= 40
    acct = make_account()
    code = code_for(api, body["clientIdentifier"], acct)
    tok = token(api, code, body["clientIdentifier"], body["clientSecret"])
    assert tok.status_code == 200, tok.text
    ui = api.http.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + tok.json()["access_token"]})
    assert ui.status_code == 200 and ui.json()["email"] == acct.email
    [row] = audit_rows(db, "oauth_credential.created")
    assert row.actor == f"api:apiadmin:{api.cred.identifier[:8]}"
    assert row.target == f"oauth_credential:{body['credentialId']}" and row.ip_address == "127.0.0.1"
    assert row.details["client_identifier"] == body["clientIdentifier"]
    assert_no_secret(audit_rows(db), body["clientSecret"], api.cred.secret)


def test_create_in_xml(api, db):
    root = api.xml("CreateOAuthCredential", [("grantType", "authorization_code"), ("name", "X & <Y>"),
                                              ("scope", "openid email"), ("redirectUri[]", RP),
                                              ("redirectUri[]", "http://127.0.0.1:9/cb")])
    assert text(root, "result") == "success"
    cid = int(text(root, "credentialId"))
    identifier, secret = text(root, "clientIdentifier"), text(root, "clientSecret")
    assert identifier and secret
    [row] = listed(api)
    assert row["credentialId"] == cid and row["clientIdentifier"] == identifier and row["name"] == "X & <Y>"
    assert row["redirectUri"] == [RP, "http://127.0.0.1:9/cb"]


def test_granttype_lower_case_from_old_whmcs_examples_is_accepted(api):
    body = api.ok("CreateOAuthCredential", {"granttype": "authorization_code", "name": "Old", "scope": "openid"})
    assert listed(api)[0]["credentialId"] == body["credentialId"]


def test_single_sign_on_credential_needs_a_service_of_a_client(api, make_account, make_service):
    acct = make_account()
    sid = make_service(acct.client_id)
    body = create(api, grantType="single_sign_on", name=None, serviceId=str(sid), scope="clientarea:sso",
                  redirectUri=None)
    [row] = listed(api)
    assert row["credentialId"] == body["credentialId"] and row["grantTypes"] == "single_sign_on"
    assert row["serviceId"] == sid and row["name"] == ""


CREATE_ERRORS = [
    # (parameters, WHMCS's message): each also shows which check comes first when several fail.
    ({"scope": "bogus"}, "A valid grant type is required."),
    ({"grantType": "", "name": ""}, "A valid grant type is required."),
    ({"grantType": "password", "scope": "bogus"}, 'The requested grant type "password" is invalid.'),
    ({"grantType": "authorization_code", "scope": "bogus"}, "A name for the Client Credential is required."),
    ({"grantType": "authorization_code", "name": "   ", "scope": "openid"},
     "A name for the Client Credential is required."),
    ({"grantType": "single_sign_on", "scope": "bogus"},
     "A service ID is required for the single sign-on grant type."),
    ({"grantType": "authorization_code", "name": "A"}, "At least one valid scope is required."),
    ({"grantType": "authorization_code", "name": "A", "scope": "  "}, "At least one valid scope is required."),
    ({"grantType": "authorization_code", "name": "A", "scope": "openid bogus"},
     'The requested scope "bogus" is invalid.'),
    ({"grantType": "single_sign_on", "serviceId": "999", "scope": "bogus"},
     'The requested scope "bogus" is invalid.'),
    ({"grantType": "single_sign_on", "serviceId": "999", "scope": "clientarea:sso"},
     "A valid Service ID is required."),
    ({"grantType": "single_sign_on", "serviceId": "abc", "scope": "clientarea:sso"},
     "A valid Service ID is required."),
    ({"grantType": "single_sign_on", "serviceId": "99999999999", "scope": "clientarea:sso"},
     "A valid Service ID is required."),
]


@pytest.mark.parametrize(("params", "message"), CREATE_ERRORS)
def test_create_errors_in_whmcs_order(api, db, params, message):
    assert api.error("CreateOAuthCredential", params) == message
    root = api.xml("CreateOAuthCredential", params)
    assert text(root, "result") == "error" and text(root, "message") == message
    assert count(db, OAuthCredential) == 0
    assert audit_rows(db, "oauth_credential.created") == []


def test_service_not_associated_with_valid_client(api, db, make_account, make_service):
    """A service whose client row is gone (as after a raw delete in WHMCS): foreign keys forbid it in Hospes,
    so the test makes one with them switched off for one session."""
    acct = make_account()
    make_service(acct.client_id)
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        pg = backend() == "postgresql"
        cur.execute("SET session_replication_role = replica" if pg else "PRAGMA foreign_keys=OFF")
        cur.execute("INSERT INTO services (id, client_id, product_name, domain, username, status) "
                    "VALUES (77, 9999, 'Orphan', '', '', 'Active')")
        raw.commit()
        cur.execute("SET session_replication_role = DEFAULT" if pg else "PRAGMA foreign_keys=ON")
        raw.commit()
    finally:
        raw.close()
    with db.transaction() as s:
        assert s.get(Service, 77) is not None
    message = api.error("CreateOAuthCredential", {"grantType": "single_sign_on", "serviceId": "77",
                                                  "scope": "clientarea:sso"})
    assert message == "Service ID not associated with valid Client."
    assert count(db, OAuthCredential) == 0


def test_redirect_uri_as_php_array_indexed_array_and_single_value(api):
    a = api.ok("CreateOAuthCredential", [("grantType", "authorization_code"), ("name", "A"), ("scope", "openid"),
                                         ("redirectUri[]", "https://a.example.com/cb"),
                                         ("redirectUri[]", "https://b.example.com/cb")])
    b = api.ok("CreateOAuthCredential", [("grantType", "authorization_code"), ("name", "B"), ("scope", "openid"),
                                         ("redirectUri[0]", "https://a.example.com/cb"),
                                         ("redirectUri[1]", "com.example.app:/cb")])
    c = create(api, name="C", redirectUri="https://c.example.com/cb")
    rows = {r["credentialId"]: r["redirectUri"] for r in listed(api)}
    assert rows[a["credentialId"]] == ["https://a.example.com/cb", "https://b.example.com/cb"]
    assert rows[b["credentialId"]] == ["https://a.example.com/cb", "com.example.app:/cb"]
    assert rows[c["credentialId"]] == ["https://c.example.com/cb"]


BAD_REDIRECTS = [
    ["https://rp.example.com/cb#frag"],
    ["/cb"],
    ["rp.example.com/cb"],
    ["http://rp.example.com/cb"],
    ["javascript:alert(1)"],
    ["https://*.example.com/cb"],
    ["https://rp.example.com/cb", "https://rp.example.com/cb"],
    ["https://rp.example.com/" + "x" * 2100],
]


@pytest.mark.parametrize("uris", BAD_REDIRECTS)
def test_malformed_or_duplicate_redirect_uris_are_refused_and_nothing_is_written(api, db, uris):
    fields = [("grantType", "authorization_code"), ("name", "A"), ("scope", "openid")]
    body = api.json("CreateOAuthCredential", fields + [("redirectUri[]", u) for u in uris])
    assert body["result"] == "error" and body["message"], body
    assert count(db, OAuthCredential) == 0
    made = create(api, name="Kept")
    body = api.json("UpdateOAuthCredential", [("credentialId", str(made["credentialId"])), ("name", "Changed")]
                    + [("redirectUri[]", u) for u in uris])
    assert body["result"] == "error", body
    [row] = listed(api)
    assert row["name"] == "Kept" and row["redirectUri"] == [RP]
    assert audit_rows(db, "oauth_credential.updated") == []


def test_over_long_and_ill_typed_values_are_refused(api, db):
    assert "255" in api.error("CreateOAuthCredential", {"grantType": "authorization_code", "name": "n" * 256,
                                                        "scope": "openid"})
    assert count(db, OAuthCredential) == 0
    create(api)
    assert api.error("ListOAuthCredentials", {"limit": "ten"})
    assert api.error("UpdateOAuthCredential", {"credentialId": "abc"}) == "Invalid Credential ID provided."
    assert api.error("UpdateOAuthCredential", {"credentialId": "99999999999"}) == "Invalid Credential ID provided."


# -- ListOAuthCredentials ------------------------------------------------------------------------------


def test_list_fields_filter_sort_and_limit(api, make_account, make_service):
    acct = make_account()
    sid = make_service(acct.client_id)
    a = create(api, name="Alpha", description="first", logoUri="https://rp.example.com/a.png")
    b = create(api, name="Beta", redirectUri=None)
    s = create(api, grantType="single_sign_on", name=None, serviceId=str(sid), scope="clientarea:sso",
               redirectUri=None)
    rows = listed(api)
    assert [r["credentialId"] for r in rows] == [a["credentialId"], b["credentialId"], s["credentialId"]]
    first = rows[0]
    for field in ("credentialId", "name", "description", "grantTypes", "scope", "clientIdentifier", "clientSecret",
                  "uuid", "serviceId", "logoUri", "redirectUri", "rsaKeyPairId", "createdAt", "updatedAt"):
        assert field in first, field
    # Secrets are stored hashed: the field is there and empty.
    assert all(r["clientSecret"] == "" for r in rows)
    assert first["name"] == "Alpha" and first["description"] == "first" and first["grantTypes"] == "authorization_code"
    assert first["scope"] == "openid profile email" and first["serviceId"] == 0 and first["rsaKeyPairId"] == 0
    assert first["logoUri"] == "https://rp.example.com/a.png" and first["redirectUri"] == [RP]
    assert first["clientIdentifier"] == a["clientIdentifier"] and first["createdAt"]
    assert rows[1]["redirectUri"] == []
    assert [r["credentialId"] for r in listed(api, grantType="single_sign_on")] == [s["credentialId"]]
    assert [r["credentialId"] for r in listed(api, grantType="authorization_code")] == [a["credentialId"],
                                                                                        b["credentialId"]]
    by_name = listed(api, sortField="name", sortOrder="DESC")
    assert [r["name"] for r in by_name] == ["Beta", "Alpha", ""]
    assert [r["credentialId"] for r in listed(api, sortOrder="DESC", limit="2")] == [s["credentialId"],
                                                                                   b["credentialId"]]
    assert len(listed(api, limit="1")) == 1


def test_list_in_xml(api):
    a = create(api, name="Alpha")
    create(api, name="Beta", redirectUri=None)
    root = api.xml("ListOAuthCredentials")
    assert text(root, "result") == "success"
    clients = root.findall("clients")
    assert len(clients) == 2
    assert text(clients[0], "credentialId") == str(a["credentialId"])
    assert text(clients[0], "clientIdentifier") == a["clientIdentifier"]
    assert clients[0].find("clientSecret") is not None and text(clients[0], "clientSecret") == ""
    assert [e.text for e in clients[0].findall("redirectUri")] == [RP]
    assert text(clients[1], "name") == "Beta"


# -- UpdateOAuthCredential -----------------------------------------------------------------------------


def test_update_by_credential_id_and_by_client_identifier(api, db):
    made = create(api)
    body = api.ok("UpdateOAuthCredential", [("credentialId", str(made["credentialId"])), ("name", "Renamed"),
                                            ("description", "New words"), ("scope", "openid email"),
                                            ("logoUri[]", "https://rp.example.com/new.png"),
                                            ("redirectUri[]", "https://rp.example.com/a"),
                                            ("redirectUri[]", "https://rp.example.com/b")])
    assert body == {"result": "success", "credentialId": made["credentialId"]}
    [row] = listed(api)
    assert (row["name"], row["description"], row["scope"]) == ("Renamed", "New words", "openid email")
    assert row["logoUri"] == "https://rp.example.com/new.png"
    assert row["redirectUri"] == ["https://rp.example.com/a", "https://rp.example.com/b"]
    body = api.ok("UpdateOAuthCredential", {"clientApiIdentifier": made["clientIdentifier"], "name": "Again",
                                            "redirectUri": RP})
    assert body == {"result": "success", "credentialId": made["credentialId"]}
    [row] = listed(api)
    assert row["name"] == "Again" and row["redirectUri"] == [RP] and row["scope"] == "openid email"
    root = api.xml("UpdateOAuthCredential", {"credentialId": str(made["credentialId"]), "description": "x"})
    assert text(root, "result") == "success" and text(root, "credentialId") == str(made["credentialId"])
    assert root.find("newClientSecret") is None
    rows = audit_rows(db, "oauth_credential.updated")
    assert len(rows) == 3 and all(r.target == f"oauth_credential:{made['credentialId']}" for r in rows)
    assert rows[0].details["fields"] == ["description", "logo_uri", "name", "redirect_uris", "scope"]


UPDATE_ERRORS = [
    ({}, "A Credential ID or Client Identifier is required."),
    ({"name": "x"}, "A Credential ID or Client Identifier is required."),
    ({"credentialId": "999"}, "Invalid Credential ID provided."),
    ({"clientApiIdentifier": "HOSPES.nope"}, "Invalid Client Identifier provided."),
    ({"credentialId": "{id}", "grantType": "implicit"}, 'The requested grant type "implicit" is invalid.'),
    ({"credentialId": "{id}", "name": ""}, "A name for the Client Credential is required."),
    ({"credentialId": "{id}", "grantType": "single_sign_on"},
     "A service ID is required for the single sign-on grant type."),
    ({"credentialId": "{id}", "scope": "openid nope"}, 'The requested scope "nope" is invalid.'),
    ({"credentialId": "{id}", "scope": ""}, "At least one valid scope is required."),
]


@pytest.mark.parametrize(("params", "message"), UPDATE_ERRORS)
def test_update_errors(api, db, params, message):
    made = create(api)
    params = {k: v.replace("{id}", str(made["credentialId"])) for k, v in params.items()}
    assert api.error("UpdateOAuthCredential", params) == message
    assert text(api.xml("UpdateOAuthCredential", params), "message") == message
    [row] = listed(api)
    assert row["name"] == "Example App" and row["scope"] == "openid profile email" and row["grantTypes"] == \
        "authorization_code"
    assert audit_rows(db, "oauth_credential.updated") == []


def test_reset_secret_returns_new_secret_and_the_old_one_fails_at_once(api, db, make_account):
    made = create(api, scope="openid email")
    acct = make_account()
    body = api.ok("UpdateOAuthCredential", {"credentialId": str(made["credentialId"]), "resetSecret": "true"})
    new = body["newClientSecret"]
    assert set(body) == {"result", "credentialId", "newClientSecret"} and new and new != made["clientSecret"]
    code = code_for(api, made["clientIdentifier"], acct, scope="openid email")
    old = token(api, code, made["clientIdentifier"], made["clientSecret"])
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    ok = token(api, code, made["clientIdentifier"], new)
    assert ok.status_code == 200, ok.text
    # By client identifier, in XML: another reset, and the previous secret stops too.
    root = api.xml("UpdateOAuthCredential", {"clientApiIdentifier": made["clientIdentifier"], "resetSecret": "1"})
    newer = text(root, "newClientSecret")
    assert newer and newer != new
    code = code_for(api, made["clientIdentifier"], acct, scope="openid email")
    assert token(api, code, made["clientIdentifier"], new).json()["error"] == "invalid_client"
    assert token(api, code, made["clientIdentifier"], newer).status_code == 200
    resets = audit_rows(db, "oauth_credential.secret_reset")
    assert len(resets) == 2 and all(r.target == f"oauth_credential:{made['credentialId']}" for r in resets)
    assert_no_secret(audit_rows(db), made["clientSecret"], new, newer, api.cred.secret)
    # resetSecret false-ish: no new secret.
    body = api.ok("UpdateOAuthCredential", {"credentialId": str(made["credentialId"]), "resetSecret": "0"})
    assert "newClientSecret" not in body


# -- DeleteOAuthCredential -----------------------------------------------------------------------------


def test_delete_removes_the_credential_and_revokes_its_tokens(api, db, make_account):
    made = create(api, scope="openid email offline_access")
    keep = create(api, name="Other")
    acct = make_account()
    code = code_for(api, made["clientIdentifier"], acct, scope="openid email offline_access")
    tok = token(api, code, made["clientIdentifier"], made["clientSecret"]).json()
    bearer = {"Authorization": "Bearer " + tok["access_token"]}
    assert api.http.get("/oauth/userinfo.php", headers=bearer).status_code == 200
    body = api.ok("DeleteOAuthCredential", {"credentialId": str(made["credentialId"])})
    assert body == {"result": "success", "credentialId": made["credentialId"]}
    assert api.http.get("/oauth/userinfo.php", headers=bearer).status_code == 401
    if "refresh_token" in tok:
        r = api.http.post("/oauth/token.php", data={"grant_type": "refresh_token",
                                                     "refresh_token": tok["refresh_token"]},
                          auth=(made["clientIdentifier"], made["clientSecret"]))
        assert r.status_code in (400, 401)
    assert [r["credentialId"] for r in listed(api)] == [keep["credentialId"]]
    [row] = audit_rows(db, "oauth_credential.deleted")
    assert row.target == f"oauth_credential:{made['credentialId']}" and row.ip_address == "127.0.0.1"
    assert row.details["client_identifier"] == made["clientIdentifier"]
    # Deleting it again: WHMCS's message.
    assert api.error("DeleteOAuthCredential", {"credentialId": str(made["credentialId"])}) == \
        "Invalid Credential ID provided."


@pytest.mark.parametrize("params", [{}, {"credentialId": ""}, {"credentialId": "abc"}, {"credentialId": "999"},
                                    {"credentialId": "99999999999"}, {"credentialId": "-1"}])
def test_delete_errors(api, db, params):
    create(api)
    assert api.error("DeleteOAuthCredential", params) == "Invalid Credential ID provided."
    assert text(api.xml("DeleteOAuthCredential", params), "message") == "Invalid Credential ID provided."
    assert count(db, OAuthCredential) == 1


def test_delete_in_xml(api):
    made = create(api)
    root = api.xml("DeleteOAuthCredential", {"credentialId": str(made["credentialId"])})
    assert text(root, "result") == "success" and text(root, "credentialId") == str(made["credentialId"])
    assert listed(api) == []


def test_every_change_leaves_an_audit_row_without_secrets(api, db):
    made = create(api)
    api.ok("UpdateOAuthCredential", {"credentialId": str(made["credentialId"]), "name": "N", "resetSecret": "1"})
    api.ok("DeleteOAuthCredential", {"credentialId": str(made["credentialId"])})
    api.ok("ListOAuthCredentials")
    rows = [r for r in audit_rows(db) if r.action.startswith("oauth_credential.")]
    assert [r.action for r in rows] == ["oauth_credential.created", "oauth_credential.updated",
                                        "oauth_credential.secret_reset", "oauth_credential.deleted"]
    for row in rows:
        assert isinstance(row, AuditEvent)
        assert row.actor == f"api:apiadmin:{api.cred.identifier[:8]}" and row.ip_address == "127.0.0.1"
        assert row.target == f"oauth_credential:{made['credentialId']}" and row.at is not None
    assert_no_secret(rows, made["clientSecret"], api.cred.secret)


def test_backchannel_logout_uri_is_an_extra_field_set_listed_changed_and_checked(api, db):
    made = create(api, backchannelLogoutUri="https://rp.example.com/bc-logout",
                  backchannelLogoutSessionRequired="true")
    [row] = listed(api)
    assert row["backchannelLogoutUri"] == "https://rp.example.com/bc-logout"
    assert row["backchannelLogoutSessionRequired"] is True
    cid = str(made["credentialId"])
    for bad in ("http://rp.example.com/bc", "https://rp.example.com/bc#frag", "com.example.app:/bc", "not a uri"):
        assert "back-channel logout URI" in api.error(
            "UpdateOAuthCredential", {"credentialId": cid, "backchannelLogoutUri": bad}), bad
    api.ok("UpdateOAuthCredential", {"credentialId": cid, "backchannelLogoutUri": "",
                                     "backchannelLogoutSessionRequired": "false"})
    [row] = listed(api)
    assert row["backchannelLogoutUri"] == "" and row["backchannelLogoutSessionRequired"] is False


def test_grant_types_auth_method_and_keys_are_extra_fields_set_listed_and_changed(api, db):
    import json

    from joserfc.jwk import ECKey

    jwks = {"keys": [ECKey.generate_key("P-256").as_dict(private=False) | {"kid": "k1"}]}
    made = api.ok("CreateOAuthCredential", [("grantTypes[]", "client_credentials"),
                                            ("grantTypes[]", "authorization_code"), ("name", "Billing"),
                                            ("scope", "openid"), ("tokenEndpointAuthMethod", "private_key_jwt"),
                                            ("jwks", json.dumps(jwks)), ("dpopBound", "true"), ("requirePar", "1")])
    assert made["clientSecret"] == ""
    [row] = listed(api)
    assert row["grantTypes"] == "client_credentials authorization_code"
    assert row["tokenEndpointAuthMethod"] == "private_key_jwt" and row["jwks"] == jwks and row["jwksUri"] == ""
    assert row["dpopBound"] is True and row["requirePar"] is True
    assert [c["credentialId"] for c in listed(api, grantType="client_credentials")] == [made["credentialId"]]
    root = api.xml("ListOAuthCredentials")  # a nested value renders in XML too
    assert text(root, "result") == "success"
    cid = str(made["credentialId"])
    assert "https" in api.error("UpdateOAuthCredential", {"credentialId": cid, "jwksUri": "http://rp.example.com/k"})
    assert "may be public" in api.error("CreateOAuthCredential", {"grantType": "client_credentials",
                                                                  "scope": "openid", "tokenEndpointAuthMethod": "none"})
    body = api.ok("UpdateOAuthCredential", {"credentialId": cid, "grantTypes": "client_credentials",
                                            "jwksUri": "https://rp.example.com/jwks", "dpopBound": "false"})
    assert "newClientSecret" not in body
    [row] = listed(api)
    assert row["grantTypes"] == "client_credentials" and row["jwks"] == ""
    assert row["jwksUri"] == "https://rp.example.com/jwks" and row["dpopBound"] is False
    body = api.ok("UpdateOAuthCredential", {"credentialId": cid, "tokenEndpointAuthMethod": "client_secret_jwt"})
    assert body["newClientSecret"]
