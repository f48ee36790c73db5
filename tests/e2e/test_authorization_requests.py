"""Authorization requests as relying parties send them, against the real server process: loopback redirect
URIs on any port (RFC 8252 §7.3), scope values Hospes does not know (OIDC Core §3.1.2.1), id_token_hint,
acr_values, the standard claims and the claims request parameter (OIDC Core §5.4, §5.5)."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from bs4 import BeautifulSoup

from tests.account import TotpClock, enrol, has_code_page, id_claims, login, post_form
from tests.browserless import authorize, query_of
from tests.conftest import Account
from tests.e2e import User, add_user, cli_json, discover, verify_id_token

pytestmark = pytest.mark.one_server  # the tests share one server (tests/conftest.py)

SERVER_ENV = {"PYTHONUNBUFFERED": "1"}


def credential(server: Any, *redirect_uris: str, scope: str = "openid profile email") -> OAuth2Client:
    """A confidential authorization_code client made with the CLI, as Authlib's client."""
    args = [a for uri in redirect_uris for a in ("--redirect-uri", uri)]
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", scope,
                    "--name", "Native app", *args)
    return OAuth2Client(client_id=made["clientIdentifier"], client_secret=made["clientSecret"],
                        token_endpoint_auth_method="client_secret_basic", code_challenge_method="S256", timeout=10)


def start(oauth: OAuth2Client, meta: dict[str, Any], redirect_uri: str, **params: str) -> tuple[str, str, str]:
    """The authorization URL Authlib builds for ``redirect_uri``: (url, state, code_verifier)."""
    verifier = secrets.token_urlsafe(48)
    params.setdefault("scope", "openid")
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], redirect_uri=redirect_uri,
                                                code_verifier=verifier, nonce=secrets.token_urlsafe(8), **params)
    return url, state, verifier


def sign_in(url: str, user: User, browser: httpx.Client | None = None) -> httpx.Response:
    own = browser is None
    b = browser or httpx.Client(follow_redirects=False, timeout=10)
    try:
        return authorize(b, url, user.email, user.password)
    finally:
        if own:
            b.close()


def code_of(r: httpx.Response, redirect_uri: str) -> str:
    assert r.status_code in (302, 303), f"the flow stopped at {r.status_code}:\n{r.text[:2000]}"
    location = r.headers["location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == redirect_uri, location
    q = query_of(location)
    assert "error" not in q, q
    return q["code"]


def error_page(r: httpx.Response) -> str:
    """No redirect at all (RFC 6749 §4.1.2.1): the page, with the error code it names."""
    assert r.status_code == 400 and "location" not in r.headers, (r.status_code, r.headers, r.text[:500])
    return r.text


# -- RFC 8252 §7.3: loopback redirect URIs -------------------------------------------------------------


@pytest.mark.parametrize("registered, host", [("http://127.0.0.1/cb", "127.0.0.1"), ("http://[::1]/cb", "[::1]")])
def test_a_loopback_redirect_uri_matches_on_any_port_and_the_token_request_repeats_that_port(server, registered,
                                                                                           host):
    user = add_user(server)
    oauth = credential(server, registered)
    meta = discover(server)
    used = f"http://{host}:49152/cb"
    url, state, verifier = start(oauth, meta, used)
    code = code_of(sign_in(url, user), used)

    # The token request must name the very URI the authorization request used: another port is refused.
    with pytest.raises(OAuthError) as other_port:
        oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=f"http://{host}:49153/cb",
                          code_verifier=verifier)
    assert other_port.value.error == "invalid_grant"
    # (That attempt did not use the code up; the right URI redeems it.)
    token = oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=used, code_verifier=verifier)
    verify_id_token(token["id_token"], meta, oauth.client_id, nonce=None, access_token=token["access_token"])

    # Without a port at all, the registered URI itself.
    url, _, _ = start(oauth, meta, registered, prompt="none")
    r = httpx.get(url, timeout=10)
    assert r.status_code in (302, 303) and r.headers["location"].startswith(registered + "?"), r.text
    assert query_of(r.headers["location"])["error"] == "login_required"


MUST_MATCH_EXACTLY = [
    ("http://localhost/cb", "http://localhost:49152/cb"),  # RFC 8252 §8.3: a name, not a loopback literal
    ("https://127.0.0.1/cb", "https://127.0.0.1:49152/cb"),  # only plain http gets any port
    ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb/other"),  # the path is still exact
    ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb?x=1"),  # and so is the query
    ("http://127.0.0.1/cb", "http://[::1]:49152/cb"),  # and the host as registered
    ("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"),  # a port that is not one
    ("https://rp.example.com/cb", "https://rp.example.com:8443/cb"),
]


def test_every_other_redirect_uri_must_match_exactly(server):
    meta = discover(server)
    with httpx.Client(follow_redirects=False, timeout=10) as b:
        for registered, presented in MUST_MATCH_EXACTLY:
            url, _, _ = start(credential(server, registered), meta, presented)
            assert "redirect_uri_mismatch" in error_page(b.get(url)), (registered, presented)


# -- OIDC Core §3.1.2.1: scope values Hospes does not know are ignored --------------------------------


def test_unknown_scope_values_are_ignored_and_not_granted(server):
    user = add_user(server)
    oauth = credential(server, "http://127.0.0.1/cb")
    meta = discover(server)
    redirect = "http://127.0.0.1:49152/cb"
    url, _, verifier = start(oauth, meta, redirect, scope="openid phone profile address")
    code = code_of(sign_in(url, user), redirect)
    token = oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier)
    assert token["scope"] == "openid profile"
    info = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]},
                     timeout=10).json()
    assert info["given_name"] == "Jane" and "phone_number" not in info and "email" not in info

    # What the rules refuse is still refused: a known scope this client may not have, or nothing known at all.
    with httpx.Client(follow_redirects=False, timeout=10) as b:
        for scope in ("openid phone clientarea:billing_info", "phone address"):
            url, state, _ = start(oauth, meta, redirect, scope=scope)
            q = query_of(b.get(url).headers["location"])
            assert q["error"] == "invalid_scope" and q["state"] == state, (scope, q)


# -- OIDC Core §3.1.2.1: id_token_hint -----------------------------------------------------------------


def logged_in_tokens(oauth: OAuth2Client, meta: dict[str, Any], user: User, browser: httpx.Client,
                     redirect: str, **params: str) -> dict[str, Any]:
    """Log in (and consent) in ``browser``, redeem the code; the token response."""
    url, _, verifier = start(oauth, meta, redirect, **params)
    code = code_of(sign_in(url, user, browser), redirect)
    return dict(oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier))


def test_an_id_token_hint_for_someone_else_than_the_session_asks_for_a_login(server):
    jane, bob = add_user(server, "Jane"), add_user(server, "Bob")
    oauth = credential(server, "http://127.0.0.1/cb")
    meta = discover(server)
    redirect = "http://127.0.0.1:49152/cb"
    with httpx.Client(follow_redirects=False, timeout=10) as janes, \
            httpx.Client(follow_redirects=False, timeout=10) as bobs:
        jane_token = logged_in_tokens(oauth, meta, jane, janes, redirect)["id_token"]
        bob_token = logged_in_tokens(oauth, meta, bob, bobs, redirect)["id_token"]
        bob_sub = verify_id_token(bob_token, meta, oauth.client_id, nonce=None, access_token=None)[1]["sub"]

        # Bob's browser, a hint naming Jane: no code for Bob, the client is told a login is needed.
        url, state, _ = start(oauth, meta, redirect, prompt="none", id_token_hint=jane_token)
        r = bobs.get(url)
        q = query_of(r.headers["location"])
        assert q["error"] == "login_required" and q["state"] == state and "code" not in q, q
        # Interactive: the login page, not a code for the wrong person.
        url, _, _ = start(oauth, meta, redirect, id_token_hint=jane_token)
        r = bobs.get(url)
        assert r.status_code == 200 and 'name="password"' in r.text, (r.status_code, r.headers)
        # The hint naming the person logged in: silently answered.
        url, _, verifier = start(oauth, meta, redirect, prompt="none", id_token_hint=bob_token)
        code = code_of(bobs.get(url), redirect)
        token = oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier)
        assert verify_id_token(token["id_token"], meta, oauth.client_id, nonce=None,
                               access_token=None)[1]["sub"] == bob_sub

        # ... and Jane logging in there gets Jane's code.
        url, _, verifier = start(oauth, meta, redirect, id_token_hint=jane_token)
        code = code_of(sign_in(url, jane, bobs), redirect)
        token = oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier)
        claims = verify_id_token(token["id_token"], meta, oauth.client_id, nonce=None, access_token=None)[1]
        assert claims["sub"] != bob_sub

        # Not an ID token of this provider: invalid_request, back to the client.
        url, _, _ = start(oauth, meta, redirect, prompt="none", id_token_hint=bob_token[:-4] + "AAAA")
        assert query_of(bobs.get(url).headers["location"])["error"] == "invalid_request"


# -- OIDC Core §3.1.2.1: acr_values ------------------------------------------------------------------


def second_factor_step(browser: httpx.Client, r: httpx.Response, code: str) -> httpx.Response:
    """The code page after the password: give ``code``; then consent if asked. The final response."""
    assert r.status_code == 200 and has_code_page(r.text), (r.status_code, r.text[:1000])
    r = post_form(browser, r, "code", code=code)
    if r.status_code == 200 and "userAuthorization" in r.text:
        r = post_form(browser, r, "request_hash", userAuthorization="yes")
    return r


def test_acr_values_2_asks_for_the_second_factor_when_the_person_has_one(server):
    jane = add_user(server, "Jane")
    oauth = credential(server, "http://127.0.0.1/cb")
    meta = discover(server)
    redirect = "http://127.0.0.1:49152/cb"
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        # Logged in with her password, then two-factor login turned on: the session has acr 1.
        login(browser, Account(jane.client_id, jane.user_id, jane.email, jane.password))
        _, backup_codes = enrol(browser, TotpClock())
        token = logged_in_tokens(oauth, meta, jane, browser, redirect)
        assert id_claims(token["id_token"])["acr"] == "1"

        # acr_values=2 asked silently: the session cannot answer it, a login can.
        url, state, _ = start(oauth, meta, redirect, prompt="none", acr_values="2")
        q = query_of(browser.get(url).headers["location"])
        assert q["error"] == "login_required" and q["state"] == state and "code" not in q, q
        # Asked openly: the login page, then the code page, then a code for acr 2.
        url, _, verifier = start(oauth, meta, redirect, acr_values="2")
        page = browser.get(url)
        assert page.status_code == 200 and 'name="password"' in page.text
        r = post_form(browser, page, "password", username=jane.email, password=jane.password)
        code = code_of(second_factor_step(browser, r, backup_codes[0]), redirect)
        token = oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier)
        claims = verify_id_token(token["id_token"], meta, oauth.client_id, nonce=None, access_token=None)[1]
        assert claims["acr"] == "2" and "otp" in claims["amr"]
        # Now the session has it: prompt=none answers at once.
        url, _, _ = start(oauth, meta, redirect, prompt="none", acr_values="2")
        code_of(browser.get(url), redirect)


def test_acr_values_2_for_a_person_without_a_second_factor_issues_what_was_achieved(server):
    bob = add_user(server, "Bob")
    oauth = credential(server, "http://127.0.0.1/cb")
    meta = discover(server)
    redirect = "http://127.0.0.1:49152/cb"
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        logged_in_tokens(oauth, meta, bob, browser, redirect)
        # Voluntary (OIDC Core §3.1.2.1): no second factor to ask for, so no new login, and acr 1.
        url, _, verifier = start(oauth, meta, redirect, prompt="none", acr_values="2 1")
        code = code_of(browser.get(url), redirect)
        token = oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier)
        assert id_claims(token["id_token"])["acr"] == "1"


# -- OIDC Core §5.4, §5.5: the standard claims and the claims request parameter --------------------------


def userinfo(meta: dict[str, Any], token: dict[str, Any]) -> dict[str, Any]:
    r = httpx.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_profile_scope_releases_every_claim_hospes_has_data_for(server):
    jane = add_user(server, "Jane")
    meta = discover(server)
    assert "preferred_username" in meta["claims_supported"]
    redirect = "http://127.0.0.1:49152/cb"
    oauth = credential(server, "http://127.0.0.1/cb")
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        both = logged_in_tokens(oauth, meta, jane, browser, redirect, scope="openid profile email")
        profile_only = logged_in_tokens(oauth, meta, jane, browser, redirect, scope="openid profile")
    info = userinfo(meta, both)
    assert info["name"] == "Jane Doe" and info["given_name"] == "Jane" and info["family_name"] == "Doe"
    assert info["locale"] == "en" and isinstance(info["updated_at"], int) and info["updated_at"] > 0
    # The name Jane logs in with (her email address).
    assert info["preferred_username"] == jane.email == info["email"]
    # On the consent to her name and language alone, not her address, in neither place.
    for claims in (userinfo(meta, profile_only), id_claims(profile_only["id_token"])):
        assert claims["name"] == "Jane Doe"
        assert "preferred_username" not in claims and "email" not in claims


def test_the_claims_parameter_releases_each_claim_where_it_was_asked_for(server):
    jane = add_user(server, "Jane")
    meta = discover(server)
    assert meta["claims_parameter_supported"] is True
    redirect = "http://127.0.0.1:49152/cb"
    oauth = credential(server, "http://127.0.0.1/cb")
    asked = {"userinfo": {"name": {"essential": True}, "nickname": None},
             "id_token": {"email": {"essential": True}, "auth_time": {"essential": True}}}
    url, _, verifier = start(oauth, meta, redirect, scope="openid", claims=json.dumps(asked))
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(url)
        r = post_form(browser, page, "password", username=jane.email, password=jane.password)
        # The consent page asks for what those claims show.
        consent_text = " ".join(BeautifulSoup(r.text, "html.parser").get_text(" ", strip=True).split())
        assert "See your name and language" in consent_text and "See your email address" in consent_text
        r = post_form(browser, r, "request_hash", userAuthorization="yes")
        code = code_of(r, redirect)
    token = dict(oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier))
    assert token["scope"] == "openid"
    claims = verify_id_token(token["id_token"], meta, oauth.client_id, nonce=None, access_token=None)[1]
    assert claims["email"] == jane.email and "name" not in claims
    info = userinfo(meta, token)
    assert info["name"] == "Jane Doe" and "email" not in info and "nickname" not in info

    # A client that may not have the email scope does not get the address by asking for the claim.
    narrow = credential(server, "http://127.0.0.1/cb", scope="openid profile")
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        token = logged_in_tokens(narrow, meta, jane, browser, redirect, scope="openid",
                                 claims=json.dumps({"userinfo": {"email": {"essential": True}}}))
    assert "email" not in userinfo(meta, token) and "email" not in id_claims(token["id_token"])


@pytest.mark.parametrize("claims", [
    "not json", "[1]", '"userinfo"', '{"userinfo": 5}', '{"userinfo": {"name": 5}}',
    '{"userinfo": {"name": {"essential": "yes"}}}', '{"id_token": {"acr": {"essential": true, "values": "2"}}}',
    '{"id_token": {"acr": {"essential": true, "value": 2}}}',
])
def test_a_malformed_claims_parameter_is_invalid_request(server, claims):
    oauth = credential(server, "http://127.0.0.1/cb")
    url, state, _ = start(oauth, discover(server), "http://127.0.0.1:49152/cb", claims=claims)
    r = httpx.get(url, timeout=10)
    q = query_of(r.headers["location"])
    assert q["error"] == "invalid_request" and q["state"] == state, q


def test_an_essential_acr_that_cannot_be_met_is_a_failed_authentication(server):
    """OIDC Core §5.5.1.1: the acr returned is one of the values asked for, or the request fails."""
    bob = add_user(server, "Bob")  # no second factor
    oauth = credential(server, "http://127.0.0.1/cb")
    meta = discover(server)
    redirect = "http://127.0.0.1:49152/cb"

    def essential(**acr: Any) -> str:
        return json.dumps({"id_token": {"acr": {"essential": True, **acr}}})

    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        token = logged_in_tokens(oauth, meta, bob, browser, redirect, claims=essential(values=["1", "2"]))
        assert id_claims(token["id_token"])["acr"] == "1"
        for unmet in (essential(values=["2"]), essential(value="urn:example:loa:4")):
            url, state, _ = start(oauth, meta, redirect, claims=unmet)
            q = query_of(browser.get(url).headers["location"])
            assert q["error"] == "unmet_authentication_requirements" and q["state"] == state, q
        # Not essential: voluntary, answered with what the session has.
        url, _, verifier = start(oauth, meta, redirect, claims=json.dumps({"id_token": {"acr": {"values": ["2"]}}}))
        code = code_of(browser.get(url), redirect)
        token = oauth.fetch_token(meta["token_endpoint"], code=code, redirect_uri=redirect, code_verifier=verifier)
        assert id_claims(token["id_token"])["acr"] == "1"
