"""A form posted without this browser's CSRF token (another site's form, or a stale page) is refused the same way
everywhere: 403, "Form expired", the same words and the same way back, and nothing changed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bs4 import BeautifulSoup

from hospes.accounts.passwords import verify_password
from hospes.store.models import OAuthCredential, Ticket, User
from tests.admin import admin_session
from tests.browserless import form_with, login_form
from tests.clientarea import login
from tests.conftest import PASSWORD

MESSAGE = "This form was not sent from this site, or it has expired. Nothing was changed."
HINT = "Go back, reload the page and try again."


def assert_form_expired(r: Any, where: str) -> None:
    assert r.status_code == 403, (where, r.status_code, r.text[:300])
    page = BeautifulSoup(r.text, "html.parser")
    assert page.h1.get_text(strip=True) == "Form expired", where
    text = page.get_text(" ", strip=True)
    assert MESSAGE in text and HINT in text, (where, text[:500])
    assert r.headers["x-frame-options"] == "DENY", where


def test_every_form_refuses_a_post_without_the_csrf_token_alike(client, db, make_account, make_credential):
    acct, cred = make_account(), make_credential()
    bad = {"token": "not-the-token"}
    # Logged out: the client area's and the admin area's own forms.
    for path, fields in [("/login", {"username": acct.email, "password": PASSWORD}), ("/logout", {}),
                         ("/password/reset", {"email": acct.email}),
                         ("/password/reset/some-token", {"new_password": "x" * 20, "new_password_confirm": "x" * 20}),
                         ("/email/verify", {"verification": "some-token"}),
                         ("/admin/login", {"username": "alice", "password": PASSWORD})]:
        assert_form_expired(client.post(path, data={**fields, **bad}), path)
    # The OAuth login page, with its real signed request.
    url = "/oauth/authorize.php?" + urlencode({"response_type": "code", "client_id": cred.client_id,
                                                "redirect_uri": cred.redirect_uri, "scope": "openid", "state": "s"})
    page = client.get(url)
    f = login_form(page.text, str(page.url))
    assert_form_expired(client.post(f.action, data={**f.fields, **bad, "username": acct.email,
                                                    "password": acct.password}), "authorize")
    # Logged in: a client-area form and the logout confirmation.
    login(client, acct)
    assert_form_expired(client.post("/submitticket.php", data={"subject": "Hi", "message": "Hello", **bad}),
                        "submitticket")
    confirm = client.get("/oauth/logout")
    f = form_with(confirm.text, str(confirm.url), "logout_request")
    assert_form_expired(client.post(f.action, data={**f.fields, **bad, "confirm": "yes"}), "oauth logout")
    # The admin area, inside its own layout.
    admin_session(client, db)
    r = client.post("/admin/oauth/new", data={"name": "Sneaky", "redirect_uri": "https://x.example/cb",
                                              "scope": "openid", **bad})
    assert_form_expired(r, "admin")
    assert BeautifulSoup(r.text, "html.parser").find("nav", attrs={"aria-label": "Admin area"}) is not None
    with db.transaction() as s:
        assert s.query(Ticket).count() == 0
        assert s.query(OAuthCredential).filter_by(name="Sneaky").count() == 0
        user = s.get(User, acct.user_id)
        assert verify_password(PASSWORD, user.password_hash)
    # Still logged in: nothing was ended either.
    assert client.get("/clientarea.php").status_code == 200
