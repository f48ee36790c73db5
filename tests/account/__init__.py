"""Helpers for the account-security tests: a TOTP clock, enrolment through the pages, logins with a code."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pyotp
from bs4 import BeautifulSoup

from hospes.accounts import twofactor
from tests.browserless import form_with, forms, login_form
from tests.conftest import Account

BASE = "http://127.0.0.1:8000"


@dataclass
class TotpClock:
    """A clock for the TOTP check that tests move on by whole time steps, so each code is a new one."""

    now: float = field(default_factory=lambda: float(int(time.time())))

    def epoch(self) -> int:
        return int(self.now)

    def tick(self) -> None:
        self.now += twofactor.INTERVAL

    def code(self, secret: str, *, advance: bool = True) -> str:
        if advance:
            self.tick()
        return str(pyotp.TOTP(secret).at(self.now))


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def fields_of(html: str, base: str, name: str) -> tuple[str, dict[str, str]]:
    f = form_with(html, base, name)
    return f.action, dict(f.fields)


def post_form(http: Any, page: Any, field_name: str, **values: str) -> Any:
    """Post the form of ``page`` that has ``field_name``, with ``values`` filled in."""
    action, data = fields_of(page.text, str(page.url), field_name)
    data.update(values)
    return http.post(action, data=data)


def login_password(http: Any, acct: Account) -> Any:
    """The client area's login form, filled in; returns the answer (a redirect, or the code page)."""
    page = http.get("/login")
    f = login_form(page.text, str(page.url))
    return http.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})


def login(http: Any, acct: Account, clock: TotpClock | None = None, secret: str | None = None) -> None:
    """Log in at /login, giving the code when asked."""
    r = login_password(http, acct)
    if r.status_code == 200 and "second_factor" in r.text:
        assert clock is not None and secret is not None, "two-factor login asked for a code"
        r = post_form(http, r, "code", code=clock.code(secret))
    assert r.status_code == 303, r.text
    assert http.cookies.get("hospes_session")


def enrol(http: Any, clock: TotpClock) -> tuple[str, list[str]]:
    """Turn on two-factor login for the logged-in user through /account/security; (secret, backup codes)."""
    page = http.get("/account/security")
    assert page.status_code == 200, page.text
    r = post_form(http, page, "action", action="begin")
    assert r.status_code == 303
    page = http.get("/account/security")
    secret = soup(page.text).find(id="totp-secret").get_text().replace(" ", "")
    r = post_form(http, page, "code", code=clock.code(secret))
    assert r.status_code == 200, r.text
    codes = [c.get_text() for c in soup(r.text).select("#backup-codes code")]
    assert len(codes) == 10
    return secret, codes


def id_claims(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def has_code_page(html: str) -> bool:
    return any("second_factor" in f.fields for f in forms(html, BASE))
