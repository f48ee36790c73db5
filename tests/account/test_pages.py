"""The account pages as a keyboard or screen-reader user meets them: inside the client area's layout, one
h1, labelled fields, named buttons with stable ids (the browser tests use them)."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.account import enrol, login, login_password, post_form, soup
from tests.browserless import authorize
from tests.clientarea import assert_accessible

ACCOUNT_PAGES = {
    "/account/applications": "Connected applications",
    "/account/security": "Security settings",
    "/account/sessions": "Sessions",
    "/account/password": "Change password",
}


def labelled(html: str) -> None:
    page = soup(html)
    assert len(page.find_all("h1")) == 1
    for field in page.find_all("input"):
        if field.get("type") in ("hidden", "submit"):
            continue
        label = page.find("label", attrs={"for": field.get("id")})
        assert label is not None and label.get_text(strip=True), field


def test_each_account_page_is_accessible_and_current_in_the_navigation(client, make_account, make_credential, clock):
    acct = make_account()
    cred = make_credential(name="Example App")
    url = "/oauth/authorize.php?" + urlencode({"response_type": "code", "client_id": cred.client_id,
                                                "redirect_uri": cred.redirect_uri, "scope": "openid"})
    assert authorize(client, url, acct.email, acct.password).status_code == 303
    for path, label in ACCOUNT_PAGES.items():
        r = client.get(path)
        assert r.status_code == 200, path
        page = assert_accessible(r.text)
        [current] = [a for n in page.find_all("nav") for a in n.find_all("a", attrs={"aria-current": "page"})]
        assert current.get_text(strip=True) == label
    page = client.get("/account/applications")
    assert soup(page.text).select_one("button[id^=revoke-]").get_text(strip=True) == "Revoke access"
    # The two-factor page in each of its states.
    page = client.get("/account/security")
    assert soup(page.text).find(id="setup-2fa")
    post_form(client, page, "action", action="begin")
    page = client.get("/account/security")
    assert_accessible(page.text)
    assert soup(page.text).find(id="enable-2fa") and soup(page.text).find(id="cancel-2fa-setup")
    post_form(client, page, "action", action="cancel")
    secret, _ = enrol(client, clock)
    page = client.get("/account/security")
    assert_accessible(page.text)
    assert soup(page.text).find(id="disable-2fa") and soup(page.text).find(id="regenerate-backup-codes")


def test_the_public_pages_have_labelled_fields(client, make_account, clock):
    acct = make_account()
    login(client, acct)
    enrol(client, clock)
    client.cookies.clear()
    labelled(client.get("/password/reset").text)
    r = login_password(client, acct)
    labelled(r.text)
    assert soup(r.text).find(id="verify-code") and soup(r.text).find(id="use-backup-code")
    assert 'id="forgot-password"' in client.get("/login").text
