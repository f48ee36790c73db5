"""Two-factor login with TOTP: enrolment by QR code and a first code, backup codes shown once, the second
step at both logins, acr/amr in the ID token, replay and brute force refused, turning it off."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hospes import audit
from hospes.accounts import twofactor
from hospes.store.models import BackupCode, LoginSession, TwoFactor
from tests.account import (
    BASE,
    enrol,
    has_code_page,
    id_claims,
    login,
    login_password,
    post_form,
    soup,
)
from tests.browserless import form_with, login_form, query_of


@pytest.fixture
def browser(app: Any) -> Any:
    """A second browser (its own cookies)."""
    with TestClient(app, base_url=BASE, follow_redirects=False) as c:
        yield c


@pytest.fixture
def enrolled(client: Any, make_account: Any, clock: Any) -> tuple[Any, str, list[str]]:
    acct = make_account()
    login(client, acct)
    secret, codes = enrol(client, clock)
    return acct, secret, codes


def authz_url(cred: Any, **extra: str) -> str:
    return "/oauth/authorize.php?" + urlencode({"response_type": "code", "client_id": cred.client_id,
                                                 "redirect_uri": cred.redirect_uri, "scope": "openid email",
                                                 "state": "s", "nonce": "n", **extra})


def password_step(http: Any, url: str, acct: Any) -> Any:
    """Start an authorization and give the password; return the page that follows."""
    page = http.get(url)
    f = login_form(page.text, str(page.url))
    return http.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})


def finish(http: Any, r: Any, cred: Any) -> dict[str, Any]:
    """Consent when asked, redeem the code; return the ID token's claims."""
    if r.status_code == 200 and "userAuthorization" in r.text:
        r = post_form(http, r, "request_hash", userAuthorization="yes")
    assert r.status_code == 303, r.text
    code = query_of(r.headers["location"])["code"]
    tok = http.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": cred.redirect_uri},
                    auth=(cred.client_id, cred.client_secret))
    assert tok.status_code == 200, tok.text
    return id_claims(tok.json()["id_token"])


def sessions_of(db: Any, user_id: int) -> list[LoginSession]:
    with db.read() as s:
        return list(s.scalars(select(LoginSession).where(LoginSession.user_id == user_id,
                                                         LoginSession.ended_at.is_(None))))


def test_enrolment_shows_a_qr_code_and_the_secret_then_backup_codes_once(client, make_account, clock, db):
    acct = make_account()
    login(client, acct)
    page = client.get("/account/security")
    assert soup(page.text).find(id="two-factor-status").get_text(" ", strip=True).startswith(
        "Two-factor authentication is off")
    r = post_form(client, page, "action", action="begin")
    page = client.get(r.headers["location"])
    doc = soup(page.text)
    qr = doc.find(id="totp-qr")
    assert qr.name == "img" and qr["src"].startswith("data:image/svg+xml") and qr["alt"]
    secret = doc.find(id="totp-secret").get_text().replace(" ", "")
    assert len(secret) == 32
    assert doc.find("label", attrs={"for": "code"}).get_text(strip=True) == "Authentication code"
    # Not in force until confirmed: logging in elsewhere asks for no code.
    with db.read() as s:
        assert not twofactor.is_enrolled(s, acct.user_id)

    wrong = post_form(client, page, "code", code="000000" if clock.code(secret, advance=False) != "000000" else "1")
    assert wrong.status_code == 401 and "not correct" in wrong.text
    assert soup(wrong.text).find(id="totp-secret").get_text().replace(" ", "") == secret

    r = post_form(client, page, "code", code=clock.code(secret))
    assert r.status_code == 200
    codes = [c.get_text() for c in soup(r.text).select("#backup-codes code")]
    assert len(codes) == 10 and len(set(codes)) == 10
    again = client.get("/account/security")
    assert "Two-factor authentication is on" in again.text and "You have 10 unused backup codes" in again.text
    assert not any(code in again.text for code in codes) and secret not in again.text.replace(" ", "")

    # At rest: the secret encrypted, the backup codes as keyed hashes.
    with db.read() as s:
        row = s.get(TwoFactor, acct.user_id)
        assert row.confirmed_at is not None and secret.encode() not in row.secret_encrypted
        hashes = s.scalars(select(BackupCode.code_hash).where(BackupCode.user_id == acct.user_id)).all()
        assert len(hashes) == 10 and not any(c.replace("-", "").encode() in h for c in codes for h in hashes)
        assert [e.action for e in audit.search(s, actor=f"user:{acct.user_id}")] == ["two_factor.enabled", "user.login"]


def test_the_next_oauth_login_asks_for_the_code_and_the_id_token_says_so(enrolled, browser, make_credential, clock,
                                                                         db):
    acct, secret, _ = enrolled
    cred = make_credential()
    r = password_step(browser, authz_url(cred), acct)
    assert r.status_code == 200 and has_code_page(r.text)
    doc = soup(r.text)
    assert doc.find("label", attrs={"for": "code"}).get_text(strip=True) == "Authentication code"
    assert doc.find("label", attrs={"for": "backup_code"}).get_text(strip=True) == "Backup code"
    assert doc.find(id="verify-code") and doc.find(id="use-backup-code")
    # The password alone started no session.
    assert "hospes_session" not in r.cookies and len(sessions_of(db, acct.user_id)) == 1

    r = post_form(browser, r, "code", code=clock.code(secret))
    claims = finish(browser, r, cred)
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == "2"
    [session] = [x for x in sessions_of(db, acct.user_id) if x.amr == ["pwd", "otp"]]
    assert session.acr == "2"


def test_password_only_login_is_acr_1_and_discovery_lists_the_levels(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    assert client.get("/.well-known/openid-configuration").json()["acr_values_supported"] == ["0", "1", "2"]
    r = password_step(client, authz_url(cred), acct)
    claims = finish(client, r, cred)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "1"


def test_prompt_login_and_max_age_ask_for_the_code_again(enrolled, browser, make_credential, clock):
    acct, secret, _ = enrolled
    cred = make_credential()
    r = password_step(browser, authz_url(cred), acct)
    finish(browser, post_form(browser, r, "code", code=clock.code(secret)), cred)
    # Logged in with both factors: a plain request needs nothing more.
    assert browser.get(authz_url(cred)).status_code == 303
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        r = password_step(browser, authz_url(cred, **extra), acct)
        assert has_code_page(r.text), extra
        claims = finish(browser, post_form(browser, r, "code", code=clock.code(secret)), cred)
        assert claims["amr"] == ["pwd", "otp"]


def test_a_code_is_good_once(enrolled, browser, app, make_credential, clock, db):
    acct, secret, _ = enrolled
    cred = make_credential()
    clock.tick()
    # The next step's code (accepted: clocks drift, RFC 6238 §5.2), used first.
    ahead = str(twofactor.pyotp.TOTP(secret).at(clock.now + twofactor.INTERVAL))
    r = password_step(browser, authz_url(cred), acct)
    finish(browser, post_form(browser, r, "code", code=ahead), cred)
    with TestClient(app, base_url=BASE, follow_redirects=False) as third:
        r = password_step(third, authz_url(cred), acct)
        replay = post_form(third, r, "code", code=ahead)
        assert replay.status_code == 401 and "already been used" in replay.text
        assert has_code_page(replay.text) and "hospes_session" not in third.cookies
        # The current step's code, never used but older than the one that was, is refused too.
        assert post_form(third, r, "code", code=clock.code(secret, advance=False)).status_code == 401
        clock.tick()
        clock.tick()
        ok = post_form(third, r, "code", code=clock.code(secret, advance=False))
        assert ok.status_code in (200, 303) and third.cookies.get("hospes_session")


def test_wrong_codes_are_throttled(enrolled, browser, make_credential, clock, db):
    acct, secret, codes = enrolled
    cred = make_credential()
    r = password_step(browser, authz_url(cred), acct)
    for n in range(5):
        bad = post_form(browser, r, "code", code=f"{n:06d}")
        assert bad.status_code == 401, bad.text
    # Now even the right code, or a backup code, is refused until the wait is over.
    blocked = post_form(browser, r, "code", code=clock.code(secret))
    assert blocked.status_code == 429 and "Too many wrong codes" in blocked.text
    assert post_form(browser, r, "backup_code", backup_code=codes[0]).status_code == 429
    # A new password step does not reset the count.
    r = password_step(browser, authz_url(cred), acct)
    assert post_form(browser, r, "code", code=clock.code(secret)).status_code == 429
    assert "hospes_session" not in browser.cookies
    assert [x.amr for x in sessions_of(db, acct.user_id)] == [["pwd"]]
    with db.read() as s:
        assert s.scalar(select(BackupCode).where(BackupCode.used_at.is_not(None))) is None


def test_a_backup_code_logs_in_once_at_the_client_area_login(enrolled, browser, app, clock):
    acct, _, codes = enrolled
    r = login_password(browser, acct)
    assert r.status_code == 200 and has_code_page(r.text)
    assert browser.get("/clientarea.php").status_code == 303  # no session yet
    r = post_form(browser, r, "backup_code", backup_code=codes[3].upper().replace("-", " "))
    assert r.status_code == 303 and r.headers["location"] == "/clientarea.php"
    assert browser.get("/clientarea.php").status_code == 200
    assert "You have 9 unused backup codes" in browser.get("/account/security").text
    with TestClient(app, base_url=BASE, follow_redirects=False) as third:
        r = login_password(third, acct)
        again = post_form(third, r, "backup_code", backup_code=codes[3])
        assert again.status_code == 401 and "hospes_session" not in third.cookies


def test_the_code_page_cannot_be_forged_moved_or_posted_cross_site(enrolled, browser, app, clock):
    acct, secret, _ = enrolled
    r = login_password(browser, acct)
    action, data = form_with(r.text, str(r.url), "code").action, dict(form_with(r.text, str(r.url), "code").fields)
    # Tampered blob: back to the password, no session.
    forged = browser.post(action, data={**data, "second_factor": data["second_factor"][:-4] + "AAAA",
                                        "code": clock.code(secret)})
    assert forged.status_code == 400 and "log in again" in forged.text and 'name="password"' in forged.text
    # No CSRF token: refused.
    no_csrf = browser.post(action, data={k: v for k, v in data.items() if k != "token"} | {"code": "123456"})
    assert no_csrf.status_code == 403
    # The blob carried to another browser (its own CSRF token) is refused there.
    with TestClient(app, base_url=BASE, follow_redirects=False) as third:
        page = third.get("/login")
        token = login_form(page.text, str(page.url)).fields["token"]
        moved = third.post(action, data={**data, "token": token, "code": clock.code(secret)})
        assert moved.status_code == 400 and "hospes_session" not in third.cookies
    assert "hospes_session" not in browser.cookies


def test_turning_off_needs_a_current_code(enrolled, client, browser, clock, db):
    acct, secret, codes = enrolled
    page = client.get("/account/security")
    wrong = post_form(client, page, "action", action="disable", code="12345")
    assert wrong.status_code == 401 and "not correct" in wrong.text
    no_csrf = client.post("/account/security", data={"action": "disable", "code": clock.code(secret)})
    assert no_csrf.status_code == 403
    with db.read() as s:
        assert twofactor.is_enrolled(s, acct.user_id)
    page = client.get("/account/security")
    off = post_form(client, page, "action", action="disable", code=clock.code(secret))
    assert off.status_code == 303
    assert "Two-factor authentication is now off" in client.get(off.headers["location"]).text
    with db.read() as s:
        assert s.get(TwoFactor, acct.user_id) is None
        assert s.scalars(select(BackupCode)).all() == []
    r = login_password(browser, acct)
    assert r.status_code == 303  # password only again


def test_new_backup_codes_replace_the_old_ones(enrolled, client, clock):
    acct, secret, old = enrolled
    page = client.get("/account/security")
    r = post_form(client, page, "action", action="regenerate", code=clock.code(secret))
    assert r.status_code == 200
    new = [c.get_text() for c in soup(r.text).select("#backup-codes code")]
    assert len(new) == 10 and not set(new) & set(old)


def test_setting_up_without_the_csrf_token_changes_nothing(client, make_account, db):
    acct = make_account()
    login(client, acct)
    r = client.post("/account/security", data={"action": "begin"})
    assert r.status_code == 403 and "Nothing was changed" in r.text
    with db.read() as s:
        assert s.get(TwoFactor, acct.user_id) is None
