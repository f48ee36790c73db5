"""Who may call /includes/api.php: address or accesskey, API credential (with WHMCS's messages), the admin's
"API Access" permission, the role's actions, and throttling of failed authentication."""

from __future__ import annotations

from typing import Any

from hospes.adminapi.credentials import revoke_credential
from hospes.app import create_app
from hospes.config import Settings, load_settings
from hospes.store.models import Admin, ApiCredential, OAuthCredential
from tests.adminapi import (
    Api,
    ApiCred,
    api_client,
    api_cred_fixture,  # noqa: F401
    api_fixture,  # noqa: F401
    assert_no_secret,
    audit_rows,
    count,
    make_api_credential,
    text,
)

CREATE = {"grantType": "authorization_code", "name": "App", "scope": "openid",
          "redirectUri": "https://rp.example.com/cb"}


def custom_app(settings: Settings, **overrides: Any) -> Any:
    return create_app(load_settings(database_url=settings.database_url, var_dir=settings.var_dir,
                                    secret_key=settings.secret_key, **overrides))


def test_identifier_and_secret_authenticate(api):
    body = api.ok("ListOAuthCredentials")
    assert body == {"result": "success", "clients": []}


def test_username_and_password_are_aliases_for_identifier_and_secret(api):
    r = api.post("ListOAuthCredentials", {"username": api.cred.identifier, "password": api.cred.secret},
                 auth=False, responsetype="json")
    assert r.status_code == 200 and r.json()["result"] == "success", r.text
    # And without responsetype: JSON is the default.
    r = api.post("ListOAuthCredentials", {"username": api.cred.identifier, "password": api.cred.secret}, auth=False)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["result"] == "success"


def test_unknown_identifier_is_invalid_or_missing_credentials(api, db):
    bad = ApiCred("no-such-identifier", api.cred.secret, "x")
    assert api.error("ListOAuthCredentials", cred=bad, status=403) == "Invalid or missing credentials"
    r = api.post("ListOAuthCredentials", auth=False)
    assert r.status_code == 403 and r.json() == {"result": "error", "message": "Invalid or missing credentials"}
    rows = audit_rows(db, "api.auth_failed")
    assert rows and all(row.ip_address == "127.0.0.1" for row in rows)
    assert_no_secret(rows, api.cred.secret)


def test_wrong_secret_is_authentication_failed(api, db):
    wrong = ApiCred(api.cred.identifier, "wrong-" + api.cred.secret, "x")
    assert api.error("CreateOAuthCredential", CREATE, cred=wrong, status=403) == "Authentication Failed"
    root = api.xml("CreateOAuthCredential", CREATE, cred=wrong, status=403)
    assert text(root, "result") == "error" and text(root, "message") == "Authentication Failed"
    assert count(db, OAuthCredential) == 0
    assert_no_secret(audit_rows(db), api.cred.secret, wrong.secret)


def test_revoked_credential_and_disabled_admin_are_refused(api, db):
    with db.transaction() as s:
        cred = s.query(ApiCredential).filter_by(identifier=api.cred.identifier).one()
        revoke_credential(s, cred.id)
    assert api.error("ListOAuthCredentials", status=403) == "Invalid or missing credentials"
    other = make_api_credential(db, "bob")
    with db.transaction() as s:
        s.query(Admin).filter_by(username="bob").one().disabled = True
    assert api.error("ListOAuthCredentials", cred=other, status=403) == "Authentication Failed"


def test_admin_without_api_access_permission_is_refused(api, db):
    clerk = make_api_credential(db, "clerk", permissions=["Manage Clients"])
    r = api.post("CreateOAuthCredential", CREATE, cred=clerk, responsetype="json")
    assert r.status_code == 403 and r.json()["result"] == "error"
    assert r.json()["message"] == "Authentication Failed"
    assert count(db, OAuthCredential) == 0
    # The same admin with "API Access" among its permissions may use the API.
    ops = make_api_credential(db, "ops", permissions=["Manage Clients", "API Access"])
    assert api.ok("CreateOAuthCredential", CREATE, cred=ops)["credentialId"]


def test_role_without_the_action_is_refused_with_whmcs_message(api, db):
    reader = make_api_credential(db, "reader", actions=["ListOAuthCredentials"])
    message = api.error("CreateOAuthCredential", CREATE, cred=reader, status=403)
    assert message == 'Invalid Permissions: API action "createoauthcredential" is not allowed'
    root = api.xml("CreateOAuthCredential", CREATE, cred=reader, status=403)
    assert text(root, "message") == message
    assert count(db, OAuthCredential) == 0
    assert api.ok("ListOAuthCredentials", cred=reader)["clients"] == []
    # Action names are compared without regard to case, as WHMCS does.
    assert api.ok("listoauthcredentials", cred=reader)["result"] == "success"
    message = api.error("DeleteOAuthCredential", {"credentialId": "1"}, cred=reader, status=403)
    assert message == 'Invalid Permissions: API action "deleteoauthcredential" is not allowed'


def test_unknown_action_and_get_requests(api):
    assert api.error("NoSuchCommand") == "Command Not Found"
    r = api.http.get("/includes/api.php")
    assert r.status_code == 400 and r.json()["result"] == "error"


def test_address_outside_allowed_ips_is_refused(settings, db):
    cred = make_api_credential(db)
    with api_client(custom_app(settings, api_allowed_ips="10.9.9.9")) as http:
        api = Api(http, cred)
        assert api.error("CreateOAuthCredential", CREATE, status=403) == "Invalid IP 127.0.0.1"
        root = api.xml("CreateOAuthCredential", CREATE, status=403)
        assert text(root, "result") == "error" and text(root, "message") == "Invalid IP 127.0.0.1"
        # X-Forwarded-For is not believed from an untrusted peer.
        r = api.post("ListOAuthCredentials", headers={"X-Forwarded-For": "10.9.9.9"})
        assert r.status_code == 403 and r.json()["message"] == "Invalid IP 127.0.0.1"
    assert count(db, OAuthCredential) == 0
    # Allowed networks may be written in CIDR notation.
    with api_client(custom_app(settings, api_allowed_ips="10.0.0.0/8"), peer=("10.1.2.3", 5000)) as http:
        assert Api(http, cred).ok("ListOAuthCredentials")["result"] == "success"


def test_forwarded_address_from_a_trusted_proxy_decides(settings, db):
    cred = make_api_credential(db)
    app = custom_app(settings, api_allowed_ips="10.9.9.9", trusted_proxies="127.0.0.1")
    with api_client(app) as http:
        api = Api(http, cred)
        assert api.ok("ListOAuthCredentials", headers={"X-Forwarded-For": "10.9.9.9"})["result"] == "success"
        r = api.post("ListOAuthCredentials", headers={"X-Forwarded-For": "10.1.1.1"})
        assert r.status_code == 403 and r.json()["message"] == "Invalid IP 10.1.1.1"
        api.ok("CreateOAuthCredential", CREATE, headers={"X-Forwarded-For": "10.9.9.9"})
    [row] = audit_rows(db, "oauth_credential.created")
    assert row.ip_address == "10.9.9.9"


def test_accesskey_passes_the_address_check_and_a_wrong_one_does_not(settings, db):
    cred = make_api_credential(db)
    app = custom_app(settings, api_allowed_ips="10.9.9.9", api_access_key="k3y!@#$%.()*[]-_Z")
    with api_client(app) as http:
        api = Api(http, cred)
        assert api.ok("ListOAuthCredentials", {"accesskey": "k3y!@#$%.()*[]-_Z"})["result"] == "success"
        assert api.error("ListOAuthCredentials", {"accesskey": "k3y"}, status=403) == "Invalid IP 127.0.0.1"
        assert api.error("ListOAuthCredentials", {"accesskey": ""}, status=403) == "Invalid IP 127.0.0.1"
        # The access key opens the address check only: the credential is still required.
        r = api.post("ListOAuthCredentials", {"accesskey": "k3y!@#$%.()*[]-_Z"}, auth=False, responsetype="json")
        assert r.status_code == 403 and r.json()["message"] == "Invalid or missing credentials"
    # Without an access key configured, no accesskey opens anything.
    with api_client(custom_app(settings, api_allowed_ips="10.9.9.9")) as http:
        r = Api(http, cred).post("ListOAuthCredentials", {"accesskey": "anything"})
        assert r.status_code == 403


def test_failed_authentication_is_throttled_per_identifier(api, db):
    wrong = ApiCred(api.cred.identifier, "wrong", "x")
    for _ in range(10):
        assert api.error("ListOAuthCredentials", cred=wrong, status=403) == "Authentication Failed"
    r = api.post("ListOAuthCredentials", cred=wrong, responsetype="json")
    assert r.status_code == 429 and r.json()["result"] == "error"
    # Even the right secret waits now: guessing must not be able to tell when it has won.
    r = api.post("ListOAuthCredentials", responsetype="json")
    assert r.status_code == 429
    root = api.xml("ListOAuthCredentials", status=429)
    assert text(root, "result") == "error" and text(root, "message")
    # Another identifier from the same address is not held back by this one's failures.
    other = make_api_credential(db, "other")
    assert api.ok("ListOAuthCredentials", cred=other)["result"] == "success"


def test_failed_authentication_is_throttled_per_address(settings, db):
    cred = make_api_credential(db)
    app = custom_app(settings, api_allowed_ips="127.0.0.0/8")
    with api_client(app) as http:
        api = Api(http, cred)
        for i in range(50):
            api.error("ListOAuthCredentials", cred=ApiCred(f"guess-{i}", "x", "x"), status=403)
        assert api.post("ListOAuthCredentials", responsetype="json").status_code == 429
    with api_client(app, peer=("127.0.0.2", 5000)) as http:
        assert Api(http, cred).ok("ListOAuthCredentials")["result"] == "success"
