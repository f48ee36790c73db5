"""Guessing in parallel gains nothing. On the real server (and, for second-factor codes, through the login
core on the real database), a burst of N parallel guesses against a limit L checks at most L of them:
each attempt takes its place in the window before its password is hashed (accounts/throttle.py
``admit``). A refused guess is answered the same whatever it is, so a right password inside a burst
cannot be told from the wrong ones. Runs on SQLite and on PostgreSQL (HOSPES_TEST_BACKEND)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pyotp
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from hospes.accounts import login as accounts_login
from hospes.accounts import throttle, twofactor
from hospes.adminapi.dispatch import API_IDENTIFIER
from hospes.store.models import AdminSession, LoginFailure, LoginSession
from tests.admin import csrf_token, make_admin
from tests.adminapi import make_api_credential
from tests.browserless import login_form
from tests.conftest import PASSWORD
from tests.oauth.test_authorize import authz_url

BURST = 20


def _count(db: Any, model: Any, *where: Any) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _failures(db: Any, key: str) -> int:
    return _count(db, LoginFailure, LoginFailure.key == key)


def _error_text(html: str) -> str:
    found = BeautifulSoup(html, "html.parser").select_one("[role=alert], .error, .alert")
    assert found is not None, html[:2000]
    return " ".join(found.get_text().split())


class Browsers:
    """N browsers (each its own cookies), each on the OAuth login page of one authorization request."""

    def __init__(self, url: str, n: int, page_url: str) -> None:
        self.http = [httpx.Client(base_url=url, follow_redirects=False, timeout=60) for _ in range(n)]
        self.forms = [login_form((p := b.get(page_url)).text, str(p.url)) for b in self.http]

    def post(self, i: int, email: str, password: str) -> httpx.Response:
        return self.http[i].post(self.forms[i].action, data={**self.forms[i].fields, "username": email,
                                                             "password": password})

    def burst(self, email: str, passwords: list[str]) -> list[httpx.Response]:
        with ThreadPoolExecutor(len(passwords)) as pool:
            return list(pool.map(lambda ip: self.post(ip[0], email, ip[1]), enumerate(passwords)))

    def close(self) -> None:
        for b in self.http:
            b.close()


def test_a_burst_of_wrong_passwords_checks_at_most_the_limit(server, db, make_account, make_credential):
    acct = make_account()
    browsers = Browsers(server.url, BURST, authz_url(make_credential()))
    try:
        answers = browsers.burst(acct.email, [f"wrong password {i}" for i in range(BURST)])
    finally:
        browsers.close()
    statuses = [a.status_code for a in answers]
    # 401: checked and wrong; 429: refused before the password was looked at.
    assert statuses.count(401) == throttle.ACCOUNT.limit, statuses
    assert statuses.count(429) == BURST - throttle.ACCOUNT.limit, statuses
    assert _failures(db, throttle.key(throttle.ACCOUNT, acct.email)) == throttle.ACCOUNT.limit


def test_a_right_password_inside_a_burst_is_answered_as_the_wrong_ones(server, db, make_account, make_credential):
    acct = make_account()
    browsers = Browsers(server.url, BURST + 1, authz_url(make_credential()))
    try:
        for i in range(throttle.ACCOUNT.limit):  # the window is full before the burst
            assert browsers.post(i, acct.email, "wrong password").status_code == 401
        passwords = ["wrong password"] * BURST
        passwords.insert(BURST // 2, acct.password)
        answers = browsers.burst(acct.email, passwords)
    finally:
        browsers.close()
    right, wrong = answers[BURST // 2], answers[:BURST // 2] + answers[BURST // 2 + 1:]
    assert right.status_code == 429 and {a.status_code for a in wrong} == {429}
    assert {_error_text(a.text) for a in answers} == {_error_text(right.text)}
    assert "Too many failed login attempts" in _error_text(right.text)
    assert all("hospes_session" not in a.headers.get("set-cookie", "") and "location" not in a.headers
               for a in answers)
    assert _count(db, LoginSession) == 0
    # Nothing was checked: the window holds the five failures from before the burst, no more.
    assert _failures(db, throttle.key(throttle.ACCOUNT, acct.email)) == throttle.ACCOUNT.limit


def test_a_burst_of_wrong_admin_passwords_checks_at_most_the_limit(server, db):
    make_admin(db, "alice")
    http = [httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) for _ in range(BURST + 1)]
    tokens = [csrf_token(h.get("/admin/login").text) for h in http]

    def attempt(i: int, password: str) -> httpx.Response:
        return http[i].post("/admin/login", data={"token": tokens[i], "username": "alice", "password": password})

    try:
        with ThreadPoolExecutor(BURST) as pool:
            answers = list(pool.map(lambda i: attempt(i, f"wrong password {i}"), range(BURST)))
        right = attempt(BURST, PASSWORD)  # the window is full now
    finally:
        for h in http:
            h.close()
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) == accounts_login.ADMIN_ACCOUNT.limit, statuses
    assert statuses.count(429) == BURST - accounts_login.ADMIN_ACCOUNT.limit, statuses
    assert right.status_code == 429
    assert _error_text(right.text) == _error_text(answers[statuses.index(429)].text)
    assert _count(db, AdminSession) == 0


def test_a_burst_of_wrong_api_secrets_checks_at_most_the_limit(server, db):
    cred = make_api_credential(db)

    def call(secret: str) -> httpx.Response:
        return httpx.post(server.url + "/includes/api.php", timeout=60, data={
            "action": "GetClients", "identifier": cred.identifier, "secret": secret, "responsetype": "json"})

    n = API_IDENTIFIER.limit + 10
    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(call, [f"wrong-{i}" for i in range(n)]))
    statuses = [a.status_code for a in answers]
    assert statuses.count(403) == API_IDENTIFIER.limit, statuses
    assert statuses.count(429) == n - API_IDENTIFIER.limit, statuses
    assert call(cred.secret).status_code == 429


def _enrolled(db: Any, make_account: Any, keys: twofactor.Keys) -> tuple[int, str]:
    acct = make_account()
    with db.transaction() as s:
        secret = twofactor.begin(s, keys, acct.user_id)
    with db.transaction() as s:
        checked, _codes = twofactor.confirm(s, keys, acct.user_id, pyotp.TOTP(secret).now())
    assert checked.ok
    return acct.user_id, secret


def _not_a_current_code(secret: str) -> str:
    totp, t = pyotp.TOTP(secret), time.time()
    taken = {totp.at(t + offset * twofactor.INTERVAL) for offset in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1000000)) if c not in taken)


@pytest.mark.parametrize("with_right_code", [False, True])
def test_a_burst_of_wrong_codes_checks_at_most_the_limit(db, settings, make_account, with_right_code):
    keys = twofactor.Keys(settings.secret_key.encode())
    user_id, secret = _enrolled(db, make_account, keys)
    wrong = _not_a_current_code(secret)
    attempt = accounts_login.Attempt(login="", password="", ip="192.0.2.1")

    def code(value: str) -> object:
        return accounts_login.second_factor(db, 3600, keys, user_id, value, attempt)

    if with_right_code:  # the window is full before the burst; the right code inside it fares as the rest
        for _ in range(twofactor.SECOND_FACTOR.limit):
            assert isinstance(code(wrong), accounts_login.Wrong)
    codes = [wrong] * BURST
    if with_right_code:
        codes.insert(BURST // 2, pyotp.TOTP(secret).now())
    with ThreadPoolExecutor(len(codes)) as pool:
        outcomes = list(pool.map(code, codes))
    kinds = [type(o).__name__ for o in outcomes]
    if with_right_code:
        assert set(kinds) == {"Throttled"}, kinds
    else:
        assert kinds.count("Wrong") == twofactor.SECOND_FACTOR.limit, kinds
        assert kinds.count("Throttled") == BURST - twofactor.SECOND_FACTOR.limit, kinds
    assert _count(db, LoginSession) == 0
    assert _failures(db, throttle.key(twofactor.SECOND_FACTOR, str(user_id))) == twofactor.SECOND_FACTOR.limit
