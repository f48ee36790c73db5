"""Token exchange (RFC 8693) end to end: the real server over HTTP, set up through the CLI. A customer authorizes
an application (Authlib, the code flow with the login and consent pages); an agent, a confidential client of its
own, exchanges that application's access token for a narrower one (plain httpx: Authlib has no token-exchange
client), uses it at the customer API within the narrower scope and the accounts the customer chose, is refused
anything wider, and loses it when the customer revokes the application."""

from __future__ import annotations

import datetime
import secrets
import time
from typing import Any, cast

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from bs4 import BeautifulSoup
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import DateTime, bindparam, create_engine, text

from hospes.config import Settings
from hospes.secrets import digest
from tests.browserless import authorize, form_with
from tests.e2e import REDIRECT_URI, Credential, User, add_user, cli_json, discover
from tests.e2e.test_customer_api import grant, person_with_two_accounts

pytestmark = pytest.mark.one_server  # the tests share one server (tests/conftest.py)

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


def credential(server: Any, name: str, scope: str, *grant_types: str) -> Credential:
    """A confidential client made with the CLI (``--grant-type`` repeated)."""
    args = [a for g in grant_types for a in ("--grant-type", g)]
    made = cli_json(server, "oauth-credentials", "create", *args, "--scope", scope, "--name", name,
                    "--redirect-uri", REDIRECT_URI)
    return Credential(int(made["credentialId"]), made["clientIdentifier"], made["clientSecret"])


def exchange(meta: dict[str, Any], agent: Credential, subject: str, **extra: str) -> httpx.Response:
    """The agent's token-exchange request (RFC 8693 §2.1), client_secret_basic."""
    return httpx.post(meta["token_endpoint"], auth=(agent.client_id, agent.client_secret), timeout=10, data={
        "grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN, **extra})


def refused(r: httpx.Response, error: str) -> None:
    assert r.status_code in (400, 401), (r.status_code, r.text)
    assert r.json()["error"] == error, r.text


def introspect(meta: dict[str, Any], who: Credential, token: str) -> dict[str, Any]:
    r = httpx.post(meta["introspection_endpoint"], auth=(who.client_id, who.client_secret), data={"token": token},
                   timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.both_databases
def test_an_agent_acts_for_a_customer_with_a_narrower_token_until_the_application_is_revoked(server: Any) -> None:
    jane, other = person_with_two_accounts(server)
    for client_id, product in ((jane.client_id, "Jane's Hosting"), (other, "Olga's Hosting")):
        cli_json(server, "services", "add", "--client-id", str(client_id), "--product", product)
    cli_json(server, "invoices", "add", "--client-id", str(jane.client_id), "--total", "9.99")
    app = credential(server, "Status Board", "openid services:read invoices:read tickets:write",
                     "authorization_code")
    agent = credential(server, "Helpful Agent", "services:read tickets:read tickets:write", EXCHANGE)
    helper = credential(server, "Agent's Helper", "services:read", EXCHANGE)
    meta = discover(server)
    assert EXCHANGE in meta["grant_types_supported"]
    api = server.url + "/api/v1"
    oauth = OAuth2Client(client_id=app.client_id, client_secret=app.client_secret, redirect_uri=REDIRECT_URI,
                         code_challenge_method="S256", timeout=10)

    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        # Jane lets the application read services and invoices and write tickets, in her own account only.
        subject = grant(server, browser, oauth, meta, jane, "services:read invoices:read tickets:write",
                        [jane.client_id])["token"]
        assert httpx.get(api + "/invoices", headers=bearer(subject["access_token"])).status_code == 200

        # The agent exchanges it for services:read alone.
        r = exchange(meta, agent, subject["access_token"], scope="services:read")
        assert r.status_code == 200, r.text
        issued = r.json()
        assert issued["issued_token_type"] == ACCESS_TOKEN and issued["token_type"] == "Bearer"
        assert issued["scope"] == "services:read"
        assert "refresh_token" not in issued and "id_token" not in issued
        assert 0 < issued["expires_in"] <= subject["expires_in"]
        narrow = issued["access_token"]

        # At the customer API: the services of the account Jane chose, nothing more; no invoices.
        r = httpx.get(api + "/services", headers=bearer(narrow))
        assert r.status_code == 200, r.text
        assert [(s["account_id"], s["product"]) for s in r.json()["data"]] == [(jane.client_id, "Jane's Hosting")]
        r = httpx.get(api + "/invoices", headers=bearer(narrow))
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"

        # Introspection (by the agent, whose token it is) names the agent as the actor (RFC 8693 §4.1).
        seen = introspect(meta, agent, narrow)
        assert seen["active"] and seen["client_id"] == agent.client_id and seen["scope"] == "services:read"
        assert seen["act"] == {"sub": agent.client_id} and seen["exp"] <= introspect(
            meta, app, subject["access_token"])["exp"]
        assert "act" not in introspect(meta, app, subject["access_token"])

        # Asked for nothing in particular: the subject's scopes the agent holds itself.
        r = exchange(meta, agent, subject["access_token"])
        assert r.status_code == 200 and r.json()["scope"] == "services:read tickets:write", r.text
        writer = r.json()["access_token"]
        r = httpx.post(api + "/tickets", headers=bearer(writer), json={"subject": "Disk full", "message": "Help."})
        assert r.status_code == 201 and r.json()["account_id"] == jane.client_id, r.text

        # Never wider: a scope the subject token lacks, or one the agent does not hold; another audience.
        refused(exchange(meta, agent, subject["access_token"], scope="services:read tickets:read"), "invalid_scope")
        refused(exchange(meta, agent, subject["access_token"], scope="invoices:read"), "invalid_scope")
        refused(exchange(meta, agent, narrow, scope="tickets:write"), "invalid_scope")
        refused(exchange(meta, agent, subject["access_token"], resource=server.url + "/mcp"), "invalid_target")
        refused(exchange(meta, agent, subject["access_token"], audience="https://elsewhere.example/"),
                "invalid_target")
        r = exchange(meta, agent, subject["access_token"], scope="services:read", resource=api, audience=api)
        assert r.status_code == 200, r.text  # the same audience, named
        # A client not registered for the grant, a wrong secret, a token that is not one, a foreign actor token.
        refused(exchange(meta, app, subject["access_token"]), "unauthorized_client")
        refused(exchange(meta, Credential(agent.credential_id, agent.client_id, "wrong"), subject["access_token"]),
                "invalid_client")
        refused(exchange(meta, agent, secrets.token_urlsafe(32)), "invalid_request")
        refused(exchange(meta, agent, subject["access_token"], subject_token_type="urn:x"), "invalid_request")
        refused(exchange(meta, agent, subject["access_token"], requested_token_type=(
            "urn:ietf:params:oauth:token-type:refresh_token")), "invalid_request")
        refused(exchange(meta, agent, subject["access_token"], actor_token=subject["access_token"],
                         actor_token_type=ACCESS_TOKEN), "invalid_request")
        # The agent's own access token as the actor token: accepted, and the act claim names the agent.
        r = exchange(meta, agent, subject["access_token"], scope="services:read", actor_token=narrow,
                     actor_token_type=ACCESS_TOKEN)
        assert r.status_code == 200, r.text
        assert introspect(meta, agent, r.json()["access_token"])["act"] == {"sub": agent.client_id}

        # Exchanged again by another agent: narrower still, the earlier actor nested (RFC 8693 §4.1).
        r = exchange(meta, helper, narrow)
        assert r.status_code == 200 and r.json()["scope"] == "services:read", r.text
        nested = r.json()["access_token"]
        assert introspect(meta, helper, nested)["act"] == {"sub": helper.client_id, "act": {"sub": agent.client_id}}

        # Jane sees the application she authorized; revoking it ends everything exchanged from its grant.
        page = browser.get(server.url + "/account/applications")
        [listed] = BeautifulSoup(page.text, "html.parser").select("li.app")
        assert "Status Board" in listed.get_text()
        revoke = form_with(page.text, str(page.url), "app")
        assert browser.post(revoke.action, data=revoke.fields).status_code == 303

    for token in (narrow, writer, nested):
        r = httpx.get(api + "/services", headers=bearer(token))
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert introspect(meta, agent, narrow) == {"active": False}
    # RFC 8693 §2.2.2 (and the contract): a revoked subject token is invalid_request.
    refused(exchange(meta, agent, subject["access_token"]), "invalid_request")


def for_resource(meta: dict[str, Any], app: Credential, user: User, scope: str, resource: str) -> dict[str, Any]:
    """The application's token for ``resource`` (RFC 8707): the person logs in and consents, the code is
    exchanged with the same resource."""
    oauth = OAuth2Client(client_id=app.client_id, client_secret=app.client_secret, redirect_uri=REDIRECT_URI,
                         code_challenge_method="S256", timeout=10)
    verifier = secrets.token_urlsafe(48)
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                scope=scope, resource=resource)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        r = authorize(browser, url, user.email, user.password)
    assert r.status_code in (302, 303), r.text[:1000]
    return dict(oauth.fetch_token(meta["token_endpoint"], authorization_response=r.headers["location"], state=state,
                                  code_verifier=verifier, resource=resource))


def test_an_mcp_token_exchanged_works_at_the_mcp_server_within_the_narrower_scope(server: Any) -> None:
    jane = add_user(server, "Jane")
    service = cli_json(server, "services", "add", "--client-id", str(jane.client_id), "--product", "Hosting")
    app = credential(server, "Assistant Hub", "services:read tickets:write", "authorization_code")
    agent = credential(server, "Reader Agent", "services:read tickets:write", EXCHANGE)
    meta = discover(server)
    mcp = server.url + "/mcp"
    subject = for_resource(meta, app, jane, "services:read tickets:write", mcp)
    r = exchange(meta, agent, subject["access_token"], scope="services:read")
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    headers = {**bearer(token), "accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}

    def call(name: str, arguments: dict[str, Any]) -> httpx.Response:
        return httpx.post(mcp, headers=headers, timeout=10, json={
            "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}})

    # The MCP server's audience, carried over: its tools answer within services:read.
    r = call("list_services", {})
    assert r.status_code == 200, r.text
    assert [s["id"] for s in r.json()["result"]["structuredContent"]["data"]] == [service["serviceId"]]
    r = call("open_ticket", {"subject": "Hello", "message": "Not allowed."})
    assert r.status_code == 403 and 'scope="tickets:write"' in r.headers["www-authenticate"]
    # Not a customer-API token: refused there (one audience per token).
    assert httpx.get(server.url + "/api/v1/services", headers=bearer(token), timeout=10).status_code == 401


def _expire_access_token(database_url: str, token: str) -> None:
    engine = create_engine(Settings(database_url=database_url).sqlalchemy_url)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE access_tokens SET expires_at = :at WHERE token_hash = :h")
                     .bindparams(bindparam("at", type_=DateTime(timezone=True))), {"at": past, "h": digest(token)})
    engine.dispose()


def test_a_jwt_access_token_carries_the_act_claim_and_an_expired_subject_is_refused(
        server: Any, database_url: str) -> None:
    resource = "https://files.example.com/"
    cli_json(server, "resources", "add", "--identifier", resource, "--name", "Files",
             "--scope", "files:read=Read your files", "--scope", "files:write=Change your files",
             "--token-format", "jwt")
    jane = add_user(server, "Jane")
    app = credential(server, "Files App", "openid files:read files:write", "authorization_code")
    agent = credential(server, "Files Agent", "files:read", EXCHANGE)
    meta = discover(server)
    subject = for_resource(meta, app, jane, "files:read files:write", resource)

    r = exchange(meta, agent, subject["access_token"], resource=resource)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "files:read"
    keys = KeySet.import_key_set(cast(Any, httpx.get(meta["jwks_uri"], timeout=10).json()))
    token = jwt.decode(r.json()["access_token"], keys, algorithms=["RS256"])
    original = jwt.decode(subject["access_token"], keys, algorithms=["RS256"])
    assert token.header["typ"] == "at+jwt"
    claims = token.claims
    assert claims["aud"] == resource and claims["sub"] == original.claims["sub"]
    assert claims["client_id"] == agent.client_id and claims["scope"] == "files:read"
    assert claims["act"] == {"sub": agent.client_id} and "act" not in original.claims
    assert claims["exp"] <= original.claims["exp"] and claims["exp"] > time.time()

    # The customer API's audience is not the subject's: refused.
    refused(exchange(meta, agent, subject["access_token"], resource=server.url + "/api/v1"), "invalid_target")
    # An expired subject token: invalid_request (RFC 8693 §2.2.2).
    _expire_access_token(database_url, subject["access_token"])
    refused(exchange(meta, agent, subject["access_token"]), "invalid_request")
