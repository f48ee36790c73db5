"""CORS for browser applications (https://fetch.spec.whatwg.org/#http-cors-protocol), over real HTTP against the
real server: a single-page application calls the token, revocation and userinfo endpoints from the origin of
its registered redirect URI; other origins are not answered; discovery and the JWKS are for anyone."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from hospes.oauth.web_origins import origin_of
from tests.browserless import authorize, query_of

SPA = "https://spa.example.com"
OTHER = "https://other.example.com"


@pytest.fixture
def spa(server: Any, db: Any, make_credential: Any) -> Any:
    """A public client (no secret, PKCE) whose redirect URI is on SPA; the server is started first."""
    return make_credential(redirect_uri=SPA + "/callback", scope="openid email offline_access", public=True)


def preflight(url: str, origin: str, method: str = "POST", headers: str = "content-type") -> httpx.Response:
    return httpx.options(url, timeout=10, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                   "Access-Control-Request-Headers": headers})


def allowed(r: httpx.Response, origin: str) -> bool:
    value = r.headers.get("access-control-allow-origin")
    assert value in (None, origin), value  # never another origin, never "*" here
    return value == origin


def code_for(server: Any, acct: Any, cred: Any) -> tuple[str, str]:
    """The code flow's front half, as the SPA runs it (PKCE S256): (code, verifier)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
             "scope": "openid email offline_access", "state": "s", "code_challenge": challenge,
             "code_challenge_method": "S256"}
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        r = authorize(browser, "/oauth/authorize.php?" + urlencode(query), acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    return query_of(r.headers["location"])["code"], verifier


@pytest.mark.parametrize(("path", "methods"), [("/oauth/token.php", "POST"), ("/oauth/token", "POST"),
                                               ("/oauth/revoke", "POST"), ("/oauth/userinfo.php", "GET, POST"),
                                               ("/oauth/userinfo", "GET, POST")])
def test_a_preflight_from_a_registered_origin_is_answered(server, spa, path, methods):
    r = preflight(server.url + path, SPA, "GET" if "GET" in methods else "POST", "authorization, dpop")
    assert r.status_code == 204 and r.content == b""
    assert allowed(r, SPA)
    assert r.headers["access-control-allow-methods"] == methods
    assert {"authorization", "content-type", "dpop"} <= {
        h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert "origin" in r.headers["vary"].lower()
    assert int(r.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in r.headers  # bearer tokens, never cookies


@pytest.mark.parametrize("path", ["/oauth/token.php", "/oauth/revoke", "/oauth/userinfo.php", "/oauth/introspect"])
def test_a_preflight_from_another_origin_is_not_allowed(server, spa, path):
    for origin in (OTHER, "https://spa.example.com.evil.test", "http://spa.example.com", "null"):
        r = preflight(server.url + path, origin)
        assert r.status_code == 204
        assert "access-control-allow-origin" not in r.headers, origin
    # Introspection is for resource servers: not even the SPA's origin.
    assert not allowed(preflight(server.url + "/oauth/introspect", SPA), SPA)


def test_the_spa_exchanges_its_code_reads_userinfo_and_revokes_from_its_origin(server, spa, make_account):
    acct = make_account()
    code, verifier = code_for(server, acct, spa)
    origin = {"Origin": SPA}
    tok = httpx.post(server.url + "/oauth/token.php", headers=origin, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": spa.redirect_uri,
        "client_id": spa.client_id, "code_verifier": verifier})
    assert tok.status_code == 200, tok.text
    assert allowed(tok, SPA) and "origin" in tok.headers["vary"].lower()
    access_token = tok.json()["access_token"]

    for method in ("GET", "POST"):
        info = httpx.request(method, server.url + "/oauth/userinfo.php", timeout=10,
                             headers={**origin, "Authorization": "Bearer " + access_token})
        assert info.status_code == 200 and info.json()["email"] == acct.email
        assert allowed(info, SPA)

    gone = httpx.post(server.url + "/oauth/revoke", headers=origin, timeout=10,
                      data={"token": tok.json()["refresh_token"], "client_id": spa.client_id})
    assert gone.status_code == 200 and allowed(gone, SPA)

    # The error the application now gets, it may read, challenge included (RFC 6750 §3).
    dead = httpx.get(server.url + "/oauth/userinfo.php", timeout=10,
                     headers={**origin, "Authorization": "Bearer " + access_token})
    assert dead.status_code == 401 and allowed(dead, SPA)
    assert "www-authenticate" in dead.headers["access-control-expose-headers"].lower()


def test_an_answer_names_only_an_origin_of_its_own_client(server, spa, make_account, make_credential):
    # Another application's origin is registered, but not for this client: its answers are not for that page.
    make_credential(redirect_uri=OTHER + "/cb", scope="openid", public=True)
    acct = make_account()
    code, verifier = code_for(server, acct, spa)
    assert allowed(preflight(server.url + "/oauth/token.php", OTHER), OTHER)  # no body: any client's origin
    tok = httpx.post(server.url + "/oauth/token.php", headers={"Origin": OTHER}, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": spa.redirect_uri,
        "client_id": spa.client_id, "code_verifier": verifier})
    assert tok.status_code == 200  # the server answers; the browser keeps it from the page
    assert not allowed(tok, OTHER)
    info = httpx.get(server.url + "/oauth/userinfo.php", timeout=10,
                     headers={"Origin": OTHER, "Authorization": "Bearer " + tok.json()["access_token"]})
    assert info.status_code == 200 and not allowed(info, OTHER)
    assert allowed(httpx.get(server.url + "/oauth/userinfo.php", timeout=10, headers={
        "Origin": SPA, "Authorization": "Bearer " + tok.json()["access_token"]}), SPA)


def test_requests_without_an_origin_are_answered_as_before(server, spa):
    r = httpx.post(server.url + "/oauth/token.php", data={"grant_type": "refresh_token", "refresh_token": "x",
                                                          "client_id": spa.client_id}, timeout=10)
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = httpx.options(server.url + "/oauth/token.php", timeout=10)
    assert r.status_code == 204 and "POST" in r.headers["allow"] and "OPTIONS" in r.headers["allow"]
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/oauth/jwks", "/oauth/certs.php"])
def test_discovery_and_the_jwks_are_for_any_origin(server, path):
    r = httpx.get(server.url + path, headers={"Origin": OTHER}, timeout=10)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = preflight(server.url + path, OTHER, "GET", "accept")
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]


def test_a_client_registered_while_the_server_runs_is_answered_at_once(server, make_credential):
    origin = "https://new-app.example.com"
    assert not allowed(preflight(server.url + "/oauth/token.php", origin), origin)
    make_credential(redirect_uri=origin + "/cb", scope="openid", public=True)
    time.sleep(1.1)  # an unknown origin reads the registrations again, at most once a second
    assert allowed(preflight(server.url + "/oauth/token.php", origin), origin)


@pytest.mark.parametrize(("uri", "origin"), [
    ("https://spa.example.com/callback?x=1", "https://spa.example.com"),
    ("https://SPA.Example.com:443/cb", "https://spa.example.com"),
    ("https://spa.example.com:8443/cb", "https://spa.example.com:8443"),
    ("http://localhost:3000/cb", "http://localhost:3000"),
    ("http://127.0.0.1:9/cb", "http://127.0.0.1"),  # loopback: any port (RFC 8252 §7.3)
    ("http://[::1]:8080/cb", "http://[::1]"),
    ("com.example.app:/oauth2redirect", None),
    ("https://spa.example.com:notaport/cb", None),
])
def test_the_origin_of_a_redirect_uri(uri, origin):
    assert origin_of(uri) == origin


def test_a_loopback_application_is_answered_on_any_port(server, make_credential):
    make_credential(redirect_uri="http://127.0.0.1:9/cb", scope="openid", public=True)
    for port in (5173, 8080):
        origin = f"http://127.0.0.1:{port}"
        assert allowed(preflight(server.url + "/oauth/token.php", origin), origin)
