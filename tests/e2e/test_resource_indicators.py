"""Audience-bound tokens end to end (RFC 8707 resource indicators, RFC 9068 JWT access tokens, RFC 9470 step-up):
the real server process over HTTP, set up through the CLI, with a relying party (Authlib's httpx client) and a
person in a browser-like client. What an operator and an integrating developer check: a token asked for with
``resource=`` is for that resource alone, introspects with its audience, is refused by the customer API, keeps
its audience when refreshed; a JWT resource gets tokens it can verify with the JWKS; a bad or foreign resource
is invalid_target; and a second factor is asked for where it is required."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from bs4 import BeautifulSoup
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.account import TotpClock, enrol, has_code_page, login, post_form
from tests.browserless import authorize, query_of
from tests.conftest import Account, Server, start_server, stop_server
from tests.e2e import REDIRECT_URI, User, add_user, cli_json, discover, jwks
from tests.examples import example_resource_server

PANEL = "https://panel.example.com/api"
STATUS = "https://status.example.com/"


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"PYTHONUNBUFFERED": "1"}


def add_resource(server: Any, identifier: str, scope: str, *extra: str) -> dict[str, Any]:
    return cli_json(server, "resources", "add", "--identifier", identifier, "--name", "Control panel",
                    "--scope", scope, *extra)


def credential(server: Any, scope: str) -> OAuth2Client:
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", scope,
                    "--name", "Panel app", "--redirect-uri", REDIRECT_URI)
    return OAuth2Client(client_id=made["clientIdentifier"], client_secret=made["clientSecret"],
                        redirect_uri=REDIRECT_URI, code_challenge_method="S256", timeout=10)


def start(oauth: OAuth2Client, meta: dict[str, Any], **params: Any) -> tuple[str, str]:
    """The authorization URL (``resource`` may be a list: sent once per value) and its code_verifier."""
    verifier = secrets.token_urlsafe(48)
    resource = params.pop("resource", [])
    url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, **params)
    values = resource if isinstance(resource, list) else [resource]
    return url + "".join("&" + urlencode({"resource": value}) for value in values), verifier


def code_of(r: httpx.Response) -> str:
    assert r.status_code in (302, 303), f"the flow stopped at {r.status_code}:\n{r.text[:2000]}"
    q = query_of(r.headers["location"])
    assert "error" not in q, q
    return q["code"]


def redirect_error(r: httpx.Response) -> str:
    """The error sent back to the client's redirect URI (RFC 6749 §4.1.2.1, RFC 8707 §2)."""
    assert r.status_code in (302, 303), (r.status_code, r.text[:1000])
    assert r.headers["location"].startswith(REDIRECT_URI + "?"), r.headers["location"]
    return query_of(r.headers["location"])["error"]


def exchange(oauth: OAuth2Client, meta: dict[str, Any], code: str, verifier: str, **extra: Any) -> httpx.Response:
    return httpx.post(meta["token_endpoint"], auth=(oauth.client_id, oauth.client_secret), timeout=10,
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                            "code_verifier": verifier, **extra})


def tokens(oauth: OAuth2Client, meta: dict[str, Any], browser: httpx.Client, user: User,
           **params: Any) -> dict[str, Any]:
    """Log in (if asked) and consent in ``browser``; the token response for the code."""
    url, verifier = start(oauth, meta, **params)
    r = exchange(oauth, meta, code_of(authorize(browser, url, user.email, user.password)), verifier)
    assert r.status_code == 200, r.text
    return dict(r.json())


def introspect(oauth: OAuth2Client, meta: dict[str, Any], token: str) -> dict[str, Any]:
    r = httpx.post(meta["introspection_endpoint"], auth=(oauth.client_id, oauth.client_secret),
                   data={"token": token}, timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def api(server: Any, token: str, path: str = "/me", **kw: Any) -> httpx.Response:
    method = "POST" if "json" in kw else "GET"
    return httpx.request(method, server.url + "/api/v1" + path, headers={"Authorization": "Bearer " + token},
                         timeout=10, **kw)


def test_a_token_for_an_operators_resource_is_for_it_alone(server: Any) -> None:
    add_resource(server, PANEL, "panel:read=See your servers in the control panel")
    jane = add_user(server, "Jane")
    oauth = credential(server, "openid email offline_access panel:read services:read")
    meta = discover(server)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        url, verifier = start(oauth, meta, scope="openid email offline_access panel:read", resource=PANEL)
        page = browser.get(url)
        assert 'name="password"' in page.text
        # The consent page names the resource and says, in its own words, what its scope allows.
        page = post_form(browser, page, "password", username=jane.email, password=jane.password)
        consent = BeautifulSoup(page.text, "html.parser")
        assert consent.select_one("#resource-name").get_text() == "Control panel"
        assert "See your servers in the control panel" in consent.select_one(".permissions").get_text()
        r = post_form(browser, page, "request_hash", userAuthorization="yes")
        # The token request may leave the resource out: the authorization's.
        answer = exchange(oauth, meta, code_of(r), verifier)
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert set(token["scope"].split()) == {"openid", "email", "offline_access", "panel:read"}
        assert token["access_token"].count(".") != 2  # opaque

        seen = introspect(oauth, meta, token["access_token"])
        assert seen["active"] and seen["aud"] == PANEL and seen["client_id"] == oauth.client_id
        assert seen["scope"] == token["scope"] and seen["acr"] == "1" and seen["username"] == jane.email
        # Not the customer API's: refused there; userinfo answers any token with openid (OIDC Core §5.3).
        r = api(server, token["access_token"])
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        r = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]})
        assert r.status_code == 200 and r.json()["email"] == jane.email

        # Refreshed (the resource repeated or left out): still for the panel, still acr 1.
        for extra in ({}, {"resource": PANEL}):
            r = httpx.post(meta["token_endpoint"], auth=(oauth.client_id, oauth.client_secret), timeout=10,
                           data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **extra})
            assert r.status_code == 200, r.text
            token = r.json()
            seen = introspect(oauth, meta, token["access_token"])
            assert seen["aud"] == PANEL and seen["acr"] == "1"
        # Another resource on refresh: invalid_target, and the refresh token still works.
        r = httpx.post(meta["token_endpoint"], auth=(oauth.client_id, oauth.client_secret), timeout=10,
                       data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                             "resource": server.url + "/api/v1"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_target"
        assert introspect(oauth, meta, token["refresh_token"])["active"]

        # Without resource (or naming the customer API itself): a customer-API token, which the API takes.
        for extra in ({}, {"resource": server.url + "/api/v1"}):
            plain = tokens(oauth, meta, browser, jane, scope="openid services:read", **extra)
            assert introspect(oauth, meta, plain["access_token"])["aud"] == server.url + "/api/v1"
            assert api(server, plain["access_token"], "/services").status_code == 200


def test_a_bad_or_foreign_resource_is_invalid_target(server: Any) -> None:
    add_resource(server, PANEL, "panel:read=See your servers")
    add_resource(server, STATUS, "status:read=See the status of your services")
    jane = add_user(server, "Jane")
    oauth = credential(server, "openid panel:read status:read services:read")
    meta = discover(server)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        # At the authorization endpoint, sent back to the client before anyone logs in (RFC 8707 §2).
        for resource in ("https://unknown.example.com/api", [PANEL, STATUS], "panel", PANEL + "#part"):
            url, _ = start(oauth, meta, scope="openid panel:read", resource=resource)
            assert redirect_error(browser.get(url)) == "invalid_target", resource
        # A token never carries scopes of two audiences.
        for scope, resource in (("openid panel:read services:read", PANEL), ("openid panel:read status:read", PANEL),
                                ("openid panel:read", None)):
            extra = {"resource": resource} if resource else {}
            url, _ = start(oauth, meta, scope=scope, **extra)
            assert redirect_error(browser.get(url)) == "invalid_scope", (scope, resource)

        # At the token endpoint: another resource than the authorization's (or an unknown one, or two).
        url, verifier = start(oauth, meta, scope="openid panel:read", resource=PANEL)
        code = code_of(authorize(browser, url, jane.email, jane.password))
        for resource in (STATUS, "https://unknown.example.com/api", [PANEL, PANEL], server.url + "/api/v1"):
            r = exchange(oauth, meta, code, verifier, resource=resource)
            assert r.status_code == 400 and r.json()["error"] == "invalid_target", (resource, r.text)
        # The refused requests left the code unused: the right one gets the token.
        r = exchange(oauth, meta, code, verifier, resource=PANEL)
        assert r.status_code == 200 and introspect(oauth, meta, r.json()["access_token"])["aud"] == PANEL

        url, verifier = start(oauth, meta, scope="openid services:read")
        code = code_of(authorize(browser, url, jane.email, jane.password))
        r = exchange(oauth, meta, code, verifier, resource=PANEL)
        assert r.status_code == 400 and r.json()["error"] == "invalid_target"


def test_a_jwt_resource_gets_access_tokens_it_verifies_with_the_jwks(server: Any) -> None:
    add_resource(server, PANEL, "panel:read=See your servers", "--token-format", "jwt")
    jane = add_user(server, "Jane")
    oauth = credential(server, "openid offline_access panel:read")
    meta = discover(server)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        token = tokens(oauth, meta, browser, jane, scope="openid offline_access panel:read", resource=PANEL)
    access = token["access_token"]
    decoded = jwt.decode(access, KeySet.import_key_set(cast(Any, jwks(meta))))
    header, claims = dict(decoded.header), dict(decoded.claims)
    # RFC 9068 §2.1-2.2: typ at+jwt; iss, aud, sub, client_id, scope, iat, exp, jti; and the login's acr.
    assert header["typ"].lower() in ("at+jwt", "application/at+jwt")
    assert claims["iss"] == meta["issuer"] and claims["aud"] in (PANEL, [PANEL])
    assert claims["client_id"] == oauth.client_id and claims["scope"] == token["scope"]
    assert claims["acr"] == "1" and claims["sub"] and claims["jti"]
    assert claims["exp"] - claims["iat"] == token["expires_in"] and abs(claims["iat"] - time.time()) < 120
    seen = introspect(oauth, meta, access)
    assert seen["active"] and seen["aud"] == PANEL and seen["sub"] == claims["sub"]
    # Userinfo takes it too (it carries openid), and the customer API does not.
    r = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + access}, timeout=10)
    assert r.status_code == 200 and r.json()["sub"] == claims["sub"]
    assert api(server, access).status_code == 401
    # Refreshed: a JWT again, for the same audience.
    r = httpx.post(meta["token_endpoint"], auth=(oauth.client_id, oauth.client_secret), timeout=10,
                   data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()["access_token"]
    assert jwt.decode(refreshed, KeySet.import_key_set(cast(Any, jwks(meta)))).claims["aud"] in (PANEL, [PANEL])
    assert introspect(oauth, meta, refreshed)["active"]

    # RFC 7009: revoking the access token itself, then the grant (by its refresh token): inactive.
    revoke = meta["revocation_endpoint"]
    auth = (oauth.client_id, oauth.client_secret)
    assert httpx.post(revoke, auth=auth, data={"token": refreshed}, timeout=10).status_code == 200
    assert introspect(oauth, meta, refreshed) == {"active": False}
    assert introspect(oauth, meta, access)["active"]  # the grant's other token lives on, until ...
    r = httpx.post(revoke, auth=auth, data={"token": r.json()["refresh_token"]}, timeout=10)
    assert r.status_code == 200
    assert introspect(oauth, meta, access) == {"active": False}


def second_factor(browser: httpx.Client, r: httpx.Response, code: str) -> httpx.Response:
    """The code page after the password: give ``code``; then consent if asked. The final response."""
    assert r.status_code == 200 and has_code_page(r.text), (r.status_code, r.text[:1000])
    r = post_form(browser, r, "code", code=code)
    if r.status_code == 200 and "userAuthorization" in r.text:
        r = post_form(browser, r, "request_hash", userAuthorization="yes")
    return r


def two_factor_person(server: Any, browser: httpx.Client) -> tuple[User, list[str]]:
    """A person logged in with their password who then turned two-factor login on: the session has acr 1."""
    jane = add_user(server, "Jane")
    login(browser, Account(jane.client_id, jane.user_id, jane.email, jane.password))
    _, backup_codes = enrol(browser, TotpClock())
    return jane, backup_codes


def test_a_resource_that_requires_acr_2_makes_the_login_ask_for_the_second_factor(server: Any) -> None:
    add_resource(server, PANEL, "panel:read=See your servers", "--require-acr", "2")
    oauth = credential(server, "openid panel:read")
    meta = discover(server)
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        jane, backup_codes = two_factor_person(server, browser)
        # The session's password login (acr 1) does not do for the panel: the login page, then the code page.
        url, verifier = start(oauth, meta, scope="openid panel:read", resource=PANEL)
        page = browser.get(url)
        assert page.status_code == 200 and 'name="password"' in page.text
        r = post_form(browser, page, "password", username=jane.email, password=jane.password)
        r = exchange(oauth, meta, code_of(second_factor(browser, r, backup_codes[0])), verifier)
        assert r.status_code == 200, r.text
        # The resource learns the token's acr from introspection and decides (RFC 9470).
        assert introspect(oauth, meta, r.json()["access_token"])["acr"] == "2"


@pytest.fixture
def step_up_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path, {"PYTHONUNBUFFERED": "1", "HOSPES_API_STEP_UP_SCOPES": "tickets:write"})
    yield srv
    stop_server(srv)


def test_customer_api_step_up_scopes_need_a_second_factor(step_up_server: Any) -> None:
    server = step_up_server
    oauth = credential(server, "openid tickets:write tickets:read")
    meta = discover(server)
    ticket = {"subject": "Site down", "message": "Since noon."}
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        jane, backup_codes = two_factor_person(server, browser)
        password_only = tokens(oauth, meta, browser, jane, scope="openid tickets:write tickets:read")
        r = api(server, password_only["access_token"], "/tickets", json=ticket)
        # RFC 9470 §3: 401, the error and the acr to ask for in the challenge, the JSON error in the body.
        assert r.status_code == 401 and r.json()["error"] == "insufficient_user_authentication", r.text
        challenge = r.headers["www-authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge and 'acr_values="2"' in challenge
        assert 'resource_metadata="' in challenge and "error_description=" in challenge
        # Operations of the other scopes are not affected.
        assert api(server, password_only["access_token"], "/tickets").status_code == 200

        # Asked again with acr_values=2: the login asks for the second factor, and the token may write.
        url, verifier = start(oauth, meta, scope="openid tickets:write tickets:read", acr_values="2")
        page = browser.get(url)
        r = post_form(browser, page, "password", username=jane.email, password=jane.password)
        r = exchange(oauth, meta, code_of(second_factor(browser, r, backup_codes[0])), verifier)
        assert r.status_code == 200, r.text
        r = api(server, r.json()["access_token"], "/tickets", json=ticket)
        assert r.status_code == 201, r.text


def test_discovery_lists_the_operators_scopes(server: Any) -> None:
    add_resource(server, PANEL, "panel:read=See your servers")
    assert "panel:read" in discover(server)["scopes_supported"]
    assert "services:read" in discover(server)["scopes_supported"]


@pytest.fixture
def example_resource(server: Server, tmp_path: Path) -> Iterator[str]:
    """examples/resource_server as its own process, requiring acr 2 on /api/notes (notes:read): its base URL."""
    with example_resource_server(server.url, tmp_path / "resource.log", "--route", "/api/notes=notes:read",
                                 "--require-acr", "2") as url:
        yield url


def test_a_separate_resource_server_verifies_hospes_jwt_access_tokens_offline(server: Any,
                                                                              example_resource: str) -> None:
    identifier = example_resource + "/api"
    add_resource(server, identifier, "notes:read=Read your notes", "--token-format", "jwt", "--require-acr", "2")
    oauth = credential(server, "openid notes:read")
    meta = discover(server)
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        jane, backup_codes = two_factor_person(server, browser)
        url, verifier = start(oauth, meta, scope="openid notes:read", resource=identifier)
        page = browser.get(url)
        r = post_form(browser, page, "password", username=jane.email, password=jane.password)
        r = exchange(oauth, meta, code_of(second_factor(browser, r, backup_codes[0])), verifier)
        assert r.status_code == 200, r.text
    r = httpx.get(example_resource + "/api/notes", headers={"Authorization": "Bearer " + r.json()["access_token"]},
                  timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["acr"] == "2" and r.json()["scope"] == "openid notes:read"

    # A person without a second factor gets a token of acr 1, which the resource server refuses (RFC 9470).
    bob = add_user(server, "Bob")
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        token = tokens(oauth, meta, browser, bob, scope="openid notes:read", resource=identifier)
    r = httpx.get(example_resource + "/api/notes", headers={"Authorization": "Bearer " + token["access_token"]},
                  timeout=10)
    assert r.status_code == 401 and 'error="insufficient_user_authentication"' in r.headers["www-authenticate"]
