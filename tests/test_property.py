"""Random requests at the protocol endpoints and at every page and admin API command (hypothesis).

Whatever arrives: never a 5xx; JSON endpoints answer JSON with an ``error`` from the RFC's set when they
refuse; the authorization endpoint never sends the browser anywhere but the registered redirect URI;
no access token is ever handed out in answer to random input; every answer carries the security headers.
Every page and command, given hostile values in each of its fields and parameters (invalid UTF-8, encoded
surrogates, NUL, controls, huge numbers, long strings), answers the same way.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.browserless import authorize, login_form, query_of
from tests.conftest import PASSWORD

EXAMPLES = 60
PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

AUTHORIZE_PARAMS = [
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "login_hint", "response_mode", "request", "request_uri",
    "registration", "ui_locales", "id_token_hint", "acr_values", "claims", "display",
    # the pages' own form fields
    "request_hash", "token", "username", "password", "login_declined", "return_to_app", "logout",
    "userAuthorization", "authz[]", "second_factor", "code", "backup_code",
]
TOKEN_PARAMS = ["grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier",
                "refresh_token", "scope", "access_token", "token", "token_type_hint", "subject_token",
                "subject_token_type", "actor_token", "actor_token_type", "requested_token_type", "resource",
                "audience", "client_assertion", "client_assertion_type"]
BEARER_PARAMS = ["access_token", "token", "client_id", "scope"]

# RFC 6749 §4.1.2.1 and OpenID Connect Core §3.1.2.6
AUTHORIZE_ERRORS = {
    "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
    "server_error", "temporarily_unavailable", "interaction_required", "login_required",
    "account_selection_required", "consent_required", "invalid_request_uri", "invalid_request_object",
    "request_not_supported", "request_uri_not_supported", "registration_not_supported",
}
# RFC 6749 §5.2
TOKEN_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                "unsupported_grant_type", "invalid_scope", "invalid_target"}  # RFC 8707 §2, RFC 8693 §2.2.2
# RFC 6750 §3.1
BEARER_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}
# RFC 7009 §2.2.1 adds unsupported_token_type to RFC 6749 §5.2's
REVOKE_ERRORS = TOKEN_ERRORS | {"unsupported_token_type"}
INTROSPECT_ERRORS = TOKEN_ERRORS

TOKEN_NAMES = {"access_token", "refresh_token", "id_token"}


# -- the world the random requests land in ---------------------------------------------------------


@dataclass
class World:
    client: Any
    client_id: str
    client_secret: str
    redirect_uri: str
    access_token: str
    refresh_token: str
    request_hash: str
    csrf: str
    email: str
    password: str

    def pool(self) -> list[str]:
        """Real values, so random requests also get past the first checks."""
        return [self.client_id, self.client_secret, self.redirect_uri, self.access_token, self.refresh_token,
                self.request_hash, self.csrf, self.email, self.password]

    def plausible(self) -> dict[str, list[str]]:
        """For each parameter, values that pass its own check, so the next check is reached too."""
        return {
            "response_type": ["code"], "client_id": [self.client_id], "client_secret": [self.client_secret],
            "redirect_uri": [self.redirect_uri], "scope": ["openid", "openid profile email offline_access"],
            "state": ["s"], "nonce": ["n"], "code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
            "code_challenge_method": ["S256"], "prompt": ["none", "login", "consent"], "max_age": ["0", "60"],
            "response_mode": ["query", "form_post"], "login_hint": [self.email], "request_hash": [self.request_hash],
            "token": [self.csrf, self.access_token, self.refresh_token], "username": [self.email],
            "password": [self.password], "userAuthorization": ["yes", "no"], "logout": ["1"],
            "grant_type": ["authorization_code", "refresh_token", "single_sign_on", "client_credentials",
                           "urn:ietf:params:oauth:grant-type:token-exchange"],
            "subject_token": [self.access_token], "actor_token": [self.access_token],
            "subject_token_type": ["urn:ietf:params:oauth:token-type:access_token"],
            "actor_token_type": ["urn:ietf:params:oauth:token-type:access_token"],
            "audience": ["https://rp.example.com/api"],
            "client_assertion_type": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
            "client_assertion": ["eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4Iiwic3ViIjoieCJ9.c2ln", "a.b.c"],
            "resource": ["https://status.example.com", "https://unknown.example.com"],
            "code_verifier": ["dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"],
            "refresh_token": [self.refresh_token], "access_token": [self.access_token],
            "token_type_hint": ["access_token", "refresh_token"],
        }


@pytest.fixture
def world(client: Any, make_account: Any, make_credential: Any) -> World:
    """A client with consent given and a session, tokens issued, and a login page's signed fields."""
    acct = make_account()
    cred = make_credential(scope="openid profile email offline_access")
    url = "/oauth/authorize.php?" + urlencode({
        "response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
        "scope": "openid profile email offline_access", "state": "s"})
    r = authorize(client, url, acct.email, acct.password)
    code = query_of(r.headers["location"])["code"]
    tok = client.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": cred.redirect_uri},
                      auth=(cred.client_id, cred.client_secret)).json()
    page = client.get(url + "&prompt=login")
    f = login_form(page.text, str(page.url))
    return World(client, cred.client_id, cred.client_secret, cred.redirect_uri, tok["access_token"],
                 tok["refresh_token"], f.fields["request_hash"], f.fields["token"], acct.email, acct.password)


# -- strategies -----------------------------------------------------------------------------------

TEXT = st.characters(exclude_categories=("Cs",))  # anything a browser could send as UTF-8
CONTROL = st.text(alphabet=st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\u2028\u202e\ufeff"),
                  min_size=1, max_size=8)
SPECIAL = [
    "", " ", "code", "token", "code id_token", "openid", "openid profile email offline_access", "bogus",
    "openid clientarea:sso", "S256", "plain", "none", "login", "consent", "none login", "form_post",
    "query", "fragment", "0", "-1", "\u00b2", "99999999999", "yes", "no", "1", "authorization_code",
    "refresh_token", "single_sign_on", "password", "client_credentials", "access_token", "id_token",
    "https://attacker.example/cb", "https://rp.example.com/cb/", "https://rp.example.com/cb#x",
    "javascript:alert(1)", "//attacker.example", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "\u00e9\u00e8\u4e2d\U0001f600", "a\x00b", "%00", "%ff",
    "<script>alert(1)</script>", "' OR '1'='1", "eyJhbGciOiJub25lIn0.e30.",
]
RAW_TAILS = ["", "&", "&&", "=", "&=", "%ff", "%", "a=%zz", "%00=%00", "x=%c3%28", "x=%ED%A0%80", "%ED%B0%80=1",
             "&" + "k=v&" * 10]
TAILS = st.one_of(st.just(""), st.just(""), st.sampled_from(RAW_TAILS))  # mostly well-formed


def values(pool: list[str], good: list[str] | None = None) -> st.SearchStrategy[str]:
    good = good or pool
    return st.one_of(
        st.sampled_from(good),
        st.sampled_from(good),
        st.builds(lambda v: v + "\x00", st.sampled_from(good)),
        st.sampled_from(pool),
        st.sampled_from(SPECIAL),
        st.text(alphabet=TEXT, max_size=40),
        CONTROL,
        st.builds(lambda v, c: v + c, st.sampled_from(pool), CONTROL),  # a real value with junk after it
        st.builds(lambda v: v + "\x00", st.sampled_from(pool)),  # NUL: PostgreSQL text cannot hold it
        st.integers(min_value=2000, max_value=9000).map(lambda n: "a" * n),  # huge
    )


def params(names: list[str], pool: list[str], good: dict[str, list[str]] | None = None,
           ) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Mostly real parameter names (each at most once), some junk names, sometimes a repeat."""
    good = good or {}
    real = st.lists(st.sampled_from(names), unique=True, max_size=len(names)).flatmap(
        lambda keys: st.tuples(*[st.tuples(st.just(k), values(pool, good.get(k))) for k in keys]).map(list))
    junk = st.lists(st.tuples(st.one_of(st.sampled_from(names), st.text(alphabet=TEXT, max_size=12)),
                              values(pool)), max_size=3)
    return st.builds(lambda a, b, shuffle: (a + b)[::-1] if shuffle else a + b, real, junk, st.booleans())


def encode(pairs: list[tuple[str, str]], tail: str) -> str:
    body = urlencode(pairs)
    return body + tail if body or not tail.startswith("&") else tail


def authorization_header(w: World) -> st.SearchStrategy[str | None]:
    def basic(user: str, pw: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

    printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
    return st.one_of(
        st.none(),
        st.none(),
        st.just(basic(w.client_id, w.client_secret)),
        st.builds(basic, st.sampled_from([w.client_id, "", "x"]), st.text(alphabet=TEXT, max_size=20)),
        st.builds(basic, st.text(alphabet=TEXT, max_size=20), st.sampled_from([w.client_secret, ""])),
        st.builds(basic, st.sampled_from([w.client_id + "\x00", w.client_id + "%00"]), st.just(w.client_secret)),
        st.builds(lambda v: "Bearer " + v, st.sampled_from([w.access_token, w.refresh_token, "x", ""])),
        printable,
    )


FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = st.sampled_from([
    FORM, FORM, FORM, FORM, "application/x-www-form-urlencoded; charset=utf-8",
    "application/json", "text/plain", "multipart/form-data; boundary=x", "", "APPLICATION/X-WWW-FORM-URLENCODED",
])


@dataclass
class Sent:
    method: str
    query: str
    body: str
    content_type: str
    authorization: str | None


@st.composite
def requests(draw: Any, w: World, names: list[str], methods: tuple[str, ...] = ("GET", "POST", "POST")) -> Sent:
    method = draw(st.sampled_from(methods))
    q = encode(draw(params(names, w.pool(), w.plausible())), draw(TAILS))
    body = ""
    ctype = "application/x-www-form-urlencoded"
    if method == "POST":
        body = encode(draw(params(names, w.pool(), w.plausible())), draw(TAILS))
        ctype = draw(CONTENT_TYPES)
        if draw(st.booleans()):
            q = ""
    return Sent(method, q, body, ctype, draw(authorization_header(w)))


def send(w: World, path: str, req: Sent) -> Any:
    headers = {}
    if req.content_type:
        headers["Content-Type"] = req.content_type
    if req.authorization is not None:
        headers["Authorization"] = req.authorization
    url = path + ("?" + req.query if req.query else "")
    if req.method == "GET":
        return w.client.get(url, headers={k: v for k, v in headers.items() if k == "Authorization"})
    return w.client.post(url, content=req.body.encode(), headers=headers)


# -- checks --------------------------------------------------------------------------------------


SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def assert_not_5xx(r: Any, req: Any) -> None:
    """Never a 5xx, and the security headers on whatever comes back."""
    assert r.status_code < 500, (r.status_code, req, r.text[:500])
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (name, req, dict(r.headers))


def assert_json_error(r: Any, req: Sent, allowed: set[str]) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/json"), (req, r.headers)
    body = json.loads(r.text)
    assert isinstance(body, dict) and body.get("error") in allowed, (r.status_code, req, body)
    assert not TOKEN_NAMES & set(body), body
    assert "no-store" in r.headers.get("cache-control", "")
    # RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ), whatever the request held.
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]+", body.get("error_description", "x")), (req, body)
    # RFC 9110 §15.5.2: every 401 carries a challenge.
    assert r.status_code != 401 or r.headers.get("www-authenticate"), (req, r.headers)
    return body


def assert_no_tokens_in_json(r: Any) -> None:
    if r.headers.get("content-type", "").startswith("application/json") and r.text:
        body = json.loads(r.text)
        assert not (isinstance(body, dict) and TOKEN_NAMES & set(body)), body


# -- the properties ------------------------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_authorize_random_requests(world, data):
    w = world
    for path in ("/oauth/authorize.php",):
        req = data.draw(requests(w, AUTHORIZE_PARAMS))
        r = send(w, path, req)
        assert_not_5xx(r, req)
        registered = urlsplit(w.redirect_uri)
        if "location" in r.headers:
            loc = urlsplit(r.headers["location"])
            # Only ever the registered redirect URI, nothing added to it but a query.
            assert (loc.scheme, loc.netloc, loc.path, loc.fragment) == (
                registered.scheme, registered.netloc, registered.path, ""), (req, r.headers["location"])
            q = query_of(r.headers["location"])
            assert not TOKEN_NAMES & set(q), q
            if "error" in q:
                assert q["error"] in AUTHORIZE_ERRORS, q
            else:
                assert q.get("code"), q
            assert q.get("iss") == "http://127.0.0.1:8000"
        elif r.status_code == 200 and 'id="form_post"' in r.text:
            form = BeautifulSoup(r.text, "html.parser").find("form", id="form_post")
            assert form["action"] == w.redirect_uri, req
            names = {i.get("name") for i in form.find_all("input")}
            assert not TOKEN_NAMES & names
        else:
            assert r.headers["content-type"].startswith("text/html"), (req, r.status_code)
            assert 400 <= r.status_code < 500 or r.status_code == 200, (req, r.status_code)


@PROPERTY
@given(data=st.data())
def test_authorize_random_posts_from_the_pages(world, data):
    """The login and consent forms' own posts, with a real signed request and CSRF token in the mix."""
    w = world
    pairs = data.draw(params(AUTHORIZE_PARAMS, w.pool(), w.plausible()))
    if data.draw(st.booleans()):
        pairs = [("request_hash", w.request_hash), ("token", w.csrf), *pairs]
    body = encode(pairs, data.draw(TAILS))
    r = w.client.post("/oauth/authorize.php", content=body.encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_not_5xx(r, pairs)
    if "location" in r.headers:
        loc = r.headers["location"]
        assert loc.startswith(w.redirect_uri + "?"), loc
        assert not TOKEN_NAMES & set(query_of(loc))


@PROPERTY
@given(data=st.data())
def test_token_random_requests(world, data):
    w = world
    req = data.draw(requests(w, TOKEN_PARAMS))
    r = send(w, "/oauth/token.php", req)
    assert_not_5xx(r, req)
    assert r.status_code != 200 or "access_token" not in r.text, (req, r.text)
    if r.status_code >= 400:
        assert_json_error(r, req, TOKEN_ERRORS)
        if r.status_code == 401 and req.authorization and req.authorization.lower().startswith("basic "):
            assert r.headers["www-authenticate"].lower().startswith("basic")
    assert_no_tokens_in_json(r)


@PROPERTY
@given(data=st.data())
def test_par_random_requests(world, data):
    """RFC 9126: the PAR endpoint answers 201 with a request_uri, or a JSON error of the authorization or token
    endpoint's codes; never a redirect, never a token."""
    w = world
    req = data.draw(requests(w, [*AUTHORIZE_PARAMS, "client_secret"], methods=("POST",)))
    r = send(w, "/oauth/par", req)
    assert_not_5xx(r, req)
    assert "location" not in r.headers
    if r.status_code >= 400:
        assert_json_error(r, req, AUTHORIZE_ERRORS | TOKEN_ERRORS)
    else:
        assert r.status_code == 201, (req, r.status_code)
        assert r.json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert_no_tokens_in_json(r)


@PROPERTY
@given(data=st.data())
def test_userinfo_random_requests(world, data):
    w = world
    req = data.draw(requests(w, BEARER_PARAMS))
    r = send(w, "/oauth/userinfo.php", req)
    assert_not_5xx(r, req)
    if r.status_code >= 400:
        assert r.status_code in (400, 401, 403), (req, r.status_code)
        assert_json_error(r, req, BEARER_ERRORS)
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert_no_tokens_in_json(r)


@PROPERTY
@given(data=st.data())
def test_revoke_random_requests(world, data):
    w = world
    req = data.draw(requests(w, TOKEN_PARAMS))
    r = send(w, "/oauth/revoke", req)
    assert_not_5xx(r, req)
    if r.status_code >= 400:
        assert_json_error(r, req, REVOKE_ERRORS)
    else:
        assert r.status_code == 200 and r.text == "", (req, r.text)


@PROPERTY
@given(data=st.data())
def test_device_authorization_random_requests(world, data):
    w = world
    req = data.draw(requests(w, TOKEN_PARAMS + ["resource"]))
    r = send(w, "/oauth/device_authorization", req)
    assert_not_5xx(r, req)
    # The world's client may not use the device grant: nothing random gets a device code.
    assert r.status_code >= 400 and "device_code" not in r.text, (req, r.text)
    assert_json_error(r, req, TOKEN_ERRORS | {"invalid_target"})


@PROPERTY
@given(data=st.data())
def test_introspect_random_requests(world, data):
    w = world
    req = data.draw(requests(w, TOKEN_PARAMS))
    r = send(w, "/oauth/introspect", req)
    assert_not_5xx(r, req)
    if r.status_code >= 400:
        assert_json_error(r, req, INTROSPECT_ERRORS)
    else:
        body = r.json()
        assert isinstance(body.get("active"), bool), body
        if body["active"]:
            # Only a real token sent by its own, authenticated client is active.
            assert body["client_id"] == w.client_id
    assert_no_tokens_in_json(r)


# -- every page: each form field and query parameter, hostile -------------------------------------
#
# Each page is listed with the fields and parameters it reads (its forms' names and its query's), and gets them
# mostly as real values (ids that exist, this browser's CSRF token) and otherwise as what a hostile client sends:
# invalid UTF-8 (%ff), an encoded surrogate (%ED%A0%80), NUL, C0 and C1 controls, ids beyond the database's
# integer columns, digits int() refuses ("²"), dates beyond the calendar, long strings. Never a 5xx; every
# answer carries the security headers; a page answers HTML and redirects only here or to a registered URI.

PAGE_EXAMPLES = 50
PAGES = settings(max_examples=PAGE_EXAMPLES, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                        HealthCheck.data_too_large])

RAW_HOSTILE = ["%ff", "%ED%A0%80", "%ED%B0%80", "%00", "%C0%AF", "%F4%90%80%80", "%C2", "%", "%zz"]
HOSTILE_TEXT = [
    "", "\u00b2", "\u00b2\u00b3", "\u0663", "99999999999999999999", "2147483648", "2147483647", "-1", "0", "1e3",
    "9999-12-31", "0001-01-01", "2024-02-30", "10000-01-01", "2024-W01-1", "\x00", "a\x00b", "a\x01\x0bb", "\x1f",
    "a\x7f\x85\x9fb", "\ufffe\uffff", "\u202e\u2028", "<script>alert(1)</script>", "' OR '1'='1", "[]", "&=+",
    "//attacker.example", "https://attacker.example/", "/\\attacker.example", "javascript:alert(1)",
]
LONG = [300, 5000, 70_000]  # the last is over the 64 KiB a body may hold


def hostile(good: list[str], longest: int = LONG[-1]) -> st.SearchStrategy[str]:
    """One value, already form-encoded: mostly a real one, else something hostile (at most ``longest`` long: a
    URL holds at most 64 KiB)."""
    real = st.sampled_from(good or [""])
    unreadable = st.one_of(st.sampled_from(RAW_HOSTILE),
                           st.builds(lambda v, raw: quote_plus(v) + raw, real, st.sampled_from(RAW_HOSTILE)))
    return st.one_of(
        # Real values weigh most, so a request gets past its first checks to the next; one unreadable value
        # makes the whole request unreadable, so those are rarer still.
        *[real.map(quote_plus)] * 6,
        st.sampled_from(HOSTILE_TEXT).map(quote_plus),
        st.sampled_from(HOSTILE_TEXT).map(quote_plus),
        st.builds(lambda v, c: quote_plus(v + c), real, st.sampled_from(["\x00", "\x01", "\x85", "\ufffe", "\u00b2"])),
        st.text(alphabet=TEXT, max_size=30).map(quote_plus),
        st.integers(min_value=2**31 - 2, max_value=10**30).map(str),
        st.sampled_from([n for n in LONG if n <= longest]).map(lambda n: "a" * n),
        unreadable,
    )


@dataclass(frozen=True)
class PageSpec:
    path: str  # may hold {id} or {token}, filled from Site.path_values
    fields: tuple[str, ...]
    methods: tuple[str, ...] = ("GET", "POST")
    area: str = "public"  # which session the page needs: public, customer, admin


P = PageSpec
AUTHORIZE_FIELDS = tuple(AUTHORIZE_PARAMS)
DEVICE_FIELDS = ("user_code", "token", "userAuthorization", "request_hash", "account", "logout")
PUBLIC_PAGES = [
    P("/login", ("next", "username", "password", "token", "second_factor", "code", "backup_code")),
    P("/logout", ("token",), ("POST",)),
    P("/password/reset", ("email", "token")),
    P("/password/reset/{token}", ("new_password", "new_password_confirm", "token")),
    P("/email/verify", ("token", "verification")),
    P("/oauth/singlesignon.php", ("access_token",), ("GET",)),
    P("/oauth/logout", ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_request",
                        "token", "confirm", "ui_locales")),
    P("/oauth/authorize.php", AUTHORIZE_FIELDS),
    P("/oauth/authorize", AUTHORIZE_FIELDS),
    P("/device", DEVICE_FIELDS),
    P("/admin/login", ("next", "logged_out", "username", "password", "token")),
]
CLIENT_AREA = ("client", "token")
CUSTOMER_PAGES = [
    P("/clientarea.php", ("action", "id", "verification", *CLIENT_AREA), ("GET",), "customer"),
    P("/supporttickets.php", ("opened", *CLIENT_AREA), ("GET",), "customer"),
    P("/submitticket.php", ("subject", "message", *CLIENT_AREA), area="customer"),
    P("/account/sso", ("allow_sso", "saved", *CLIENT_AREA), area="customer"),
    P("/account/users", ("user", "sso", "saved", *CLIENT_AREA), area="customer"),
    P("/account/applications", ("app", "revoked", *CLIENT_AREA), area="customer"),
    P("/account/applications.json", CLIENT_AREA, ("GET",), "customer"),
    P("/account/security", ("action", "code", "turned_off", *CLIENT_AREA), area="customer"),
    P("/account/sessions", ("action", "session", "ended", *CLIENT_AREA), area="customer"),
    P("/account/password", ("current_password", "new_password", "new_password_confirm", "changed", *CLIENT_AREA),
      area="customer"),
    P("/account/email/verification", CLIENT_AREA, area="customer"),
    P("/device", DEVICE_FIELDS, area="customer"),
]
CREDENTIAL_FORM = ("name", "description", "logo_uri", "redirect_uri", "scope", "backchannel_logout_uri",
                   "backchannel_logout_session_required", "op", "token", "done")
RESOURCE_FORM = ("identifier", "name", "scopes", "token_format", "require_acr", "token", "done")
ADMIN_PAGES = [
    P("/admin/", ("token",), ("GET",), "admin"),
    P("/admin/oauth", ("done",), ("GET",), "admin"),
    P("/admin/oauth/new", CREDENTIAL_FORM, area="admin"),
    P("/admin/oauth/{id}", CREDENTIAL_FORM, area="admin"),
    P("/admin/oauth/{id}/reset", ("token",), area="admin"),
    P("/admin/oauth/{id}/delete", ("token",), area="admin"),
    P("/admin/resources", ("done",), ("GET",), "admin"),
    P("/admin/resources/new", RESOURCE_FORM, area="admin"),
    P("/admin/resources/{id}", RESOURCE_FORM, area="admin"),
    P("/admin/resources/{id}/delete", ("token",), area="admin"),
    P("/admin/api", ("done",), ("GET",), "admin"),
    P("/admin/api/roles", ("name", "description", "all_actions", "action", "other_actions", "token"), ("POST",),
      "admin"),
    P("/admin/api/credentials", ("admin", "role", "description", "token"), ("POST",), "admin"),
    P("/admin/api/credentials/{id}/revoke", ("token",), area="admin"),
    P("/admin/clients", ("q", "status", "page"), ("GET",), "admin"),
    P("/admin/clients/{id}", ("status", "allow_sso", "done", "token"), area="admin"),
    P("/admin/audit", ("actor", "action", "target", "from", "to", "page"), ("GET",), "admin"),
    P("/admin/logout", ("token",), ("POST",), "admin"),
]
API_FIELDS = (
    "clientid", "email", "firstname", "lastname", "companyname", "password2", "status", "language", "owner_user_id",
    "email_verified", "allowSingleSignOn", "allow_sso", "clientemail", "search", "orderby", "sorting", "limitstart",
    "limitnum", "stats", "serviceid", "pid", "domain", "username2", "credentialId", "clientApiIdentifier", "name",
    "description", "grantType", "scope", "serviceId", "logoUri", "redirectUri", "redirectUri[]", "resetSecret",
    "sortField", "sortOrder", "limit", "client_id", "user_id", "service_id", "domain_id", "destination",
    "sso_redirect_path", "resource", "resourceId", "tokenFormat", "requireAcr", "scopes", "scopes[panel:read]",
    "scopes[]",
)


@dataclass
class Site:
    http: Any
    csrf: str
    customer: Any
    admin: str
    api: Any
    good: dict[str, list[str]]
    path_values: dict[str, list[str]]
    redirect_uris: tuple[str, ...]

    def values_for(self, name: str) -> list[str]:
        return self.good.get(name) or self.good["*"]

    def ensure(self, area: str) -> None:
        """Log in again when an earlier request ended the session (a logout, "sign out everywhere")."""
        from tests.admin import login as admin_login
        from tests.clientarea import login as customer_login

        if area == "customer" and self.http.get("/account/applications.json").status_code != 200:
            customer_login(self.http, self.customer)
        elif area == "admin" and self.http.get("/admin/").status_code != 200:
            assert admin_login(self.http, self.admin).status_code == 303


@pytest.fixture
def site(app: Any, db: Any, make_account: Any, make_credential: Any, make_service: Any) -> Any:
    """A customer with a service, a domain, an invoice and a ticket, logged in; a full admin, logged in; an API
    credential; an OAuth credential with a grant and an ID token; all in one browser (the API's allowed
    address)."""
    from hospes.oauth import resources
    from hospes.store.models import ApiCredential
    from tests.admin import csrf_token, make_admin
    from tests.admin import login as admin_login
    from tests.adminapi import api_client, make_api_credential
    from tests.browserless import tokens_for
    from tests.clientarea import add_domain, add_invoice, add_ticket
    from tests.clientarea import login as customer_login

    customer, other = make_account(), make_account()
    cred = make_credential(scope="openid profile email", post_logout_redirect_uris=["https://rp.example.com/bye"])
    service = make_service(customer.client_id)
    domain = add_domain(db, customer.client_id, "example.org")
    invoice = add_invoice(db, customer.client_id, "10.00")
    ticket = add_ticket(db, customer.client_id, "Hello")
    make_admin(db, "alice")
    api = make_api_credential(db)
    with db.read() as s:
        api_id = s.scalars(select(ApiCredential.id)).first()
    with db.transaction() as s:
        resource_id = resources.add(s, issuer="http://127.0.0.1:8000", identifier="https://status.example.com",
                                    name="Status", scopes=[("status:read", "See the status")], actor=None).id
    with api_client(app) as http:
        id_token = tokens_for(http, customer, cred, "openid")["id_token"]
        customer_login(http, customer)
        assert admin_login(http, "alice").status_code == 303
        csrf = csrf_token(http.get("/login").text)
        ids = [str(customer.client_id), str(other.client_id), str(service), str(domain), str(invoice), str(ticket),
               str(cred.credential_id), str(api_id), str(resource_id)]
        good = {
            "*": [csrf, customer.email, "x", *ids],
            "token": [csrf, csrf, csrf],
            "client": [str(customer.client_id)], "id": ids, "clientid": [str(customer.client_id), str(other.client_id)],
            "client_id": [str(customer.client_id), cred.client_id], "user_id": [str(customer.user_id)],
            "service_id": [str(service)], "serviceid": [str(service)], "serviceId": [str(service)],
            "domain_id": [str(domain)], "credentialId": [str(cred.credential_id)],
            "clientApiIdentifier": [cred.client_id], "session": ["1", "2"], "app": [str(cred.credential_id)],
            "user": [str(customer.user_id)], "sso": [str(customer.user_id)], "opened": [str(ticket)],
            "action": ["details", "services", "productdetails", "domains", "domaindetails", "invoices", "emails",
                       "begin", "cancel", "confirm", "disable", "regenerate", "others", "GetClients"],
            "username": [customer.email, "alice"], "password": [PASSWORD],
            # Never the real current password: a random new one would then lock the test out.
            "current_password": ["wrong password"], "new_password": ["x" * 12], "new_password_confirm": ["x" * 12],
            "next": ["/clientarea.php", "/admin/clients", "/account/sessions"],
            "email": [customer.email, "new@example.com"], "q": [customer.email, "Jane", "1"],
            "status": ["Active", "Inactive", "Closed", "Open"], "page": ["1", "2"], "from": ["2024-01-01"],
            "to": ["2030-12-31"], "allow_sso": ["1", "on", ""], "saved": ["1"], "done": ["saved", "deleted", "added"],
            "op": ["save", "add", "remove:0", "remove:1"], "redirect_uri": [cred.redirect_uri],
            "redirectUri": [cred.redirect_uri], "scope": ["openid", "openid profile", "clientarea:sso"],
            "grantType": ["authorization_code", "single_sign_on"], "id_token_hint": [id_token],
            "post_logout_redirect_uri": ["https://rp.example.com/bye"], "confirm": ["yes", "no"],
            "destination": ["clientarea:product_details", "clientarea:domain_details", "sso:custom_redirect"],
            "sso_redirect_path": ["/clientarea.php", "//attacker.example"], "admin": ["alice", "apiadmin"],
            "role": ["role-apiadmin"], "name": ["App", "ops"], "firstname": ["Jane"], "lastname": ["Doe"],
            "password2": [PASSWORD], "language": ["english", "fr"], "limitnum": ["1", "25"],
            "response_type": ["code"], "state": ["s"], "nonce": ["n"], "prompt": ["none", "login", "consent"],
            "code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"], "code_challenge_method": ["S256"],
            "identifier": ["https://panel.example.com/api", "http://127.0.0.1:8000/api/v1"],
            "resource": ["https://panel.example.com/api", "https://status.example.com"],
            "scopes": ["panel:read = Read\npanel:write = Write", "openid = Log in", "panel:read=Read"],
            "scopes[panel:read]": ["Read your panel"], "scopes[]": ["x"], "resourceId": ["1", "2"],
            "token_format": ["opaque", "jwt"], "tokenFormat": ["opaque", "jwt"], "require_acr": ["", "1", "2"],
            "requireAcr": ["", "2"],
            "max_age": ["0", "60"], "response_mode": ["query", "form_post"], "login_hint": [customer.email],
        }
        yield Site(http, csrf, customer, "alice", api, good,
                   {"id": ids + ["0", "2147483648", "99999999999999999999"],
                    "token": ["abc", "%ff", "%00", "%ED%A0%80", "a" * 3000]},
                   (cred.redirect_uri, "https://rp.example.com/bye"))


@st.composite
def page_requests(draw: Any, s: Site, pages: list[PageSpec]) -> tuple[PageSpec, str, str, str, str]:
    """(page, method, url, body, content type)"""
    spec = draw(st.sampled_from(pages))
    method = draw(st.sampled_from(spec.methods))
    path = spec.path
    for slot, choices in s.path_values.items():
        path = path.replace("{" + slot + "}", draw(st.sampled_from(choices)))

    def encoded(longest: int) -> str:
        names = draw(st.lists(st.sampled_from(spec.fields), unique=True, max_size=len(spec.fields)))
        pairs = [(n, draw(hostile(s.values_for(n), longest))) for n in names]
        if method == "POST" and "token" in spec.fields and "token" not in names and draw(st.integers(0, 3)):
            pairs.append(("token", s.csrf))  # mostly past the CSRF check, so the page itself is reached
        if pairs and draw(st.integers(0, 5)) == 0:
            pairs.append(draw(st.sampled_from(pairs)))  # a field twice
        return "&".join(f"{quote_plus(n)}={v}" for n, v in pairs)

    query = encoded(LONG[0]) if method == "GET" or draw(st.integers(0, 3)) == 0 else ""
    body = encoded(LONG[-1]) if method == "POST" else ""
    ctype = draw(st.sampled_from([FORM, FORM, FORM, "text/plain", ""])) if method == "POST" else ""
    return spec, method, path + ("?" + query if query else ""), body, ctype


def send_page(s: Site, method: str, url: str, body: str, ctype: str) -> Any:
    if method == "GET":
        return s.http.get(url)
    return s.http.post(url, content=body.encode(), headers={"Content-Type": ctype} if ctype else {})


def assert_safe_answer(s: Site, r: Any, what: Any) -> None:
    assert_not_5xx(r, what)
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), what
    location = r.headers.get("location")
    if location is not None:
        here = location.startswith("/") and not location.startswith("//") and "\\" not in location
        assert here or location.startswith(("http://127.0.0.1:8000/", *s.redirect_uris)), (location, what)


def check_pages(s: Site, data: Any, pages: list[PageSpec]) -> None:
    spec, method, url, body, ctype = data.draw(page_requests(s, pages))
    s.ensure(spec.area)
    r = send_page(s, method, url, body, ctype)
    what = (method, url[:300], body[:300], ctype)
    event(f"{method} {spec.path} {r.status_code}")  # --hypothesis-show-statistics: what the pages answered
    assert_safe_answer(s, r, what)
    if r.status_code != 200 or spec.path.endswith(".json"):
        return
    assert r.headers["content-type"].startswith("text/html"), what


@PAGES
@given(data=st.data())
def test_public_pages_random_requests(site, data):
    check_pages(site, data, PUBLIC_PAGES)


@PAGES
@given(data=st.data())
def test_client_area_pages_random_requests(site, data):
    check_pages(site, data, CUSTOMER_PAGES)


@PAGES
@given(data=st.data())
def test_admin_pages_random_requests(site, data):
    check_pages(site, data, ADMIN_PAGES)


@PAGES
@given(data=st.data())
def test_admin_api_random_commands(site, data):
    """Every command with every parameter it reads, from an authenticated caller: WHMCS's envelope, JSON or
    well-formed XML, never a 5xx."""
    import xml.etree.ElementTree as ET

    import hospes.adminapi.commands  # noqa: F401  (registers the commands)
    from hospes.adminapi.dispatch import COMMANDS

    action = data.draw(st.one_of(st.sampled_from(sorted(COMMANDS)), st.sampled_from(["", "Nope", "getclients"])))
    responsetype = data.draw(st.sampled_from(["json", "xml", "xml", "XML", "", "yaml"]))
    names = data.draw(st.lists(st.sampled_from(API_FIELDS), unique=True, max_size=6))
    pairs = [("action", quote_plus(action)), ("identifier", quote_plus(site.api.identifier)),
             ("secret", quote_plus(site.api.secret)), ("responsetype", quote_plus(responsetype))]
    pairs += [(n, data.draw(hostile(site.values_for(n)))) for n in names]
    body = "&".join(f"{quote_plus(n)}={v}" for n, v in pairs)
    r = site.http.post("/includes/api.php", content=body.encode(), headers={"Content-Type": FORM})
    what = (action, responsetype, body[:500])
    assert_safe_answer(site, r, what)
    event(f"{action} {r.status_code} " + (r.text if "<" not in r.text[:1] else r.text[:200])[:60])
    assert r.status_code in (200, 400, 403, 413), (r.status_code, what)
    if r.headers["content-type"].startswith("application/xml"):
        root = ET.fromstring(r.content)
        assert root.tag == "whmcsapi" and root.findtext("result") in ("success", "error"), what
    else:
        assert r.headers["content-type"].startswith("application/json"), what
        assert json.loads(r.text)["result"] in ("success", "error"), what
