"""A script that knows only WHMCS's API documentation, against the real server process.

It posts form-encoded fields exactly as WHMCS's sample code does (``curl`` with ``http_build_query``: PHP arrays
as ``name[0]=…``, ``responsetype=json``) with an API credential made by the CLI, and manages OAuth credentials:
create, list, update with a secret reset, delete. A credential it creates completes a code flow with a real
relying party (Authlib), and the audit log shows each step.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hospes.store.models import AuditEvent
from tests.e2e import REDIRECT_URI, Credential, User, code_flow, discover, rp, verify_id_token

PASSWORD = "correct horse battery staple"


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"PYTHONUNBUFFERED": "1"}


def cli(server: Any, *args: str, stdin: str | None = None) -> dict[str, Any]:
    r = server.cli(*args, stdin=stdin)
    assert r.returncode == 0, f"hospes {' '.join(args)}: {r.stderr}"
    data: dict[str, Any] = json.loads(r.stdout)
    return data


class WhmcsScript:
    """What WHMCS's sample code does, in Python: one POST of form fields per call."""

    def __init__(self, url: str, identifier: str, secret: str) -> None:
        self.url = url + "/includes/api.php"
        self.identifier = identifier
        self.secret = secret

    def call(self, action: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        post: dict[str, str] = {"action": action, "identifier": self.identifier, "secret": self.secret}
        for key, value in fields.items():
            if isinstance(value, list):
                # PHP's http_build_query: redirectUri[0]=…&redirectUri[1]=…
                post.update({f"{key}[{i}]": str(v) for i, v in enumerate(value)})
            else:
                post[key] = str(value)
        post["responsetype"] = "json"
        r = httpx.post(self.url, data=post, timeout=10)
        assert r.headers["content-type"].startswith("application/json"), r.text
        body: dict[str, Any] = r.json()
        return r.status_code, body

    def ok(self, action: str, **fields: Any) -> dict[str, Any]:
        status, body = self.call(action, **fields)
        assert status == 200 and body["result"] == "success", body
        return body

    def error(self, action: str, **fields: Any) -> str:
        status, body = self.call(action, **fields)
        assert body["result"] == "error", body
        message: str = body["message"]
        return message


def test_a_whmcs_api_script_manages_credentials_that_work_with_a_real_rp(server, db):
    cli(server, "admins", "add", "--username", "integrator", "--email", "integrator@example.com",
        "--password-stdin", "--json", stdin=PASSWORD + "\n")
    cli(server, "api-roles", "create", "--name", "full", "--all-actions", "--json")
    made = cli(server, "api-credentials", "create", "--admin", "integrator", "--role", "full", "--json")
    api = WhmcsScript(server.url, made["identifier"], made["secret"])

    # A customer, as WHMCS's AddClient sample posts it (address fields and all).
    client = api.ok("AddClient", firstname="John", lastname="Doe", email="john.doe@example.com",
                    address1="123 Main Street", city="Anytown", state="State", postcode="12345", country="US",
                    phonenumber="800-555-1234", password2=PASSWORD, clientip="1.2.3.4")
    assert api.ok("GetClientsDetails", clientid=client["clientid"])["client"]["email"] == "john.doe@example.com"

    # WHMCS's exact strings for the documented mistakes.
    assert api.error("CreateOAuthCredential", scope="openid") == "A valid grant type is required."
    assert api.error("CreateOAuthCredential", grantType="implicit") == 'The requested grant type "implicit" is invalid.'
    assert api.error("CreateOAuthCredential", grantType="authorization_code", scope="openid") == \
        "A name for the Client Credential is required."
    assert api.error("CreateOAuthCredential", grantType="single_sign_on", scope="clientarea:sso") == \
        "A service ID is required for the single sign-on grant type."
    assert api.error("CreateOAuthCredential", grantType="authorization_code", name="Portal") == \
        "At least one valid scope is required."
    assert api.error("CreateOAuthCredential", grantType="authorization_code", name="Portal", scope="openid root") == \
        'The requested scope "root" is invalid.'
    assert api.error("CreateOAuthCredential", grantType="single_sign_on", serviceId=4242, scope="clientarea:sso") == \
        "A valid Service ID is required."
    assert api.error("UpdateOAuthCredential") == "A Credential ID or Client Identifier is required."
    assert api.error("UpdateOAuthCredential", credentialId=4242) == "Invalid Credential ID provided."
    assert api.error("UpdateOAuthCredential", clientApiIdentifier="X.y") == "Invalid Client Identifier provided."
    assert api.error("DeleteOAuthCredential", credentialId=4242) == "Invalid Credential ID provided."

    # Create, with two redirect URIs as a PHP array.
    created = api.ok("CreateOAuthCredential", grantType="authorization_code", name="Customer Portal",
                     scope="openid profile email offline_access", description="Our portal",
                     redirectUri=[REDIRECT_URI, "https://portal.example.com/callback"])
    cred = Credential(int(created["credentialId"]), created["clientIdentifier"], created["clientSecret"])
    [listed] = api.ok("ListOAuthCredentials", grantType="authorization_code")["clients"]
    assert listed["clientIdentifier"] == cred.client_id and listed["clientSecret"] == ""
    assert listed["redirectUri"] == [REDIRECT_URI, "https://portal.example.com/callback"]

    # A real relying party completes a code flow with it.
    meta = discover(server)
    person = User("john.doe@example.com", PASSWORD, client["clientid"], client["owner_user_id"])
    flow = code_flow(rp(cred), meta, person)
    verify_id_token(flow.token["id_token"], meta, cred.client_id, nonce=flow.nonce,
                    access_token=flow.token["access_token"])
    ui = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + flow.token["access_token"]},
                   timeout=10)
    assert ui.status_code == 200 and ui.json()["email"] == "john.doe@example.com"

    # Update with a secret reset: the old secret stops at once, the new one works.
    updated = api.ok("UpdateOAuthCredential", credentialId=cred.credential_id, resetSecret="true",
                     name="Customer Portal 2")
    new_secret = updated["newClientSecret"]
    assert new_secret and new_secret != cred.client_secret
    old = httpx.post(meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                    "refresh_token": flow.token["refresh_token"]},
                     auth=(cred.client_id, cred.client_secret), timeout=10)
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    renewed = Credential(cred.credential_id, cred.client_id, new_secret)
    flow2 = code_flow(rp(renewed), meta, person)
    assert flow2.token["access_token"]

    # Delete: the credential is gone and its tokens with it.
    assert api.ok("DeleteOAuthCredential", credentialId=cred.credential_id)["credentialId"] == cred.credential_id
    assert api.ok("ListOAuthCredentials")["clients"] == []
    dead = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + flow2.token["access_token"]},
                     timeout=10)
    assert dead.status_code == 401

    # The audit log: each step, who, from where, and no secret anywhere.
    with db.transaction() as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        s.expunge_all()
    api_rows = [r for r in rows if r.actor.startswith("api:integrator:")]
    assert [r.action for r in api_rows] == ["client.created", "oauth_credential.created", "oauth_credential.updated",
                                            "oauth_credential.secret_reset", "oauth_credential.deleted"]
    assert all(r.ip_address == "127.0.0.1" and r.at is not None for r in api_rows)
    assert api_rows[1].target == api_rows[4].target == f"oauth_credential:{cred.credential_id}"
    assert any(r.action == "admin.created" and r.actor == "cli" for r in rows)
    dumped = json.dumps([r.details for r in rows], default=str)
    for secret in (made["secret"], cred.client_secret, new_secret, PASSWORD):
        assert secret not in dumped


def test_unknown_credentials_get_whmcs_message_in_xml_from_the_real_process(server):
    r = httpx.post(server.url + "/includes/api.php", data={"action": "GetClients", "identifier": "x", "secret": "y",
                                                           "responsetype": "xml"}, timeout=10)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/xml")
    assert "<result>error</result><message>Invalid or missing credentials</message>" in r.text
