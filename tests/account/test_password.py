"""Passwords: change (asks the current one, ends the other sessions) and reset by mail (a single-use,
30-minute link; the same answer whether or not the address has an account; mail through a real SMTP server
started here with aiosmtpd, or into the outbox folder when none is set)."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from starlette.testclient import TestClient

from hospes import audit
from hospes.accounts.passwords import hash_password, verify_password
from hospes.clock import now
from hospes.config import ConfigError, load_settings
from hospes.store.models import EmailMessage, LoginSession, PasswordReset, User
from tests import mailbox
from tests.account import BASE, login, login_password, post_form, soup

NEW = "a much better passphrase"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/password/reset/[A-Za-z0-9_-]+")


@pytest.fixture
def mail_client(settings: Any, db: Any, smtp: Any) -> Iterator[TestClient]:
    """The app with HOSPES_SMTP_URL naming the test's SMTP server."""
    from hospes.app import create_app

    configured = load_settings(database_url=settings.database_url, var_dir=settings.var_dir,
                               secret_key=settings.secret_key, smtp_url=f"smtp://127.0.0.1:{smtp[1]}")
    with TestClient(create_app(configured), base_url=BASE, follow_redirects=False) as c:
        yield c


@pytest.fixture
def server_env(smtp: Any) -> dict[str, str]:
    return {"HOSPES_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}"}


def ask_for_link(http: Any, address: str) -> Any:
    page = http.get("/password/reset")
    assert page.status_code == 200
    return post_form(http, page, "email", email=address)


def link_in(message: Message) -> str:
    body = mailbox.text(message)
    found = LINK.search(body)
    assert found, body
    return found.group(0)


def active_sessions(db: Any, user_id: int) -> int:
    with db.read() as s:
        return len(s.scalars(select(LoginSession).where(LoginSession.user_id == user_id,
                                                        LoginSession.ended_at.is_(None))).all())


def test_change_password_ends_the_other_sessions_and_keeps_this_one(client, app, make_account, db):
    acct = make_account()
    login(client, acct)
    with TestClient(app, base_url=BASE, follow_redirects=False) as elsewhere:
        login(elsewhere, acct)
        page = client.get("/account/password")
        labels = {lb.get_text(strip=True) for lb in soup(page.text).find_all("label")}
        assert {"Current password", "New password", "Confirm new password"} <= labels
        r = post_form(client, page, "current_password", current_password=acct.password, new_password=NEW,
                      new_password_confirm=NEW)
        assert r.status_code == 303
        done = client.get(r.headers["location"])
        assert "Your password has been changed" in done.text and "1 other session" in done.text
        assert client.get("/clientarea.php").status_code == 200
        assert elsewhere.get("/clientarea.php").status_code == 303  # signed out there
    with db.read() as s:
        assert verify_password(NEW, s.get(User, acct.user_id).password_hash)
        assert [e.action for e in audit.search(s, action="user.password_changed")] == ["user.password_changed"]


# argon2-cffi's defaults, which Hospes used before the OWASP parameters.
OLD_HASHER = PasswordHasher(memory_cost=65536, time_cost=3, parallelism=4)
CURRENT_PARAMS = "m=19456,t=2,p=1"


def test_new_hashes_use_the_owasp_parameters():
    assert f"$argon2id$v=19${CURRENT_PARAMS}$" in hash_password(NEW)


def test_login_rehashes_a_password_stored_with_the_old_parameters(client, make_account, db):
    acct = make_account()
    old = OLD_HASHER.hash(acct.password)
    with db.transaction() as s:
        s.get(User, acct.user_id).password_hash = old
    r = login_password(client, replace(acct, password="wrong password!"))
    assert r.status_code == 401
    with db.read() as s:
        assert s.get(User, acct.user_id).password_hash == old  # only a right password rehashes
    login(client, acct)
    with db.read() as s:
        stored = s.get(User, acct.user_id).password_hash
    assert stored != old and f"${CURRENT_PARAMS}$" in stored
    assert verify_password(acct.password, stored) and not verify_password("wrong password!", stored)
    client.cookies.clear()
    login(client, acct)  # and it still logs in, now without a rehash
    with db.read() as s:
        assert s.get(User, acct.user_id).password_hash == stored


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("wrong password!", NEW, NEW, "Your current password is not correct."),
    (None, NEW, NEW + "x", "The two new passwords do not match."),
    (None, "short", "short", "at least 8 characters"),
    (None, None, None, "must be different"),
])
def test_change_password_refuses_bad_input(client, make_account, db, current, new, confirm, message):
    acct = make_account()
    login(client, acct)
    page = client.get("/account/password")
    r = post_form(client, page, "current_password", current_password=current or acct.password,
                  new_password=new or acct.password, new_password_confirm=confirm or acct.password)
    assert r.status_code == 400 and message in r.text
    with db.read() as s:
        assert verify_password(acct.password, s.get(User, acct.user_id).password_hash)


def test_change_password_without_the_csrf_token_changes_nothing(client, make_account, db):
    acct = make_account()
    login(client, acct)
    r = client.post("/account/password", data={"current_password": acct.password, "new_password": NEW,
                                               "new_password_confirm": NEW})
    assert r.status_code == 403 and "Nothing was changed" in r.text
    with db.read() as s:
        assert verify_password(acct.password, s.get(User, acct.user_id).password_hash)


def test_reset_by_mail_through_smtp(mail_client, smtp, app, make_account, db):
    inbox, _ = smtp
    acct = make_account(first_name="Rita")
    with TestClient(app, base_url=BASE, follow_redirects=False) as elsewhere:
        login(elsewhere, acct)
        assert 'id="forgot-password"' in mail_client.get("/login").text
        r = ask_for_link(mail_client, acct.email)
        assert r.status_code == 200
        assert "If an account exists for that address, we have sent a link" in r.text
        [message] = inbox.wait(1)
        assert message["To"] == acct.email and "Reset your" in message["Subject"]
        assert inbox.envelopes[0].rcpt_tos == [acct.email]
        link = link_in(message)
        path = link.removeprefix(BASE)

        form = mail_client.get(path)
        assert form.status_code == 200 and soup(form.text).find("label", attrs={"for": "new_password"})
        mismatch = post_form(mail_client, form, "new_password", new_password=NEW, new_password_confirm="nope nope")
        assert mismatch.status_code == 400 and "do not match" in mismatch.text
        done = post_form(mail_client, form, "new_password", new_password=NEW, new_password_confirm=NEW)
        assert done.status_code == 200 and "Your password has been changed" in done.text
        # Every session of the user has ended; the new password works, the old one does not.
        assert elsewhere.get("/clientarea.php").status_code == 303
        assert active_sessions(db, acct.user_id) == 0
    acct.password = NEW
    login(mail_client, acct)

    # Used once: the link is gone, for a GET and for a POST.
    again = mail_client.get(path)
    assert again.status_code == 400 and "expired or has already been used" in again.text
    reuse = post_form(mail_client, form, "new_password", new_password="yet another passphrase",
                      new_password_confirm="yet another passphrase")
    assert reuse.status_code == 400 and "expired or has already been used" in reuse.text
    with db.read() as s:
        assert verify_password(NEW, s.get(User, acct.user_id).password_hash)
        # Only the token's digest is stored; the email history keeps the mail without its link.
        token = path.rsplit("/", 1)[1]
        assert not any(token.encode() in r.token_hash for r in s.scalars(select(PasswordReset)))
        [kept] = s.scalars(select(EmailMessage).where(EmailMessage.client_id == acct.client_id)).all()
        assert kept.subject == message["Subject"] and "Rita" in kept.body and token not in kept.body
        assert {e.action for e in audit.search(s, actor=f"user:{acct.user_id}")} >= {
            "user.password_reset_requested", "user.password_reset"}


def test_reset_answers_the_same_for_an_unknown_address_and_sends_nothing(mail_client, smtp, make_account, db):
    inbox, _ = smtp
    acct = make_account()

    def answer(address: str) -> str:
        r = ask_for_link(mail_client, address)
        assert r.status_code == 200
        return str(soup(r.text).find("main"))

    known = answer(acct.email)
    unknown = answer("nobody-" + acct.email)
    assert known == unknown
    assert len(inbox.wait(1)) == 1
    time.sleep(0.3)
    assert len(inbox.messages) == 1
    with db.read() as s:
        assert len(s.scalars(select(EmailMessage)).all()) == 1


def test_a_late_link_is_refused(mail_client, smtp, make_account, db):
    inbox, _ = smtp
    acct = make_account()
    ask_for_link(mail_client, acct.email)
    path = link_in(inbox.wait(1)[0]).removeprefix(BASE)
    form = mail_client.get(path)
    assert form.status_code == 200
    with db.transaction() as s:
        # 31 minutes later: the link was made for 30.
        s.execute(update(PasswordReset).values(created_at=now() - timedelta(minutes=31),
                                               expires_at=now() - timedelta(minutes=1)))
    assert mail_client.get(path).status_code == 400
    late = post_form(mail_client, form, "new_password", new_password=NEW, new_password_confirm=NEW)
    assert late.status_code == 400 and "expired" in late.text
    with db.read() as s:
        assert verify_password(acct.password, s.get(User, acct.user_id).password_hash)


def test_asking_again_replaces_the_link_and_too_many_requests_send_nothing(mail_client, smtp, make_account):
    inbox, _ = smtp
    acct = make_account()
    ask_for_link(mail_client, acct.email)
    first = link_in(inbox.wait(1)[0]).removeprefix(BASE)
    ask_for_link(mail_client, acct.email)
    second = link_in(inbox.wait(2)[1]).removeprefix(BASE)
    assert mail_client.get(first).status_code == 400 and mail_client.get(second).status_code == 200
    for _ in range(5):
        r = ask_for_link(mail_client, acct.email)
        assert "If an account exists for that address" in r.text
    time.sleep(0.3)
    assert len(inbox.messages) == 5  # five per address in fifteen minutes


def test_reset_forms_without_the_csrf_token_change_nothing(mail_client, smtp, make_account, db):
    inbox, _ = smtp
    acct = make_account()
    r = mail_client.post("/password/reset", data={"email": acct.email})
    assert r.status_code == 403
    ask_for_link(mail_client, acct.email)
    path = link_in(inbox.wait(1)[0]).removeprefix(BASE)
    r = mail_client.post(path, data={"new_password": NEW, "new_password_confirm": NEW})
    assert r.status_code == 403 and "Nothing was changed" in r.text
    assert len(inbox.messages) == 1 and mail_client.get(path).status_code == 200
    with db.read() as s:
        assert verify_password(acct.password, s.get(User, acct.user_id).password_hash)


def test_without_smtp_the_mail_goes_to_the_outbox(client, settings, make_account):
    acct = make_account()
    ask_for_link(client, acct.email)
    [eml] = list((Path(settings.var_dir) / "outbox").glob("*.eml"))
    assert eml.stat().st_mode & 0o077 == 0
    message = email.message_from_bytes(eml.read_bytes())
    assert message["To"] == acct.email
    assert client.get(link_in(message).removeprefix(BASE)).status_code == 200


def test_the_smtp_url_is_checked_at_start_up():
    for bad, reason in [("http://mail.example.com", "must start with smtp://"),
                        ("smtp://user:pw@mail.example.com", "need smtp+starttls://"),
                        ("smtp://mail.example.com:99999", "port"),
                        ("smtp:///nohost", "host")]:
        with pytest.raises(ConfigError, match="HOSPES_SMTP_URL"):
            load_settings(smtp_url=bad)
    good = load_settings(smtp_url="smtp+starttls://me%40example.com:p%40ss@mail.example.com").smtp
    assert good is not None and (good.host, good.port, good.username, good.password) == (
        "mail.example.com", 587, "me@example.com", "p@ss")


def test_reset_through_the_real_server(server, smtp):
    inbox, _ = smtp
    made = server.cli("clients", "add", "--email", "real@example.com", "--first-name", "Real", "--last-name", "User",
                      "--password-stdin", "--json", stdin="correct horse battery staple")
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as http:
        r = ask_for_link(http, "real@example.com")
        assert r.status_code == 200 and "If an account exists" in r.text
        [message] = inbox.wait(1)
        link = re.search(r"http://127\.0\.0\.1:\d+/password/reset/[A-Za-z0-9_-]+",
                         mailbox.text(message)).group(0)
        assert link.startswith(server.url)
        form = http.get(link)
        done = post_form(http, form, "new_password", new_password=NEW, new_password_confirm=NEW)
        assert done.status_code == 200, done.text
        r = login_password(http, type("A", (), {"email": "real@example.com", "password": NEW})())
        assert r.status_code == 303
