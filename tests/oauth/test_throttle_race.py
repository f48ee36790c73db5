"""Guessing in parallel gains nothing: on the real server, a right password that arrives inside a burst of
wrong ones is refused once the burst has crossed the limit, even though it passed the throttle check
when it arrived (the password is hashed outside the transaction, and the throttle is checked again when
the session would be written: web/authorize.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import func, select

from hospes.accounts import throttle
from hospes.store.models import LoginFailure, LoginSession
from tests.browserless import login_form
from tests.oauth.test_authorize import authz_url

WRONG = 20


def _count(db: Any, model: Any) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_right_password_inside_a_burst_of_wrong_ones_is_refused(server, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    browsers = [httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) for _ in range(WRONG + 1)]
    try:
        pages = [b.get(authz_url(cred)) for b in browsers]
        forms = [login_form(p.text, str(p.url)) for p in pages]

        def attempt(i: int, password: str) -> httpx.Response:
            return browsers[i].post(forms[i].action, data={**forms[i].fields, "username": acct.email,
                                                           "password": password})

        with ThreadPoolExecutor(WRONG + 1) as pool:
            wrong = [pool.submit(attempt, i, "wrong password") for i in range(WRONG)]
            time.sleep(0.01)  # the wrong guesses are ahead in the server's hash queue
            right = pool.submit(attempt, WRONG, acct.password)
            answers = [f.result() for f in wrong]
            r = right.result()
    finally:
        for b in browsers:
            b.close()
    assert all(a.status_code in (401, 429) for a in answers), [a.status_code for a in answers]
    # The limit is 5 failures in the window; the burst recorded more, so the right password is not honoured.
    assert _count(db, LoginFailure) >= throttle.ACCOUNT.limit
    assert r.status_code == 429, r.status_code
    assert "Too many failed login attempts" in r.text
    assert "location" not in r.headers and "hospes_session" not in r.headers.get("set-cookie", "")
    assert _count(db, LoginSession) == 0
