"""RP-initiated logout at /oauth/logout (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from hospes.oauth import credentials
from tests.browserless import form_with, query_of, tokens_for

LOGOUT = "/oauth/logout"
BYE = "https://rp.example.com/bye"


class Cred:
    def __init__(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri


@pytest.fixture
def cred(db: Any) -> Cred:
    with db.transaction() as s:
        made = credentials.create(s, grant_type="authorization_code", scope="openid profile email",
                                  name="Example App", redirect_uris=["https://rp.example.com/cb"],
                                  post_logout_redirect_uris=[BYE])
    return Cred(made.client_identifier, made.client_secret, "https://rp.example.com/cb")


def authz_url(cred: Cred, **extra: str) -> str:
    return "/oauth/authorize.php?" + urlencode({"response_type": "code", "client_id": cred.client_id,
                                                 "redirect_uri": cred.redirect_uri, "scope": "openid",
                                                 "state": "s", **extra})


def log_in(client: Any, acct: Any, cred: Cred) -> str:
    """Log in and consent; return an ID token."""
    return str(tokens_for(client, acct, cred, "openid")["id_token"])


def logged_in(client: Any, cred: Cred) -> bool:
    """Does the browser still have a session? (prompt=none answers without a page either way)."""
    r = client.get(authz_url(cred, prompt="none"))
    assert r.status_code in (302, 303), r.text
    q = query_of(r.headers["location"])
    if "code" in q:
        return True
    assert q["error"] == "login_required", q
    return False


def assert_page_no_redirect(r: Any, status: int = 400) -> None:
    assert r.status_code == status, r.text
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")


def test_valid_hint_and_registered_uri_redirects_with_state_and_ends_the_session(client, make_account, cred):
    acct = make_account()
    id_token = log_in(client, acct, cred)
    old_cookie = client.cookies.get("hospes_session")
    r = client.get(LOGOUT, params={"id_token_hint": id_token, "post_logout_redirect_uri": BYE,
                                   "state": "bye-state"})
    assert r.status_code == 303
    assert r.headers["location"] == BYE + "?state=bye-state"
    # The next authorization shows the login form.
    page = client.get(authz_url(cred))
    assert page.status_code == 200 and 'name="password"' in page.text
    # Ended at the server, not only forgotten by the browser.
    client.cookies.set("hospes_session", old_cookie)
    assert not logged_in(client, cred)


def test_post_works_like_get(client, make_account, cred):
    acct = make_account()
    id_token = log_in(client, acct, cred)
    r = client.post(LOGOUT, data={"id_token_hint": id_token, "post_logout_redirect_uri": BYE})
    assert r.status_code == 303 and r.headers["location"] == BYE
    assert not logged_in(client, cred)


def test_unregistered_post_logout_redirect_uri_is_a_page(client, make_account, cred):
    acct = make_account()
    id_token = log_in(client, acct, cred)
    for uri in ("https://attacker.example/bye", BYE + "/", cred.redirect_uri):
        r = client.get(LOGOUT, params={"id_token_hint": id_token, "post_logout_redirect_uri": uri})
        assert_page_no_redirect(r)
    # A refused request changes nothing.
    assert logged_in(client, cred)


def test_post_logout_redirect_uri_without_hint_or_client_is_a_page(client, cred):
    r = client.get(LOGOUT, params={"post_logout_redirect_uri": BYE})
    assert_page_no_redirect(r)


@pytest.mark.parametrize("hint", ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_invalid_id_token_hint_is_a_page(client, make_account, cred, hint):
    acct = make_account()
    log_in(client, acct, cred)
    r = client.get(LOGOUT, params={"id_token_hint": hint, "post_logout_redirect_uri": BYE})
    assert_page_no_redirect(r)
    assert logged_in(client, cred)


def test_tampered_id_token_hint_is_a_page(client, make_account, cred):
    acct = make_account()
    id_token = log_in(client, acct, cred)
    head, payload, sig = id_token.split(".")
    forged = ".".join([head, payload, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")])
    r = client.get(LOGOUT, params={"id_token_hint": forged, "post_logout_redirect_uri": BYE})
    assert_page_no_redirect(r)
    assert logged_in(client, cred)


def test_hint_for_another_client_id_is_a_page(client, make_account, make_credential, cred):
    acct = make_account()
    id_token = log_in(client, acct, cred)
    other = make_credential(redirect_uri="https://other.example.com/cb")
    r = client.get(LOGOUT, params={"id_token_hint": id_token, "client_id": other.client_id})
    assert_page_no_redirect(r)


def test_no_hint_with_a_session_asks_first(client, make_account, cred):
    acct = make_account()
    log_in(client, acct, cred)
    r = client.get(LOGOUT)
    assert r.status_code == 200 and "location" not in r.headers
    soup = BeautifulSoup(r.text, "html.parser")
    form = soup.find("form")
    assert form is not None and form["method"].lower() == "post"
    assert soup.find("input", attrs={"name": "token"})["value"]
    # Merely showing the page logged nobody out.
    assert logged_in(client, cred)
    f = form_with(r.text, str(r.url), "logout_request")
    # Without the CSRF token: refused, still logged in.
    bad = client.post(f.action, data={**{k: v for k, v in f.fields.items() if k != "token"}, "confirm": "yes"})
    assert bad.status_code == 403
    assert logged_in(client, cred)
    # "Stay logged in".
    stay = client.post(f.action, data={**f.fields, "confirm": "no"})
    assert stay.status_code == 200
    assert logged_in(client, cred)
    # "Log out".
    done = client.post(f.action, data={**f.fields, "confirm": "yes"})
    assert done.status_code == 200
    assert not logged_in(client, cred)


def test_no_hint_with_a_redirect_asks_then_redirects(client, make_account, cred):
    acct = make_account()
    log_in(client, acct, cred)
    r = client.get(LOGOUT, params={"client_id": cred.client_id, "post_logout_redirect_uri": BYE, "state": "x"})
    assert r.status_code == 200
    f = form_with(r.text, str(r.url), "logout_request")
    done = client.post(f.action, data={**f.fields, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == BYE + "?state=x"
    assert not logged_in(client, cred)


def test_no_session_no_hint_says_logged_out(client):
    r = client.get(LOGOUT)
    assert r.status_code == 200
    assert "logged out" in r.text.lower()


@pytest.mark.parametrize("query", ["state=%ff", "id_token_hint=a&id_token_hint=b", "client_id=HOSPES.unknown",
                                   "client_id=a%00b"])
def test_malformed_requests_are_a_page_not_a_crash(client, query):
    r = client.get(LOGOUT + "?" + query)
    assert_page_no_redirect(r)
