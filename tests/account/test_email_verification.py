"""Verifying the email address, against the real server over HTTP with a real SMTP server (aiosmtpd): the
customer asks for a link on My details, opens it from the mail (a page with one button; pressing it verifies
the address), and relying parties then see ``email_verified`` true in the ID token and at userinfo. The link
works once, expires, verifies only the address it was sent to, and never reaches the access log. A completed
password reset verifies the address too (the person read the mail sent there)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hospes.accounts import service
from hospes.clock import now
from hospes.store.models import EmailMessage, EmailVerification, User
from tests import mailbox
from tests.account import id_claims, post_form, soup
from tests.browserless import form_with, forms, login_form, tokens_for

SCOPE = "openid email"
SEND = "/account/email/verification"
DETAILS = "/clientarea.php?action=details"
NEW = "a much better passphrase"


@pytest.fixture
def server_env(smtp: Any) -> dict[str, str]:
    """Mail to the test's SMTP server; the access log on, to show what it writes."""
    return {"HOSPES_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}", "HOSPES_ACCESS_LOG": "true"}


@pytest.fixture
def http(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as c:
        yield c


def other_browser(server: Any) -> httpx.Client:
    """Where the mail is opened: no session, no cookies."""
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)


def log_in(http: httpx.Client, acct: Any, password: str | None = None) -> None:
    page = http.get("/login")
    f = login_form(page.text, str(page.url))
    r = http.post(f.action, data={**f.fields, "username": acct.email, "password": password or acct.password})
    assert r.status_code == 303, r.text


def ask_for_link(http: httpx.Client) -> httpx.Response:
    """Press "Send a verification link" on My details."""
    page = http.get(DETAILS)
    assert page.status_code == 200, page.text
    [f] = [f for f in forms(page.text, str(page.url)) if f.action.endswith(SEND)]
    button = soup(page.text).find(id="send-verification")
    assert button.get_text(strip=True) == "Send a verification link"
    return http.post(f.action, data=f.fields)


def link_in(server: Any, message: Message) -> str:
    body = mailbox.text(message)
    found = re.search(re.escape(server.url) + r"/email/verify\?token=[A-Za-z0-9_-]+", body)
    assert found, body
    return found.group(0).removeprefix(server.url)


def userinfo(http: httpx.Client, access_token: str) -> dict[str, Any]:
    r = http.get("/oauth/userinfo.php", headers={"Authorization": f"Bearer {access_token}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def verified(db: Any, user_id: int) -> bool:
    with db.read() as s:
        return bool(s.get(User, user_id).email_verified)


def test_the_link_from_the_mail_verifies_the_address_for_relying_parties(server, smtp, http, make_account,
                                                                         make_credential, db):
    inbox = smtp[0]
    acct = make_account(first_name="Vera")
    cred = make_credential()
    before = tokens_for(http, acct, cred, SCOPE)
    assert id_claims(before["id_token"])["email_verified"] is False
    assert userinfo(http, before["access_token"])["email_verified"] is False

    page = http.get(DETAILS)
    assert "(not verified)" in page.text
    r = ask_for_link(http)
    assert r.status_code == 303
    shown = http.get(r.headers["location"])
    notice = soup(shown.text).find(id="verification-sent")
    assert notice.get("role") == "status"
    assert notice.get_text(strip=True) == f"We have sent a verification link to {acct.email}. It works for 24 hours."

    [message] = inbox.wait(1)
    assert message["To"] == acct.email and "Verify your" in message["Subject"]
    link = link_in(server, message)
    token = link.rsplit("=", 1)[1]

    with other_browser(server) as phone:
        # Opening the link changes nothing by itself (a mail scanner may fetch it): it asks for a press.
        opened = phone.get(link)
        assert opened.status_code == 200
        assert soup(opened.text).find("h1").get_text(strip=True) == "Verify your email address"
        assert acct.email in opened.text
        assert not verified(db, acct.user_id)
        done = post_form(phone, opened, "verification")
        assert done.status_code == 200
        assert soup(done.text).find("h1").get_text(strip=True) == "Your email address is verified"

        # What relying parties see: the same access token's userinfo at once, and the next ID token.
        assert userinfo(http, before["access_token"])["email_verified"] is True
        after = tokens_for(http, acct, cred, SCOPE)
        assert id_claims(after["id_token"])["email_verified"] is True
        assert "(not verified)" not in http.get(DETAILS).text
        assert 'id="send-verification"' not in http.get(DETAILS).text

        # Used once: the page and the post both say so, plainly.
        for again in (phone.get(link), post_form(phone, opened, "verification")):
            assert again.status_code == 400
            assert soup(again.text).find("h1").get_text(strip=True) == "This link no longer works"
            assert "already been used" in again.text

    # The token is in no log line, no table, no email history.
    log = server.log.read_text()
    assert "/email/verify" in log and token not in log
    with db.read() as s:
        assert not any(token.encode() in row.token_hash for row in s.scalars(select(EmailVerification)))
        [kept] = s.scalars(select(EmailMessage).where(EmailMessage.client_id == acct.client_id)).all()
        assert kept.subject == message["Subject"] and "Vera" in kept.body and token not in kept.body


def test_an_expired_link_fails_with_a_clear_page(server, smtp, http, make_account, db):
    acct = make_account()
    log_in(http, acct)
    ask_for_link(http)
    link = link_in(server, smtp[0].wait(1)[0])
    with other_browser(server) as phone:
        opened = phone.get(link)
        assert opened.status_code == 200
        with db.transaction() as s:
            s.execute(update(EmailVerification).values(created_at=now() - timedelta(hours=25),
                                                       expires_at=now() - timedelta(hours=1)))
        for late in (phone.get(link), post_form(phone, opened, "verification")):
            assert late.status_code == 400
            assert soup(late.text).find("h1").get_text(strip=True) == "This link no longer works"
            assert "has expired" in late.text and "ask for a new link" in late.text
    assert not verified(db, acct.user_id)


def test_a_link_is_void_once_the_address_has_changed(server, smtp, http, make_account, db):
    acct = make_account()
    log_in(http, acct)
    ask_for_link(http)
    link = link_in(server, smtp[0].wait(1)[0])
    with db.transaction() as s:
        service.update_client(s, service.get_client(s, acct.client_id), email="new-" + acct.email)
    with other_browser(server) as phone:
        r = phone.get(link)
        assert r.status_code == 400 and "no longer the one on your account" in r.text
    assert not verified(db, acct.user_id)


def test_a_bad_or_missing_token_gets_the_same_page(server, http):
    for path in ("/email/verify", "/email/verify?token=nope", "/email/verify?token=%ff", "/email/verify?token=%00"):
        r = http.get(path)
        assert r.status_code == 400 and "This link no longer works" in r.text, path


def test_asking_again_voids_the_earlier_link_and_asking_too_often_sends_nothing(server, smtp, http, make_account):
    inbox = smtp[0]
    acct = make_account()
    log_in(http, acct)
    ask_for_link(http)
    first = link_in(server, inbox.wait(1)[0])
    ask_for_link(http)
    second = link_in(server, inbox.wait(2)[1])
    with other_browser(server) as phone:
        assert phone.get(first).status_code == 400 and phone.get(second).status_code == 200
    ask_for_link(http)
    inbox.wait(3)
    refused = ask_for_link(http)
    assert refused.status_code == 429
    alert = soup(refused.text).find(id="verification-error")
    assert alert.get("role") == "alert" and "ask again in" in alert.get_text()
    assert soup(refused.text).find(id="verification-sent") is None
    assert len(inbox.messages) == 3


def test_sending_needs_a_login_and_the_csrf_token(server, smtp, http, make_account):
    r = http.post(SEND)
    assert r.status_code == 303 and "/login" in r.headers["location"]
    acct = make_account()
    log_in(http, acct)
    assert http.post(SEND).status_code == 403
    assert smtp[0].messages == []


def test_a_completed_password_reset_verifies_the_address(server, smtp, http, make_account, db):
    inbox = smtp[0]
    acct = make_account()
    page = http.get("/password/reset")
    post_form(http, page, "email", email=acct.email)
    body = mailbox.text(inbox.wait(1)[0])
    path = re.search(re.escape(server.url) + r"(/password/reset/[A-Za-z0-9_-]+)", body).group(1)
    form = http.get(path)
    weak = post_form(http, form, "new_password", new_password="short", new_password_confirm="short")
    assert weak.status_code == 400 and not verified(db, acct.user_id)  # a refused password proves nothing yet
    done = post_form(http, form, "new_password", new_password=NEW, new_password_confirm=NEW)
    assert done.status_code == 200
    assert verified(db, acct.user_id)
    log_in(http, acct, NEW)
    assert "(not verified)" not in http.get(DETAILS).text


def test_a_reset_link_sent_before_the_address_changed_no_longer_works(server, smtp, http, make_account, db):
    acct = make_account()
    post_form(http, http.get("/password/reset"), "email", email=acct.email)
    body = mailbox.text(smtp[0].wait(1)[0])
    path = re.search(re.escape(server.url) + r"(/password/reset/[A-Za-z0-9_-]+)", body).group(1)
    with db.transaction() as s:
        service.update_client(s, service.get_client(s, acct.client_id), email="new-" + acct.email)
    r = http.get(path)
    assert r.status_code == 400 and "expired or has already been used" in r.text
    assert not verified(db, acct.user_id)


def test_the_send_button_is_there_only_while_unverified(server, http, make_account):
    acct = make_account(email_verified=True)
    log_in(http, acct)
    page = http.get(DETAILS)
    assert "(not verified)" not in page.text
    assert not [f for f in forms(page.text, str(page.url)) if f.action.endswith(SEND)]
    # Asked all the same (an old tab): a plain refusal on the same page.
    token = form_with(page.text, str(page.url), "token").fields["token"]
    r = http.post(SEND, data={"token": token})
    assert r.status_code == 400 and "already verified" in r.text
