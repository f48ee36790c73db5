"""The customer API end to end: the real server process over HTTP, set up through the CLI, a real relying party
(Authlib's httpx client) and a person in a browser-like client. What a developer who knows only the contract
does: register an app, get a token for services:read on one chosen account of a person who reaches two, list
that account's services (not the other's), be refused invoices, open a ticket with tickets:write, see the app
on the connected-applications page with its accounts and scopes, revoke it, and be refused next."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from bs4 import BeautifulSoup
from sqlalchemy import select

from hospes.store.models import AuditEvent
from tests.api import account_boxes
from tests.browserless import form_with, login_form, query_of
from tests.e2e import PASSWORD, REDIRECT_URI, Credential, User, add_user, cli_json

API_SCOPES = "services:read tickets:write"


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"PYTHONUNBUFFERED": "1"}


def person_with_two_accounts(server: Any) -> tuple[User, int]:
    """Jane owns one account and was invited (products, tickets) to another, all through the CLI."""
    jane = add_user(server, "Jane")
    other_owner = add_user(server, "Olga")
    cli_json(server, "users", "invite", "--client-id", str(other_owner.client_id), "--email", jane.email,
             "--first-name", "Jane", "--last-name", "Doe", "--permission", "products", "--permission", "tickets",
             "--password-stdin", stdin=PASSWORD + "\n")
    return jane, other_owner.client_id


def grant(server: Any, browser: httpx.Client, oauth: OAuth2Client, meta: dict[str, Any], user: User, scope: str,
          accounts: list[int]) -> dict[str, Any]:
    """The person logs in (once per browser) and consents, ticking ``accounts``; the RP exchanges the code."""
    verifier = secrets.token_urlsafe(48)
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, scope=scope)
    r = browser.get(url)
    if 'name="password"' in r.text:
        f = login_form(r.text, str(r.url))
        r = browser.post(f.action, data={**f.fields, "username": user.email, "password": user.password})
    assert r.status_code == 200 and "userAuthorization" in r.text, r.text[:1000]
    offered = account_boxes(r.text)
    f = form_with(r.text, str(r.url), "request_hash")
    fields = [(k, v) for k, v in f.fields.items() if k not in ("logout", "account")]
    fields += [("account", str(a)) for a in accounts] + [("userAuthorization", "yes")]
    r = browser.post(f.action, content=urlencode(fields),
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code in (302, 303), r.text[:1000]
    location = r.headers["location"]
    assert query_of(location)["state"] == state
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=location, state=state,
                              code_verifier=verifier)
    return {"token": dict(token), "offered": offered}


def test_a_developer_acts_for_a_customer_within_what_they_chose(server: Any, db: Any) -> None:
    jane, other = person_with_two_accounts(server)
    for client_id, product in ((jane.client_id, "Jane's Hosting"), (other, "Olga's Hosting")):
        cli_json(server, "services", "add", "--client-id", str(client_id), "--product", product)
    cli_json(server, "invoices", "add", "--client-id", str(jane.client_id), "--total", "9.99")
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code",
                    "--scope", "openid " + API_SCOPES + " invoices:read", "--name", "Status Board",
                    "--redirect-uri", REDIRECT_URI)
    cred = Credential(int(made["credentialId"]), made["clientIdentifier"], made["clientSecret"])
    meta = httpx.get(server.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    oauth = OAuth2Client(client_id=cred.client_id, client_secret=cred.client_secret, redirect_uri=REDIRECT_URI,
                         code_challenge_method="S256", timeout=10)
    api = server.url + "/api/v1"

    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        first = grant(server, browser, oauth, meta, jane, "services:read", [jane.client_id])
        assert set(first["offered"]) == {str(jane.client_id), str(other)}
        token = first["token"]
        client = OAuth2Client(client_id=cred.client_id, token=token, timeout=10)
        r = client.get(api + "/services")
        assert r.status_code == 200, r.text
        assert [(s["account_id"], s["product"]) for s in r.json()["data"]] == [(jane.client_id, "Jane's Hosting")]
        r = client.get(api + "/invoices")
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
        assert 'scope="invoices:read"' in r.headers["www-authenticate"]
        # The challenge leads to the metadata, which leads back to this authorization server.
        metadata_url = r.headers["www-authenticate"].split('resource_metadata="')[1].split('"')[0]
        resource = httpx.get(metadata_url, timeout=10).json()
        assert resource["resource"] == api and resource["authorization_servers"] == [server.url]

        # Asked again with tickets:write: a new consent, the other account chosen this time.
        second = grant(server, browser, oauth, meta, jane, API_SCOPES, [other])
        writer = OAuth2Client(client_id=cred.client_id, token=second["token"], timeout=10)
        r = writer.post(api + "/tickets", json={"subject": "Site down", "message": "Since noon."})
        assert r.status_code == 201, r.text
        assert r.json()["account_id"] == other and r.json()["status"] == "Open"
        assert [s["product"] for s in writer.get(api + "/services").json()["data"]] == ["Olga's Hosting"]

        # The connected-applications page: the app, its accounts and scopes.
        page = browser.get(server.url + "/account/applications")
        [app] = BeautifulSoup(page.text, "html.parser").select("li.app")
        assert "Status Board" in app.get_text()
        assert app.select_one(".app-accounts").get_text(strip=True).endswith(f"(#{other})")
        assert set(app.select_one(".app-scopes").get_text().split()) >= set(API_SCOPES.split())
        revoke = form_with(page.text, str(page.url), "app")
        assert browser.post(revoke.action, data=revoke.fields).status_code == 303

    for revoked in (client, writer):
        r = revoked.get(api + "/services")
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    # The write was audited: who, through which application, what.
    with db.read() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.opened")).all()
    assert event.actor == f"user:{jane.user_id}" and event.target == f"client:{other}"
    assert event.details["application"] == cred.client_id and event.details["subject"] == "Site down"
