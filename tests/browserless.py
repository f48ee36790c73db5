"""Drive the login and consent pages as a person would, with plain HTTP: read the form, fill it in, post it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup


@dataclass
class Form:
    action: str
    fields: dict[str, str]


def forms(html: str, base: str) -> list[Form]:
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for f in soup.find_all("form"):
        fields = {i.get("name"): i.get("value", "") for i in f.find_all("input") if i.get("name")}
        found.append(Form(urljoin(base, f.get("action") or base), fields))
    return found


def form_with(html: str, base: str, field: str) -> Form:
    for f in forms(html, base):
        if field in f.fields:
            return f
    raise AssertionError(f"no form with field {field!r} in page:\n{html[:2000]}")


def login_form(html: str, base: str) -> Form:
    return form_with(html, base, "password")


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize(http: httpx.Client | Any, url: str, email: str, password: str, *, consent: str | None = "yes") -> Any:
    """GET the authorization URL, log in if asked, consent if asked; return the final response
    (a redirect to the client, or whatever page stopped the flow)."""
    r = http.get(url)
    for _ in range(5):
        if r.status_code in (302, 303):
            return r
        page = r.text
        base = str(r.url)
        if 'name="password"' in page:
            f = login_form(page, base)
            data = {**{k: v for k, v in f.fields.items() if k != "login_declined"},
                    "username": email, "password": password}
            r = http.post(f.action, data=data)
            continue
        if "userAuthorization" in page and consent is not None:
            f = form_with(page, base, "request_hash")
            data = dict(f.fields)
            data.pop("logout", None)
            data["userAuthorization"] = consent
            r = http.post(f.action, data=data)
            continue
        return r
    return r


def tokens_for(http: httpx.Client | Any, acct: Any, cred: Any, scope: str) -> dict[str, Any]:
    """The code flow as a relying party runs it: authorize (login, consent), then the token endpoint with
    client_secret_basic; returns the token response."""
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
              "scope": scope, "state": "s"}
    r = authorize(http, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    code = query_of(r.headers["location"])["code"]
    tok = http.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": cred.redirect_uri},
                    auth=(cred.client_id, cred.client_secret))
    assert tok.status_code == 200, tok.text
    return dict(tok.json())


def device_page(http: httpx.Client | Any, verification_uri: str, email: str, password: str, *,
                consent: str | None = "yes", accounts: tuple[str, ...] = ()) -> Any:
    """The device page (RFC 8628 §3.3) as a person uses it: open the link the device shows (its
    verification_uri_complete, or verification_uri with ``?user_code=`` added), log in when sent there, post the
    code, then answer the consent page (``accounts``: the account boxes to tick); return the last page."""
    r = http.get(verification_uri)
    code_posted = False
    for _ in range(10):
        if r.status_code in (302, 303):
            r = http.get(urljoin(str(r.url), r.headers["location"]))
            continue
        page, base = r.text, str(r.url)
        if 'name="password"' in page:
            f = login_form(page, base)
            r = http.post(f.action, data={**f.fields, "username": email, "password": password})
            continue
        if "userAuthorization" in page and consent is not None:
            f = form_with(page, base, "request_hash")
            data: dict[str, Any] = {k: v for k, v in f.fields.items() if k != "account"}
            data["userAuthorization"] = consent
            if accounts:
                data["account"] = list(accounts)
            r = http.post(f.action, data=data)
            return r
        if 'name="user_code"' in page and not code_posted:
            f = form_with(page, base, "user_code")
            r = http.post(f.action, data=f.fields)
            code_posted = True
            continue
        return r
    return r
