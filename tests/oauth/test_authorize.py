"""The authorization endpoint as a relying party and a person see it (RFC 6749 §4.1, OIDC Core §3.1.2).

What is checked is what an RP developer or a user would look at: the status, the error code, where the
browser is sent (and that it is never sent to an unregistered URI), and whether a code was issued.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select, update

from hospes.oauth import credentials, pkce
from hospes.store.models import AuthorizationCode, LoginSession
from tests.browserless import authorize, form_with, login_form, query_of

ISSUER = "http://127.0.0.1:8000"
AUTHZ = "/oauth/authorize.php"
STATE = "st-123"


# -- helpers -------------------------------------------------------------------------------------


def authz_url(cred: Any, **params: Any) -> str:
    q: dict[str, Any] = {"response_type": "code", "client_id": cred.client_id,
                         "redirect_uri": cred.redirect_uri, "scope": "openid", "state": STATE}
    q.update(params)
    return AUTHZ + "?" + urlencode({k: v for k, v in q.items() if v is not None})


def assert_error_page(r: Any, code: str | None = None) -> None:
    """RFC 6749 §4.1.2.1: no trustworthy redirect URI -> tell the person, never redirect."""
    assert r.status_code == 400, r.text
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")
    assert 'name="password"' not in r.text
    if code:
        assert code in r.text


def assert_client_error(r: Any, cred: Any, error: str, *, state: str | None = STATE) -> dict[str, str]:
    """The error went back to the registered redirect URI, with state and iss (RFC 9207), and no code."""
    assert r.status_code in (302, 303), r.text
    loc = r.headers["location"]
    parts = urlsplit(loc)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == cred.redirect_uri
    q = query_of(loc)
    assert q.get("error") == error, q
    if state is None:
        assert "state" not in q
    else:
        assert q.get("state") == state
    assert q.get("iss") == ISSUER
    assert "code" not in q and "access_token" not in q
    return q


def assert_code(r: Any, cred: Any, state: str | None = STATE) -> str:
    assert r.status_code in (302, 303), r.text
    loc = r.headers["location"]
    assert loc.startswith(cred.redirect_uri + "?")
    q = query_of(loc)
    assert "error" not in q, q
    if state is not None:
        assert q["state"] == state
    assert q["iss"] == ISSUER
    return q["code"]


def is_login_page(r: Any) -> bool:
    return r.status_code in (200, 400, 401, 429) and 'name="password"' in r.text and "location" not in r.headers


def is_consent_page(r: Any) -> bool:
    return r.status_code == 200 and "userAuthorization" in r.text and "location" not in r.headers


def post_login(client: Any, page: Any, email: str, password: str, **extra: str) -> Any:
    f = login_form(page.text, str(page.url))
    data = {**f.fields, "username": email, "password": password, **extra}
    return client.post(f.action, data=data)


def post_consent(client: Any, page: Any, decision: str) -> Any:
    f = form_with(page.text, str(page.url), "request_hash")
    data = {k: v for k, v in f.fields.items() if k != "logout"}
    data["userAuthorization"] = decision
    return client.post(f.action, data=data)


def signed_in(client: Any, acct: Any, cred: Any, scope: str = "openid") -> str:
    """Log in and consent through the real pages; return the code."""
    r = authorize(client, authz_url(cred, scope=scope), acct.email, acct.password)
    return assert_code(r, cred)


def exchange(client: Any, cred: Any, code: str, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri, **extra}
    return client.post("/oauth/token.php", data=data, auth=(cred.client_id, cred.client_secret))


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def session_count(db: Any) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(LoginSession)) or 0)


def code_count(db: Any) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(AuthorizationCode)) or 0)


# -- no trustworthy redirect URI: an error page, never a redirect -----------------------------------


def test_unknown_client_id_shows_a_page(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, client_id="HOSPES.unknown"))
    assert_error_page(r, "invalid_client")


def test_missing_client_id_shows_a_page(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, client_id=None))
    assert_error_page(r)


def test_unregistered_redirect_uri_shows_a_page(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, redirect_uri="https://attacker.example/cb"))
    assert_error_page(r, "redirect_uri_mismatch")


def test_redirect_uri_is_compared_exactly(client, make_credential):
    cred = make_credential()
    for near in (cred.redirect_uri + "/", cred.redirect_uri.upper(), cred.redirect_uri + "?x=1",
                 cred.redirect_uri.replace("https://", "http://")):
        r = client.get(authz_url(cred, redirect_uri=near))
        assert_error_page(r)


def test_redirect_uri_with_fragment_shows_a_page(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, redirect_uri=cred.redirect_uri + "#frag"))
    assert_error_page(r, "invalid_uri")


def test_several_registered_and_none_sent_shows_a_page(client, db, make_account):
    with db.transaction() as s:
        made = credentials.create(s, grant_type="authorization_code", scope="openid", name="Two URIs",
                                  redirect_uris=["https://rp.example.com/a", "https://rp.example.com/b"])
    r = client.get(AUTHZ + "?" + urlencode({"response_type": "code", "client_id": made.client_identifier,
                                             "scope": "openid", "state": STATE}))
    assert_error_page(r, "invalid_uri")


def test_one_registered_and_none_sent_uses_it(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    r = authorize(client, authz_url(cred, redirect_uri=None), acct.email, acct.password)
    code = assert_code(r, cred)
    # RFC 6749 §4.1.3: redirect_uri was not sent, so the token request need not repeat it.
    tok = client.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code},
                      auth=(cred.client_id, cred.client_secret))
    assert tok.status_code == 200, tok.text
    assert "access_token" in tok.json()


@pytest.mark.parametrize("query", ["client_id=a%00b", "state=%ff", "scope=%c3%28"])
def test_unparseable_requests_show_a_page(client, make_credential, query):
    cred = make_credential()
    r = client.get(authz_url(cred) + "&" + query)
    assert_error_page(r)


def test_client_id_twice_shows_a_page(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred) + "&client_id=" + cred.client_id)
    assert_error_page(r)


def test_redirect_uri_twice_shows_a_page(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred) + "&" + urlencode({"redirect_uri": "https://attacker.example/cb"}))
    assert_error_page(r)


def test_deleted_credential_shows_a_page(client, db, make_credential):
    cred = make_credential()
    page = client.get(authz_url(cred))
    assert is_login_page(page)
    with db.transaction() as s:
        credentials.delete_credential(s, credentials.find(s, identifier=cred.client_id))
    r = client.get(authz_url(cred))
    assert_error_page(r)


# -- errors that go back to the client ---------------------------------------------------------------


def test_scope_twice_is_invalid_request_at_the_client(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred) + "&scope=profile")
    assert_client_error(r, cred, "invalid_request")


@pytest.mark.parametrize(("params", "error"), [
    ({"response_type": None}, "invalid_request"),
    ({"response_type": ""}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"scope": "bogus"}, "invalid_scope"),  # unknown values are ignored, and then nothing is left
    ({"scope": "openid clientarea:billing_info"}, "invalid_scope"),  # a real scope this client may not ask for
    ({"scope": None}, "invalid_scope"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "x" * 43}, "invalid_request"),  # method defaults to plain (RFC 7636 §4.3)
    ({"code_challenge": "too-short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge": "x" * 42 + "=", "code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge": "x" * 43 + "\n", "code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge_method": "S256"}, "invalid_request"),
    ({"request_uri": "https://rp.example.com/req.jwt"}, "request_uri_not_supported"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "bogus"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"max_age": "\u00b2"}, "invalid_request"),  # str.isdigit() says yes; int() says no
])
def test_errors_go_back_to_the_client_with_state_and_iss(client, db, make_credential, params, error):
    cred = make_credential()
    r = client.get(authz_url(cred, **params))
    assert_client_error(r, cred, error)
    assert code_count(db) == 0


def test_state_twice_is_invalid_request_without_a_state(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred) + "&state=other")
    assert_client_error(r, cred, "invalid_request", state=None)


def test_the_request_may_be_posted(client, make_account, make_credential):
    """OpenID Connect Core §3.1.2.1: GET and POST both."""
    acct = make_account()
    cred = make_credential()
    r = client.post(AUTHZ, data={"response_type": "code", "client_id": cred.client_id,
                                 "redirect_uri": cred.redirect_uri, "scope": "openid", "state": STATE})
    assert is_login_page(r)
    r = post_login(client, r, acct.email, acct.password)
    assert is_consent_page(r)
    assert_code(post_consent(client, r, "yes"), cred)
    bad = client.post(AUTHZ, data={"response_type": "token", "client_id": cred.client_id,
                                   "redirect_uri": cred.redirect_uri, "scope": "openid", "state": STATE})
    assert_client_error(bad, cred, "unsupported_response_type")


def test_error_without_state_carries_no_state(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, state=None, response_type="token"))
    assert_client_error(r, cred, "unsupported_response_type", state=None)


def test_error_keeps_the_redirect_uris_own_query(client, make_credential):
    cred = make_credential(redirect_uri="https://rp.example.com/cb?tenant=7")
    r = client.get(authz_url(cred, response_type="token"))
    assert r.status_code in (302, 303)
    q = query_of(r.headers["location"])
    assert q["tenant"] == "7" and q["error"] == "unsupported_response_type"


def test_public_client_without_pkce_is_refused(client, db):
    with db.transaction() as s:
        made = credentials.create(s, grant_type="authorization_code", scope="openid", name="SPA", public=True,
                                  redirect_uris=["https://spa.example.com/cb"])
    cred = type("C", (), {"client_id": made.client_identifier, "redirect_uri": "https://spa.example.com/cb"})
    r = client.get(authz_url(cred))
    assert_client_error(r, cred, "invalid_request")
    ok = client.get(authz_url(cred, code_challenge=pkce.s256("v" * 50), code_challenge_method="S256"))
    assert is_login_page(ok)


# -- prompt=none -------------------------------------------------------------------------------------


def test_prompt_none_without_a_session_is_login_required(client, db, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, prompt="none"))
    assert_client_error(r, cred, "login_required")
    assert code_count(db) == 0


def test_prompt_none_logged_in_without_consent_is_consent_required(client, make_account, make_credential):
    acct = make_account()
    first, other = make_credential(), make_credential(redirect_uri="https://other.example.com/cb")
    signed_in(client, acct, first)
    r = client.get(authz_url(other, prompt="none"))
    assert_client_error(r, other, "consent_required")


def test_prompt_none_with_consent_issues_a_code_without_any_page(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred)
    r = client.get(authz_url(cred, prompt="none", state="second"))
    code = assert_code(r, cred, state="second")
    assert exchange(client, cred, code).status_code == 200


# -- response_mode=form_post --------------------------------------------------------------------------


def _csp(r: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in r.headers["content-security-policy"].split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_form_post_auto_submits_code_state_and_iss(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred)
    r = client.get(authz_url(cred, response_mode="form_post", state="fp-state"))
    assert r.status_code == 200 and "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")
    soup = BeautifulSoup(r.text, "html.parser")
    form = soup.find("form")
    assert form["action"] == cred.redirect_uri and form["method"].lower() == "post"
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    assert fields["state"] == "fp-state" and fields["iss"] == ISSUER and fields["code"]
    assert "error" not in fields
    csp = _csp(r)
    assert "https://rp.example.com" in csp["form-action"]
    assert csp["frame-ancestors"] == ["'none'"]
    script = soup.find("script")
    assert script is not None and script.get("nonce")
    assert f"'nonce-{script['nonce']}'" in csp["script-src"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "no-store" in r.headers["cache-control"]
    assert exchange(client, cred, fields["code"]).status_code == 200


def test_form_post_escapes_the_state(client, make_credential):
    cred = make_credential()
    evil = '"><script>alert(1)</script>'
    r = client.get(authz_url(cred, response_mode="form_post", prompt="none", state=evil))
    assert r.status_code == 200
    assert "<script>alert(1)" not in r.text
    form = BeautifulSoup(r.text, "html.parser").find("form")
    assert form.find("input", attrs={"name": "state"})["value"] == evil
    assert len(BeautifulSoup(r.text, "html.parser").find_all("script")) == 1


def test_form_post_carries_errors_too(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, response_mode="form_post", prompt="none"))
    assert r.status_code == 200 and "location" not in r.headers
    form = BeautifulSoup(r.text, "html.parser").find("form")
    assert form["action"] == cred.redirect_uri
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    assert fields["error"] == "login_required" and fields["state"] == STATE and fields["iss"] == ISSUER
    assert "code" not in fields


# -- the person says no ------------------------------------------------------------------------------


def test_consent_denied_is_access_denied(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    r = authorize(client, authz_url(cred), acct.email, acct.password, consent="no")
    assert_client_error(r, cred, "access_denied")
    assert code_count(db) == 0
    # Nothing was remembered: a silent request still needs consent.
    assert_client_error(client.get(authz_url(cred, prompt="none")), cred, "consent_required")


def test_login_cancel_is_access_denied(client, db, make_credential):
    cred = make_credential()
    page = client.get(authz_url(cred))
    assert is_login_page(page)
    f = form_with(page.text, str(page.url), "login_declined")
    r = client.post(f.action, data=f.fields)
    assert_client_error(r, cred, "access_denied")
    assert session_count(db) == 0


# -- consent is remembered ---------------------------------------------------------------------------


def test_consent_is_remembered_for_the_same_or_fewer_scopes(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred, scope="openid profile")
    assert_code(client.get(authz_url(cred, scope="openid profile")), cred)
    assert_code(client.get(authz_url(cred, scope="openid")), cred)


def test_a_new_scope_asks_again(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred, scope="openid profile")
    r = client.get(authz_url(cred, scope="openid email"))
    assert is_consent_page(r)
    assert "See your email address" in r.text
    code = assert_code(post_consent(client, r, "yes"), cred)
    assert exchange(client, cred, code).json()["scope"].split() == ["openid", "email"]
    # Both approvals are now remembered.
    assert_code(client.get(authz_url(cred, scope="openid profile email")), cred)


def test_prompt_consent_asks_again(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred)
    r = client.get(authz_url(cred, prompt="consent"))
    assert is_consent_page(r)
    assert_code(post_consent(client, r, "yes"), cred)


def test_consent_page_names_the_app_and_what_it_may_do(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential(name="Billing Bridge")
    page = client.get(authz_url(cred, scope="openid profile email"))
    r = post_login(client, page, acct.email, acct.password)
    assert is_consent_page(r)
    assert "Billing Bridge" in r.text
    for text in ("Confirm who you are", "See your name and language", "See your email address"):
        assert text in r.text
    soup = BeautifulSoup(r.text, "html.parser")
    values = {b.get("value") for b in soup.find_all("button", attrs={"name": "userAuthorization"})}
    assert values == {"yes", "no"}
    assert soup.find("input", attrs={"name": "token"})["value"]


# -- forced login: prompt=login, max_age -----------------------------------------------------------


def test_prompt_login_forces_the_login_form(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred)
    r = client.get(authz_url(cred, prompt="login"))
    assert is_login_page(r)
    assert_code(post_login(client, r, acct.email, acct.password), cred)


def test_max_age_zero_forces_login_at_once(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred)
    # OIDC Core §3.1.2.1: max_age=0 is equivalent to prompt=login, even within the same second.
    r = client.get(authz_url(cred, max_age="0"))
    assert is_login_page(r)


def test_max_age_forces_login_and_auth_time_is_recent(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    signed_in(client, acct, cred)
    old = int(time.time()) - 1000
    with db.transaction() as s:
        s.execute(update(LoginSession).values(auth_time=old))
    # A young enough session is fine...
    assert_code(client.get(authz_url(cred, max_age="5000")), cred)
    # ... an older one must log in again.
    r = client.get(authz_url(cred, max_age="60", nonce="n-1"))
    assert is_login_page(r)
    code = assert_code(post_login(client, r, acct.email, acct.password), cred)
    tok = exchange(client, cred, code)
    assert tok.status_code == 200, tok.text
    claims = jwt_claims(tok.json()["id_token"])
    assert claims["auth_time"] >= int(time.time()) - 30
    assert claims["nonce"] == "n-1"


def test_login_hint_prefills_the_email(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred, login_hint="jane@example.com"))
    assert is_login_page(r)
    field = BeautifulSoup(r.text, "html.parser").find("input", attrs={"name": "username"})
    assert field["value"] == "jane@example.com"


def test_login_hint_is_escaped(client, make_credential):
    cred = make_credential()
    evil = '"><script>alert(1)</script>'
    r = client.get(authz_url(cred, login_hint=evil))
    assert is_login_page(r)
    assert "<script>alert(1)" not in r.text
    assert BeautifulSoup(r.text, "html.parser").find("input", attrs={"name": "username"})["value"] == evil


def test_not_you_ends_the_session_and_shows_the_login_form(client, make_account, make_credential):
    acct = make_account()
    first, other = make_credential(), make_credential(redirect_uri="https://other.example.com/cb")
    signed_in(client, acct, first)
    old_cookie = client.cookies.get("hospes_session")
    assert old_cookie
    page = client.get(authz_url(other))
    assert is_consent_page(page)
    assert acct.email in page.text
    f = form_with(page.text, str(page.url), "logout")
    r = client.post(f.action, data=f.fields)
    assert is_login_page(r)
    assert r.status_code == 200
    assert not client.cookies.get("hospes_session")
    # The session is over at the server too, not only forgotten by the browser.
    client.cookies.set("hospes_session", old_cookie)
    assert_client_error(client.get(authz_url(first, prompt="none")), first, "login_required")


# -- the login form -----------------------------------------------------------------------------------


def test_wrong_password_shows_the_message_and_the_form_again(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    page = client.get(authz_url(cred))
    r = post_login(client, page, acct.email, "wrong password")
    assert r.status_code == 401
    assert "Login Details Incorrect. Please try again." in r.text
    assert is_login_page(r)
    assert "location" not in r.headers
    assert session_count(db) == 0
    # The email is kept; the password is not echoed.
    assert BeautifulSoup(r.text, "html.parser").find("input", attrs={"name": "username"})["value"] == acct.email
    assert "wrong password" not in r.text
    # The form shown again still works.
    assert_code(authorize(client, authz_url(cred), acct.email, acct.password), cred)


def test_unknown_email_gets_the_same_message(client, make_credential):
    cred = make_credential()
    page = client.get(authz_url(cred))
    r = post_login(client, page, "nobody@example.com", "whatever")
    assert r.status_code == 401
    assert "Login Details Incorrect. Please try again." in r.text


def test_sixth_attempt_after_five_failures_is_throttled(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    page = client.get(authz_url(cred))
    for _ in range(5):
        r = post_login(client, page, acct.email, "wrong password")
        assert r.status_code == 401
    r = post_login(client, page, acct.email, acct.password)
    assert r.status_code == 429
    assert "Too many failed login attempts" in r.text
    assert is_login_page(r) and "location" not in r.headers
    assert session_count(db) == 0
    # The email's case does not open a new window.
    r = post_login(client, page, acct.email.upper(), acct.password)
    assert r.status_code == 429


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_login_post_without_a_valid_csrf_token_is_refused(client, db, make_account, make_credential, token):
    acct = make_account()
    cred = make_credential()
    page = client.get(authz_url(cred))
    f = login_form(page.text, str(page.url))
    data = {**f.fields, "username": acct.email, "password": acct.password}
    if token is None:
        data.pop("token")
    else:
        data["token"] = token
    r = client.post(f.action, data=data)
    assert r.status_code == 403
    assert "location" not in r.headers
    assert "hospes_session" not in r.headers.get("set-cookie", "")
    assert session_count(db) == 0


def test_login_post_from_another_browser_is_refused(client, app, db, make_account, make_credential):
    """The form token belongs to the browser whose cookie it was made for."""
    from starlette.testclient import TestClient

    acct = make_account()
    cred = make_credential()
    page = client.get(authz_url(cred))
    f = login_form(page.text, str(page.url))
    with TestClient(app, base_url=ISSUER, follow_redirects=False) as other:
        other.get(authz_url(cred))  # it has a CSRF cookie of its own
        r = other.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})
    assert r.status_code == 403
    assert session_count(db) == 0


def test_tampered_request_hash_is_refused(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    page = client.get(authz_url(cred))
    f = login_form(page.text, str(page.url))
    h = f.fields["request_hash"]
    i = len(h) // 3
    tampered = h[:i] + ("A" if h[i] != "A" else "B") + h[i + 1:]
    r = client.post(f.action, data={**f.fields, "request_hash": tampered, "username": acct.email,
                                    "password": acct.password})
    assert r.status_code == 400
    assert "location" not in r.headers
    assert session_count(db) == 0
