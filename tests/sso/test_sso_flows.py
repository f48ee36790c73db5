"""Issue 4's "Done when", tried as a new user would, against the real server process: an API credential made
with the CLI mints tokens with CreateSsoToken; a single_sign_on credential made with CreateOAuthCredential
gets one at the token endpoint; a browser (httpx) follows redirect_url and lands logged in on the page.
Then every way it must fail: reused, expired, SSO off for the client (minting and tokens already minted),
an invited user without the permission, a Closed client, custom paths that would leave the issuer, and
CreateSsoToken's documented errors. A refusal never starts a session and never redirects off the issuer."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select, update

from hospes.accounts.service import add_client
from hospes.clock import now
from hospes.store.models import AuditEvent, Domain, EmailMessage, Invoice, SsoToken, Ticket, UserClient
from tests.browserless import authorize
from tests.clientarea import invite
from tests.conftest import PASSWORD

TOKEN_RE = re.compile(r"^[0-9a-f]{40}$")
EVIL_PATHS = ["//evil.example", "https://evil.example/", "/\\evil", "%2F%2Fevil.example", "%252F%252Fevil.example",
              "/..%2F..%2Fadmin", "javascript:alert(1)", "http:/evil.example", "/%5Cevil.example", " //evil.example",
              "\t//evil.example", "/clientarea.php/../../admin", "//%65vil.example", "///evil.example",
              "/%09/evil.example"]


@dataclass
class World:
    """The real server, an API credential made with the CLI, and one customer with a service."""

    url: str
    identifier: str
    secret: str
    client_id: int
    user_id: int
    email: str
    service_id: int
    redemptions: list[httpx.Response] = field(default_factory=list)

    def api(self, action: str, **params: Any) -> dict[str, Any]:
        r = httpx.post(self.url + "/includes/api.php", data={
            "action": action, "identifier": self.identifier, "secret": self.secret, "responsetype": "json",
            **{k: str(v) for k, v in params.items()}})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def mint(self, **params: Any) -> dict[str, Any]:
        body = self.api("CreateSsoToken", **params)
        assert body["result"] == "success", body
        assert TOKEN_RE.match(body["access_token"])
        assert body["redirect_url"] == f"{self.url}/oauth/singlesignon.php?access_token={body['access_token']}"
        return body

    def refused_minting(self, **params: Any) -> str:
        body = self.api("CreateSsoToken", **params)
        assert body["result"] == "error" and set(body) == {"result", "message"}, body
        message: str = body["message"]
        return message

    def browser(self) -> httpx.Client:
        return httpx.Client(follow_redirects=False, timeout=30)

    def redeem(self, url: str, browser: httpx.Client | None = None) -> httpx.Response:
        """GET the redemption URL as a browser would, checking what every redemption must hold."""
        own = browser is None
        b = browser or self.browser()
        try:
            r = b.get(url)
        finally:
            if own:
                b.close()
        self.redemptions.append(r)
        assert r.status_code in (303, 403), (r.status_code, r.text)
        if r.status_code == 303:
            assert r.headers["location"].startswith(self.url + "/"), r.headers["location"]
            assert "hospes_session=" in r.headers.get("set-cookie", "")
            assert r.headers["cache-control"] == "no-store"
        else:
            assert "location" not in r.headers
            assert "hospes_session" not in r.headers.get("set-cookie", "")
        return r

    def lands(self, redirect_url: str, expected: str) -> tuple[httpx.Client, httpx.Response]:
        """Follow redirect_url in a new browser: redemption, then the page, which must be ``expected``."""
        b = self.browser()
        r = self.redeem(redirect_url, b)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == self.url + expected
        page = b.get(r.headers["location"])
        assert page.status_code == 200, page.text
        return b, page

    def refused(self, redirect_url: str, message: str) -> None:
        r = self.redeem(redirect_url)
        assert r.status_code == 403
        assert message in BeautifulSoup(r.text, "html.parser").get_text(" ", strip=True), r.text


def cli_json(server: Any, *args: str) -> dict[str, Any]:
    done = server.cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def cli_together(server: Any, *commands: list[str]) -> list[dict[str, Any]]:
    """Independent ``hospes`` commands, each as ``server.cli`` runs it, their ``--json`` output parsed."""
    outs = []
    for args in commands:
        done = server.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        outs.append(json.loads(done.stdout))
    return outs


@pytest.fixture
def world(server: Any, db: Any) -> World:
    _, _, client = cli_together(
        server,
        ["admins", "add", "--username", "ops", "--email", "ops@example.com", "--password", PASSWORD],
        ["api-roles", "create", "--name", "sso", "--action", "CreateSsoToken", "--action", "CreateOAuthCredential",
         "--action", "UpdateClient"],
        ["clients", "add", "--email", "jane@example.com", "--first-name", "Jane", "--last-name", "Doe",
         "--company", "Doe Widgets", "--password", PASSWORD])
    cred, service = cli_together(
        server,
        ["api-credentials", "create", "--admin", "ops", "--role", "sso"],
        ["services", "add", "--client-id", str(client["clientId"]), "--product", "Premium Hosting",
         "--domain", "jane.example", "--username", "janeuser"])
    return World(server.url, cred["identifier"], cred["secret"], client["clientId"], client["userId"],
                 "jane@example.com", service["serviceId"])


def rows(db: Any, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def audit_events(db: Any, action: str) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def text_of(page: httpx.Response) -> str:
    return BeautifulSoup(page.text, "html.parser").get_text(" ", strip=True)


# -- CreateSsoToken: lands logged in on the destination, once ----------------------------------------


def test_create_sso_token_lands_logged_in_on_each_destination_and_works_once(world, db):
    with db.transaction() as s:
        domain = Domain(client_id=world.client_id, domain="jane-domain.example")
        s.add_all([domain, Invoice(client_id=world.client_id, total="42.50"),
                   Ticket(client_id=world.client_id, subject="My site is slow"),
                   EmailMessage(client_id=world.client_id, to_address=world.email, subject="Welcome aboard",
                                sent_at=now())])
        s.flush()
        domain_id = domain.id
    cases = [
        ({}, "/clientarea.php", "Welcome back, Jane"),
        ({"destination": "clientarea:profile"}, "/clientarea.php?action=details", "Doe Widgets"),
        ({"destination": "clientarea:services"}, "/clientarea.php?action=services", "Premium Hosting"),
        ({"destination": "clientarea:product_details", "service_id": world.service_id},
         f"/clientarea.php?action=productdetails&id={world.service_id}", "janeuser"),
        ({"destination": "clientarea:domains"}, "/clientarea.php?action=domains", "jane-domain.example"),
        ({"destination": "clientarea:domain_details", "domain_id": domain_id},
         f"/clientarea.php?action=domaindetails&id={domain_id}", "jane-domain.example"),
        ({"destination": "clientarea:invoices"}, "/clientarea.php?action=invoices", "42.50"),
        ({"destination": "clientarea:tickets"}, "/supporttickets.php", "My site is slow"),
        ({"destination": "clientarea:submit_ticket"}, "/submitticket.php", "Open a ticket"),
        ({"destination": "clientarea:emails"}, "/clientarea.php?action=emails", "Welcome aboard"),
    ]
    for params, path, shows in cases:
        minted = world.mint(client_id=world.client_id, **params)
        browser, page = world.lands(minted["redirect_url"], path)
        browser.close()
        assert shows in text_of(page), (path, shows)
        assert "Signed in as Jane Doe" in text_of(page)
        # Following it again fails, with WHMCS's message, and logs no one in.
        world.refused(minted["redirect_url"],
                      f"Unable to authenticate with Single Sign-On token for User ID: {world.user_id}")
    # user_id alone: that user's (owned) account.
    minted = world.mint(user_id=world.user_id, destination="clientarea:services")
    world.lands(minted["redirect_url"], "/clientarea.php?action=services")[0].close()
    # A destination Hospes does not render goes to the external client area (here: the issuer itself).
    minted = world.mint(client_id=world.client_id, destination="clientarea:shopping_cart")
    r = world.redeem(minted["redirect_url"])
    assert r.headers["location"] == world.url + "/cart.php"

    minted_events = audit_events(db, "sso.token_minted")
    assert len(minted_events) == len(cases) + 2
    assert all(e.actor.startswith("api:") and e.target == f"client:{world.client_id}" for e in minted_events)
    assert {e.details["destination"] for e in minted_events} >= {"homepage", "clientarea:services"}
    redeemed = audit_events(db, "sso.redeemed")
    assert len(redeemed) == len(cases) + 2 and all(e.actor == f"user:{world.user_id}" for e in redeemed)
    refused = audit_events(db, "sso.refused")
    assert len(refused) == len(cases)
    assert all("Unable to authenticate" in str(e.details["reason"]) for e in refused)
    everything = json.dumps([e.details for e in minted_events + redeemed + refused], default=str)
    for r in world.redemptions:
        token = str(r.request.url).rsplit("=", 1)[1]
        assert token not in everything

    # A browser already logged in as someone else gets a fresh session; the old one is ended
    # (no session fixation, nothing left behind for whoever holds the old cookie).
    with db.transaction() as s:
        add_client(s, email="bob@example.com", first_name="Bob", last_name="Other", password=PASSWORD)
    with world.browser() as b:
        login = b.get(world.url + "/login")
        token = BeautifulSoup(login.text, "html.parser").find("input", attrs={"name": "token"})["value"]
        r = b.post(world.url + "/login", data={"token": token, "username": "bob@example.com", "password": PASSWORD})
        assert r.status_code == 303
        bobs_cookie = b.cookies["hospes_session"]
        minted = world.mint(client_id=world.client_id, destination="clientarea:services")
        r = world.redeem(minted["redirect_url"], b)
        assert b.cookies["hospes_session"] != bobs_cookie
        page = b.get(r.headers["location"])
        assert "Premium Hosting" in page.text and "Bob" not in text_of(page)
    with httpx.Client(follow_redirects=False, cookies={"hospes_session": bobs_cookie}) as stale:
        assert stale.get(world.url + "/clientarea.php").status_code == 303


# -- the single_sign_on grant ---------------------------------------------------------------------------


def sso_credential(world: World, scope: str = "clientarea:sso clientarea:product_details") -> dict[str, Any]:
    body = world.api("CreateOAuthCredential", grantType="single_sign_on", serviceId=world.service_id, scope=scope,
                     name="Control panel")
    assert body["result"] == "success", body
    return body


def sso_token(world: World, cred: dict[str, Any], scope: str) -> httpx.Response:
    return httpx.post(world.url + "/oauth/token.php", data={
        "grant_type": "single_sign_on", "client_id": cred["clientIdentifier"],
        "client_secret": cred["clientSecret"], "scope": scope})


def test_single_sign_on_credential_lands_its_user_on_the_service_page(world, db):
    cred = sso_credential(world)
    r = sso_token(world, cred, "clientarea:sso clientarea:product_details")
    assert r.status_code == 200, r.text
    body = r.json()
    assert TOKEN_RE.match(body["access_token"])
    assert body["redirect_url"] == f"{world.url}/oauth/singlesignon.php?access_token={body['access_token']}"
    browser, page = world.lands(body["redirect_url"],
                                f"/clientarea.php?action=productdetails&id={world.service_id}")
    browser.close()
    assert "Premium Hosting" in text_of(page) and "janeuser" in text_of(page)
    world.refused(body["redirect_url"], f"Unable to authenticate with Single Sign-On token for User ID: "
                                        f"{world.user_id}")
    # clientarea:sso alone: the home page.
    r = sso_token(world, cred, "clientarea:sso")
    world.lands(r.json()["redirect_url"], "/clientarea.php")[0].close()
    # A destination the credential does not hold: no token.
    before = rows(db, SsoToken)
    r = sso_token(world, cred, "clientarea:sso clientarea:invoices")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    assert rows(db, SsoToken) == before
    [event, *_] = audit_events(db, "sso.token_minted")
    assert event.actor.startswith("oauth_credential:") and event.details["service_id"] == world.service_id


# -- the controls: the client's switch, the user's permission, the client's status -----------------------


def test_controls_take_effect_at_once_for_tokens_already_minted(world, db):
    # The client's switch (UpdateClient allowSingleSignOn, the admin's and the customer's switch).
    cred = sso_credential(world)
    by_api = world.mint(client_id=world.client_id, destination="clientarea:services")
    by_grant = sso_token(world, cred, "clientarea:sso clientarea:product_details").json()
    assert world.api("UpdateClient", clientid=world.client_id, allowSingleSignOn=0)["result"] == "success"

    blocked = f"SSO authentication blocked for client {world.client_id}"
    assert world.refused_minting(client_id=world.client_id) == blocked
    r = sso_token(world, cred, "clientarea:sso clientarea:product_details")
    assert r.status_code == 400 and r.json() == {"error": "invalid_grant", "error_description": blocked}
    denied = f"Single Sign-On authentication denied per configuration for User ID: {world.user_id}"
    world.refused(by_api["redirect_url"], denied)
    world.refused(by_grant["redirect_url"], denied)

    # On again: new tokens work; the refused ones were spent by their attempt.
    assert world.api("UpdateClient", clientid=world.client_id, allowSingleSignOn=1)["result"] == "success"
    world.refused(by_api["redirect_url"],
                  f"Unable to authenticate with Single Sign-On token for User ID: {world.user_id}")
    world.lands(world.mint(client_id=world.client_id)["redirect_url"], "/clientarea.php")[0].close()
    changes = [e.details.get("allowSingleSignOn") for e in audit_events(db, "client.updated")]
    assert changes == [0, 1]

    # The owner's per-user permission: an invited user without it is refused.
    ivan = invite(db, world.client_id, permissions=["productsso"])
    minted = world.mint(client_id=world.client_id, user_id=ivan.user_id, destination="clientarea:services")
    world.refused(minted["redirect_url"],
                  f"Single Sign-On authentication denied per configuration for User ID: {ivan.user_id}")
    # Given: a token minted before the change, not yet used, now works.
    pending = world.mint(client_id=world.client_id, user_id=ivan.user_id)
    with db.transaction() as s:
        link = s.get(UserClient, (ivan.user_id, world.client_id))
        assert link is not None
        link.permissions = [*link.permissions, "sso"]
    browser, page = world.lands(pending["redirect_url"], "/clientarea.php")
    browser.close()
    assert "Welcome back, Ivan" in page.text

    # A Closed client: refused with WHMCS's message, for tokens minted before and after closing.
    before = world.mint(client_id=world.client_id)
    assert world.api("UpdateClient", clientid=world.client_id, status="Closed")["result"] == "success"
    after = world.mint(client_id=world.client_id, destination="clientarea:invoices")
    closed = f'Single Sign-On authentication denied for "Closed" User ID: {world.user_id}'
    world.refused(before["redirect_url"], closed)
    world.refused(after["redirect_url"], closed)
    # Inactive is still allowed (reference §5.6: Active or Inactive).
    assert world.api("UpdateClient", clientid=world.client_id, status="Inactive")["result"] == "success"
    world.lands(world.mint(client_id=world.client_id)["redirect_url"], "/clientarea.php")[0].close()


@pytest.mark.parametrize("server_env", [{"HOSPES_SSO_TOKEN_TTL": "1"}])
def test_tokens_live_hospes_sso_token_ttl_seconds(world, db):
    cred = sso_credential(world)
    body = sso_token(world, cred, "clientarea:sso").json()
    assert body["expires_in"] == 1
    minted = world.mint(client_id=world.client_id)
    time.sleep(1.5)
    for url in (body["redirect_url"], minted["redirect_url"]):
        world.refused(url, f"Unable to authenticate with Single Sign-On token for User ID: {world.user_id}")


# -- custom redirects -----------------------------------------------------------------------------------


def test_custom_redirects_stay_on_the_issuer(world, db):
    for path, expected, shows in (("clientarea.php?action=services", "/clientarea.php?action=services",
                                   "Premium Hosting"),
                                  ("/supporttickets.php", "/supporttickets.php", "Support tickets")):
        minted = world.mint(client_id=world.client_id, destination="sso:custom_redirect", sso_redirect_path=path)
        browser, page = world.lands(minted["redirect_url"], expected)
        browser.close()
        assert shows in text_of(page)
    before = rows(db, SsoToken)
    for path in EVIL_PATHS:
        message = world.refused_minting(client_id=world.client_id, destination="sso:custom_redirect",
                                        sso_redirect_path=path)
        assert message == "Invalid sso_redirect_path", path
    assert world.refused_minting(client_id=world.client_id, destination="sso:custom_redirect") == \
        "Invalid sso_redirect_path"
    # sso_redirect_path goes only with sso:custom_redirect.
    assert "sso_redirect_path" in world.refused_minting(client_id=world.client_id, sso_redirect_path="clientarea.php")
    assert rows(db, SsoToken) == before

    # Even a row written around mint() (a bug, a hand edit) cannot send a browser off the issuer.
    pending = []
    for path in EVIL_PATHS:
        pending.append(world.mint(client_id=world.client_id, destination="sso:custom_redirect",
                                  sso_redirect_path="clientarea.php"))
        with db.transaction() as s:
            row = s.scalar(select(SsoToken).order_by(SsoToken.id.desc()))
            assert row is not None
            row.redirect_path = path
    for minted in pending:
        world.refused(minted["redirect_url"], "Unable to authenticate with Single Sign-On token")


# -- redemption of what is not a token ------------------------------------------------------------------


def test_expired_and_bad_tokens_are_refused_without_a_session(world, db):
    expired = world.mint(client_id=world.client_id)
    with db.transaction() as s:
        s.execute(update(SsoToken).values(expires_at=now() - timedelta(seconds=1)))
    world.refused(expired["redirect_url"],
                  f"Unable to authenticate with Single Sign-On token for User ID: {world.user_id}")
    minted = world.mint(client_id=world.client_id)
    good = minted["access_token"]
    base = world.url + "/oauth/singlesignon.php"
    for url in (base, base + "?access_token=", base + "?access_token=" + "0" * 40,
                base + "?access_token=" + "a" * 5000, base + "?access_token=" + quote("<script>"),
                base + f"?access_token={good}&access_token={good}", base + f"?token={good}",
                base + "?access_token=" + good.upper()):
        r = world.redeem(url)
        assert r.status_code == 403
        assert "Unable to authenticate with Single Sign-On token" in text_of(r)
    # None of those spent the real token.
    world.lands(minted["redirect_url"], "/clientarea.php")[0].close()


# -- CreateSsoToken's documented errors (reference §5.6) ----------------------------------------------


def test_create_sso_token_documented_errors(world, db):
    with db.transaction() as s:
        made = add_client(s, email="olga@example.com", first_name="Olga", last_name="Other", password=PASSWORD)
    other = {"clientId": made.client_id, "userId": made.user_id}
    cases = [
        ({}, "A valid client_id or user_id is required"),
        ({"client_id": ""}, "A valid client_id or user_id is required"),
        ({"client_id": 99999}, "Invalid client_id"),
        ({"client_id": "abc"}, "Invalid client_id"),
        ({"user_id": 99999}, "Invalid user_id"),
        ({"client_id": world.client_id, "user_id": 99999}, "Invalid user_id"),
        ({"client_id": world.client_id, "user_id": other["userId"]}, "Invalid user_id for client"),
        ({"client_id": world.client_id, "destination": "clientarea:homepage"}, "Invalid destination"),
        ({"client_id": world.client_id, "destination": "openid"}, "Invalid destination"),
        ({"client_id": world.client_id, "destination": "clientarea:sso"}, "Invalid destination"),
    ]
    for params, message in cases:
        assert world.refused_minting(**params) == message, params
    # Another customer's service or domain is not this client's.
    assert world.refused_minting(client_id=other["clientId"], destination="clientarea:product_details",
                                 service_id=world.service_id) == "Invalid service_id"
    assert world.api("UpdateClient", clientid=world.client_id, allowSingleSignOn=0)["result"] == "success"
    assert world.refused_minting(client_id=world.client_id) == f"SSO authentication blocked for client " \
                                                               f"{world.client_id}"
    assert rows(db, SsoToken) == 0
    assert audit_events(db, "sso.token_minted") == []


# -- a single sign-on session is for the client area only ----------------------------------------------


def test_a_single_sign_on_session_does_not_answer_another_relying_partys_authorization(world, server):
    """Whoever holds a service's single_sign_on secret can open its owner's client area, and nothing more:
    an OpenID Connect client gets a real login (the one the owner approved, even with prompt=none)."""
    rp = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                  "openid email", "--name", "Forum", "--redirect-uri", "https://forum.example/cb")

    def authorize_url(**extra: str) -> str:
        return world.url + "/oauth/authorize.php?" + urlencode({
            "response_type": "code", "client_id": rp["clientIdentifier"], "redirect_uri": "https://forum.example/cb",
            "scope": "openid email", "state": "s", **extra})

    # The owner signs in to the forum once, with her password, and approves it.
    with world.browser() as owners:
        r = authorize(owners, authorize_url(), world.email, PASSWORD)
        assert r.status_code == 303 and "code=" in r.headers["location"], r.text

    # A service's single_sign_on credential opens her client area...
    cred = sso_credential(world)
    minted = sso_token(world, cred, "clientarea:sso").json()
    browser, page = world.lands(minted["redirect_url"], "/clientarea.php")
    try:
        assert "Signed in as Jane Doe" in text_of(page)
        # ... but the forum, asked silently, is told a login is needed, and gets no code.
        r = browser.get(authorize_url(prompt="none"))
        assert r.status_code in (302, 303)
        q = parse_qs(urlsplit(r.headers["location"]).query)
        assert q["error"] == ["login_required"] and "code" not in q, q
        # Asked openly, the forum's sign-in shows the login form, not a code.
        r = browser.get(authorize_url())
        assert r.status_code == 200 and 'name="password"' in r.text, (r.status_code, r.headers)
        # Her password there gives a normal password session: the ID token says so.
        sso_cookie = browser.cookies["hospes_session"]
        r = authorize(browser, authorize_url(nonce="n"), world.email, PASSWORD)
        assert r.status_code == 303, r.text
        assert browser.cookies["hospes_session"] != sso_cookie
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        tok = httpx.post(world.url + "/oauth/token.php", auth=(rp["clientIdentifier"], rp["clientSecret"]), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": "https://forum.example/cb"})
        assert tok.status_code == 200, tok.text
        claims = json.loads(base64.urlsafe_b64decode(tok.json()["id_token"].split(".")[1] + "=="))
        assert claims["acr"] == "1" and claims["amr"] == ["pwd"]
    finally:
        browser.close()
