"""Sessions: the user's active sessions with "Sign out" and "Sign out everywhere else"; logout (the client
area's and RP-initiated) ends the session on the server, so its cookie stops working wherever it is used."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.testclient import TestClient

from hospes.accounts.sessions import describe
from hospes.store.models import LoginSession
from tests.account import BASE, login, post_form, soup
from tests.browserless import authorize, form_with, query_of

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def browser(app: Any, agent: str) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False, headers={"User-Agent": agent})


def session_ids(db: Any, user_id: int) -> dict[int, bool]:
    """Session id -> still active."""
    with db.read() as s:
        rows = s.scalars(select(LoginSession).where(LoginSession.user_id == user_id))
        return {r.id: r.ended_at is None for r in rows}


def test_the_page_lists_each_device_and_marks_this_one(app, make_account):
    acct = make_account()
    with browser(app, FIREFOX) as laptop, browser(app, SAFARI) as phone:
        login(laptop, acct)
        login(phone, acct)
        page = laptop.get("/account/sessions")
        assert page.status_code == 200
        rows = soup(page.text).select("#sessions tbody tr")
        assert len(rows) == 2
        assert rows[0].get("aria-current") == "true" and "This device" in rows[0].get_text()
        assert rows[0].find("th").get_text(" ", strip=True).startswith("Firefox on Linux")
        assert rows[1].find("th").get_text(" ", strip=True).startswith("Safari on iOS")
        assert "This device" not in rows[1].get_text() and "testclient" in rows[1].get_text()


def test_sign_out_one_session_and_everywhere_else(app, make_account, db):
    acct = make_account()
    with browser(app, FIREFOX) as laptop, browser(app, SAFARI) as phone, browser(app, "curl/8.5.0") as script:
        for b in (laptop, phone, script):
            login(b, acct)
        page = laptop.get("/account/sessions")
        phone_row = next(tr for tr in soup(page.text).select("#sessions tbody tr") if "Safari on iOS" in tr.get_text())
        phone_id = phone_row.find("input", attrs={"name": "session"})["value"]
        r = laptop.post("/account/sessions", data={**form_with(page.text, BASE, "session").fields,
                                                   "session": phone_id})
        assert r.status_code == 303 and "One session was signed out" in laptop.get(r.headers["location"]).text
        assert phone.get("/clientarea.php").status_code == 303
        assert script.get("/clientarea.php").status_code == 200

        page = laptop.get("/account/sessions")
        r = post_form(laptop, page, "action", action="others")
        assert r.status_code == 303
        assert script.get("/clientarea.php").status_code == 303
        assert laptop.get("/clientarea.php").status_code == 200
        assert sorted(session_ids(db, acct.user_id).values()) == [False, False, True]


def test_signing_out_this_device_logs_out(client, make_account):
    acct = make_account()
    login(client, acct)
    page = client.get("/account/sessions")
    r = post_form(client, page, "session")
    assert r.status_code == 200 and "You have logged out" in r.text
    assert client.get("/clientarea.php").status_code == 303


def test_another_users_session_cannot_be_signed_out(client, app, make_account, db):
    me, other = make_account(), make_account()
    login(client, me)
    with browser(app, SAFARI) as theirs:
        login(theirs, other)
        [their_id] = session_ids(db, other.user_id)
        page = client.get("/account/sessions")
        fields = form_with(page.text, BASE, "session").fields
        for guess in (str(their_id), "999999", "x"):
            r = client.post("/account/sessions", data={**fields, "session": guess})
            assert r.status_code == 404, guess
        no_csrf = client.post("/account/sessions", data={"action": "others"})
        assert no_csrf.status_code == 403
        assert theirs.get("/clientarea.php").status_code == 200
    assert session_ids(db, me.user_id) == {next(iter(session_ids(db, me.user_id))): True}


def test_logout_ends_the_session_wherever_its_cookie_is_used(client, app, make_account):
    acct = make_account()
    login(client, acct)
    cookie = client.cookies.get("hospes_session")
    page = client.get("/clientarea.php")
    logout = next(f for f in soup(page.text).find_all("form") if f["action"].endswith("/logout"))
    r = client.post("/logout", data={"token": logout.find("input", attrs={"name": "token"})["value"]})
    assert r.status_code == 200 and "You have logged out" in r.text
    # The same cookie, kept by someone else, no longer works.
    with browser(app, FIREFOX) as copy:
        copy.cookies.set("hospes_session", cookie)
        assert copy.get("/clientarea.php").status_code == 303
        assert copy.get("/account/applications.json").status_code == 401


def test_rp_initiated_logout_ends_the_session_on_the_server(client, app, make_account, make_credential):
    acct = make_account()
    cred = make_credential()
    url = "/oauth/authorize.php?" + urlencode({"response_type": "code", "client_id": cred.client_id,
                                                "redirect_uri": cred.redirect_uri, "scope": "openid"})
    r = authorize(client, url, acct.email, acct.password)
    code = query_of(r.headers["location"])["code"]
    id_token = client.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                     "redirect_uri": cred.redirect_uri},
                           auth=(cred.client_id, cred.client_secret)).json()["id_token"]
    cookie = client.cookies.get("hospes_session")
    assert client.get("/clientarea.php").status_code == 200
    r = client.get("/oauth/logout?" + urlencode({"id_token_hint": id_token}))
    assert r.status_code == 200 and "You have logged out" in r.text
    with browser(app, FIREFOX) as copy:
        copy.cookies.set("hospes_session", cookie)
        assert copy.get("/clientarea.php").status_code == 303
        none = copy.get(url + "&prompt=none")
        assert query_of(none.headers["location"])["error"] == "login_required"


def test_user_agents_read_as_people_say_them():
    assert describe(FIREFOX) == "Firefox on Linux"
    assert describe(SAFARI) == "Safari on iOS"
    assert describe("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0") == "Edge on Windows"
    assert describe("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/126.0.0.0 Safari/537.36") == "Chrome on macOS"
    assert describe("") == "Unknown browser"
