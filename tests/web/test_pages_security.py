"""What a browser is told about every page: framing, sniffing, caching, cookies, forms; and an issuer
with a path, where every endpoint lives below that path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from hospes.config import load_settings
from tests.browserless import authorize, form_with, login_form, query_of

ISSUER = "http://127.0.0.1:8000"


def authz_url(cred: Any, prefix: str = "", **extra: str) -> str:
    return prefix + "/oauth/authorize.php?" + urlencode({
        "response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
        "scope": "openid", "state": "s", **extra})


def csp(r: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in r.headers["content-security-policy"].split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_page_headers(r: Any) -> None:
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert csp(r).get("frame-ancestors") == ["'none'"], r.headers.get("content-security-policy")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def set_cookies(r: Any) -> dict[str, str]:
    """name -> the whole Set-Cookie line."""
    return {line.split("=", 1)[0].strip(): line for line in r.headers.get_list("set-cookie")}


def cookie_attrs(line: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in line.split(";")[1:]} | {
        part.strip().lower() for part in line.split(";")[1:]}


# -- every HTML page --------------------------------------------------------------------------------


def all_pages(client: Any, acct: Any, cred: Any) -> dict[str, Any]:
    pages: dict[str, Any] = {}
    pages["error"] = client.get(authz_url(cred, client_id="HOSPES.unknown"))
    pages["login"] = client.get(authz_url(cred))
    f = login_form(pages["login"].text, str(pages["login"].url))
    pages["login_wrong"] = client.post(f.action, data={**f.fields, "username": acct.email, "password": "nope"})
    pages["csrf"] = client.post(f.action, data={**f.fields, "token": "x", "username": acct.email,
                                                "password": acct.password})
    pages["expired"] = client.post(f.action, data={**f.fields, "request_hash": "x", "username": acct.email,
                                                   "password": acct.password})
    pages["consent"] = client.post(f.action, data={**f.fields, "username": acct.email,
                                                   "password": acct.password})
    c = form_with(pages["consent"].text, str(pages["consent"].url), "request_hash")
    done = client.post(c.action, data={**{k: v for k, v in c.fields.items() if k != "logout"},
                                       "userAuthorization": "yes"})
    assert done.status_code == 303
    pages["form_post"] = client.get(authz_url(cred, response_mode="form_post"))
    pages["logout_confirm"] = client.get("/oauth/logout")
    pages["logout_error"] = client.get("/oauth/logout", params={"id_token_hint": "bad"})
    return pages


def test_every_page_refuses_framing_and_sniffing(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    pages = all_pages(client, acct, cred)
    assert pages["error"].status_code == 400
    assert pages["login"].status_code == 200 and pages["consent"].status_code == 200
    assert pages["csrf"].status_code == 403 and pages["login_wrong"].status_code == 401
    assert pages["logout_confirm"].status_code == 200 and pages["logout_error"].status_code == 400
    for name, r in pages.items():
        try:
            assert_page_headers(r)
        except AssertionError as exc:
            raise AssertionError(f"page {name!r}: {exc}") from exc


def test_pages_with_forms_are_not_cached(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    pages = all_pages(client, acct, cred)
    for name in ("login", "consent", "form_post", "logout_confirm"):
        assert "no-store" in pages[name].headers["cache-control"], name


def test_default_policy_allows_no_script_and_posts_only_here(client, make_credential):
    cred = make_credential()
    r = client.get(authz_url(cred))
    policy = csp(r)
    assert policy["script-src"] == ["'none'"] or "'none'" in policy.get("default-src", [])
    # Forms post here; a post may end in a redirect to this application (browsers check form-action on
    # redirects too), so its origin may be named: nothing else.
    assert "'self'" in policy["form-action"]
    assert set(policy["form-action"]) <= {"'self'", "https://rp.example.com"}
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    other = client.get("/clientarea.php", follow_redirects=True)
    assert csp(other)["form-action"] == ["'self'"]


def test_json_endpoints_are_not_cached(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    r = authorize(client, authz_url(cred), acct.email, acct.password)
    code = query_of(r.headers["location"])["code"]
    ok = client.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": cred.redirect_uri},
                     auth=(cred.client_id, cred.client_secret))
    bad = client.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": cred.redirect_uri},
                      auth=(cred.client_id, cred.client_secret))
    at = ok.json()["access_token"]
    ui = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + at})
    intro = client.post("/oauth/introspect", data={"token": at}, auth=(cred.client_id, cred.client_secret))
    for r in (ok, bad, ui, intro):
        assert "no-store" in r.headers["cache-control"]
        assert r.headers["x-content-type-options"] == "nosniff"


# -- the login form --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["authorize", "clientarea"])
def test_login_form_fields_are_labelled_and_carry_a_csrf_token(client, make_credential, where):
    if where == "authorize":
        r = client.get(authz_url(make_credential()))
    else:  # CONTRACT: /clientarea.php opens the customer's home, or the login page
        r = client.get("/clientarea.php", follow_redirects=True)
    assert r.status_code == 200
    assert_page_headers(r)
    soup = BeautifulSoup(r.text, "html.parser")
    form = next(f for f in soup.find_all("form") if f.find("input", attrs={"name": "password"}))
    assert form["method"].lower() == "post"
    for name in ("username", "password"):
        field = form.find("input", attrs={"name": name})
        assert field is not None and field.get("id"), name
        label = soup.find("label", attrs={"for": field["id"]})
        assert label is not None and label.get_text(strip=True), f"no visible label for {name}"
    assert form.find("input", attrs={"name": "password"})["type"] == "password"
    token = form.find("input", attrs={"name": "token"})
    assert token is not None and token["type"] == "hidden" and len(token["value"]) >= 20
    assert form.find(["button", "input"], attrs={"type": "submit"}) is not None


# -- cookies ---------------------------------------------------------------------------------------


def _login_response(client: Any, acct: Any, cred: Any, prefix: str = "") -> Any:
    page = client.get(authz_url(cred, prefix))
    f = login_form(page.text, str(page.url))
    r = client.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})
    assert "hospes_session" in set_cookies(r), r.headers
    return r


def test_session_cookie_is_httponly_and_lax(client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    r = _login_response(client, acct, cred)
    attrs = cookie_attrs(set_cookies(r)["hospes_session"])
    assert "httponly" in attrs
    assert "samesite=lax" in attrs
    assert "secure" not in attrs  # plain http on loopback: a Secure cookie would never come back
    assert "path=/" in attrs


@pytest.fixture
def https_client(database_url: str, tmp_path: Any, db: Any) -> Iterator[TestClient]:
    from hospes.app import create_app

    settings = load_settings(issuer="https://id.example.com", database_url=database_url,
                             var_dir=str(tmp_path / "var"), secret_key="test-secret-key-" + "x" * 32)
    with TestClient(create_app(settings), base_url="https://id.example.com", follow_redirects=False) as c:
        yield c


def test_cookies_are_secure_when_the_issuer_is_https(https_client, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    page = https_client.get(authz_url(cred))
    assert "secure" in cookie_attrs(set_cookies(page)["hospes_csrf"])
    assert "max-age=31536000" in page.headers["strict-transport-security"]
    r = _login_response(https_client, acct, cred)
    attrs = cookie_attrs(set_cookies(r)["hospes_session"])
    assert {"secure", "httponly", "samesite=lax"} <= attrs
    # The flow still completes, and says which issuer answered (RFC 9207).
    assert r.status_code == 200 and "userAuthorization" in r.text


# -- an issuer with a path -------------------------------------------------------------------------


@pytest.fixture
def portal_client(database_url: str, tmp_path: Any, db: Any) -> Iterator[TestClient]:
    from hospes.app import create_app

    settings = load_settings(issuer=ISSUER + "/portal", database_url=database_url,
                             var_dir=str(tmp_path / "var"), secret_key="test-secret-key-" + "x" * 32)
    with TestClient(create_app(settings), base_url=ISSUER, follow_redirects=False) as c:
        yield c


def test_issuer_with_a_path_serves_everything_below_it(portal_client, make_account, make_credential):
    c = portal_client
    issuer = ISSUER + "/portal"
    r = c.get("/portal/.well-known/openid-configuration")
    assert r.status_code == 200
    doc = r.json()
    assert doc["issuer"] == issuer
    assert c.get("/portal/oauth/openid-configuration.php").json() == doc
    assert c.get("/.well-known/openid-configuration").status_code == 404
    assert c.get("/oauth/authorize.php").status_code == 404
    urls = {k: v for k, v in doc.items() if isinstance(v, str) and v.startswith("http")}
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                "revocation_endpoint", "introspection_endpoint", "end_session_endpoint"):
        assert key in urls, key
    for key, url in urls.items():
        assert url == issuer or url.startswith(issuer + "/"), (key, url)
    for key, url in urls.items():
        if not (key.endswith("_endpoint") or key == "jwks_uri"):
            continue
        path = urlsplit(url).path
        answer = c.get(path)
        assert answer.status_code != 404 and answer.status_code < 500, (key, url, answer.status_code)
    assert c.get(urlsplit(doc["jwks_uri"]).path).json()["keys"]


def test_code_flow_under_an_issuer_path(portal_client, make_account, make_credential):
    c = portal_client
    acct, cred = make_account(), make_credential()
    page = c.get(authz_url(cred, "/portal"))
    assert page.status_code == 200
    f = login_form(page.text, str(page.url))
    assert urlsplit(f.action).path.startswith("/portal/")
    assert BeautifulSoup(page.text, "html.parser").find("link", rel="stylesheet")["href"].startswith("/portal/")
    r = c.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})
    assert "path=/portal" in cookie_attrs(set_cookies(r)["hospes_session"])
    r = authorize(c, authz_url(cred, "/portal"), acct.email, acct.password)
    assert r.status_code == 303, r.text
    q = query_of(r.headers["location"])
    assert q["iss"] == ISSUER + "/portal"
    doc = c.get("/portal/.well-known/openid-configuration").json()
    tok = c.post(urlsplit(doc["token_endpoint"]).path, data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": cred.redirect_uri},
        auth=(cred.client_id, cred.client_secret))
    assert tok.status_code == 200, tok.text
    ui = c.get(urlsplit(doc["userinfo_endpoint"]).path,
               headers={"Authorization": "Bearer " + tok.json()["access_token"]})
    assert ui.status_code == 200 and ui.json()["sub"]
