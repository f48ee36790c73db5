"""Random requests at the protocol endpoints (hypothesis).

Whatever arrives: never a 5xx; JSON endpoints answer JSON with an ``error`` from the RFC's set when they
refuse; the authorization endpoint never sends the browser anywhere but the registered redirect URI;
and no access token is ever handed out in answer to random input.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.browserless import authorize, login_form, query_of

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
    "userAuthorization", "authz[]",
]
TOKEN_PARAMS = ["grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier",
                "refresh_token", "scope", "access_token", "token", "token_type_hint"]
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
                "unsupported_grant_type", "invalid_scope"}
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
            "grant_type": ["authorization_code", "refresh_token", "single_sign_on"],
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
RAW_TAILS = ["", "&", "&&", "=", "&=", "%ff", "%", "a=%zz", "%00=%00", "x=%c3%28", "&" + "k=v&" * 10]
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


def assert_not_5xx(r: Any, req: Sent) -> None:
    assert r.status_code < 500, (r.status_code, req, r.text[:500])


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
    assert r.status_code < 500, (pairs, r.text[:500])
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
