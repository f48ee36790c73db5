"""Helpers for the customer API's tests: a person with several client accounts, the consent page's account
checkboxes, and a token obtained through the real pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bs4 import BeautifulSoup
from sqlalchemy import select

from hospes.accounts.service import add_client_for_user
from hospes.store.db import Database
from hospes.store.models import Grant
from tests.browserless import form_with, login_form, query_of


def second_account(db: Database, user_id: int, company: str = "Second Ltd") -> int:
    with db.transaction() as s:
        return add_client_for_user(s, owner_user_id=user_id, company=company)


def authz_path(cred: Any, scope: str, **extra: str) -> str:
    return "/oauth/authorize.php?" + urlencode({"response_type": "code", "client_id": cred.client_id,
                                                "redirect_uri": cred.redirect_uri, "scope": scope, "state": "s",
                                                **extra})


def consent_page(http: Any, acct: Any, cred: Any, scope: str, **extra: str) -> Any:
    """The page the person sees after logging in (a consent page, or a redirect when none is due)."""
    r = http.get(authz_path(cred, scope, **extra))
    if 'name="password"' in r.text:
        f = login_form(r.text, str(r.url))
        r = http.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})
    return r


def account_boxes(html: str) -> dict[str, bool]:
    """The consent form's ``account`` checkboxes: value -> checked."""
    soup = BeautifulSoup(html, "html.parser")
    return {i["value"]: i.has_attr("checked") for i in soup.find_all("input", attrs={"name": "account"})}


def approve(http: Any, page: Any, accounts: list[int] | tuple[int, ...]) -> Any:
    """Post the consent form with ``accounts`` ticked (as a browser sends several checkboxes)."""
    f = form_with(page.text, str(page.url), "request_hash")
    fields = [(k, v) for k, v in f.fields.items() if k not in ("logout", "account")]
    fields += [("account", str(a)) for a in accounts] + [("userAuthorization", "yes")]
    return http.post(f.action, content=urlencode(fields),
                     headers={"content-type": "application/x-www-form-urlencoded"})


def code_of(r: Any) -> str:
    assert r.status_code in (302, 303), r.text
    return query_of(r.headers["location"])["code"]


def token_for(http: Any, acct: Any, cred: Any, scope: str, accounts: list[int] | tuple[int, ...] = (),
              **extra: str) -> dict[str, Any]:
    """Log in, choose ``accounts`` on the consent page (when it asks), exchange the code: the token response."""
    r = consent_page(http, acct, cred, scope, **extra)
    if r.status_code == 200 and "userAuthorization" in r.text:
        r = approve(http, r, accounts)
    tok = http.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code_of(r),
                                              "redirect_uri": cred.redirect_uri},
                    auth=(cred.client_id, cred.client_secret))
    assert tok.status_code == 200, tok.text
    return dict(tok.json())


def latest_grant_accounts(db: Database, user_id: int) -> str | None:
    with db.read() as s:
        return s.scalars(select(Grant.accounts).where(Grant.user_id == user_id).order_by(Grant.id.desc())).first()
