"""Helpers for the client-area tests: log in through the login page, add rows, check a page's accessibility."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from bs4 import BeautifulSoup

from hospes.accounts.passwords import hash_password
from hospes.store.db import Database
from hospes.store.models import Domain, EmailMessage, Invoice, Ticket, User, UserClient
from tests.browserless import login_form
from tests.conftest import PASSWORD, Account


def login(http: Any, acct: Account, prefix: str = "") -> None:
    """Log in at /login as a person would; the client keeps the session cookie."""
    page = http.get(prefix + "/login")
    f = login_form(page.text, str(page.url))
    r = http.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})
    assert r.status_code == 303, r.text
    assert "hospes_session" in r.cookies or http.cookies.get("hospes_session"), r.headers


def invite(db: Database, client_id: int, permissions: list[str] | None = None, first_name: str = "Ivan") -> Account:
    """A second user invited to the account (role ``invited``)."""
    email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    with db.transaction() as s:
        user = User(email=email, first_name=first_name, last_name="Invitee", password_hash=hash_password(PASSWORD))
        s.add(user)
        s.flush()
        s.add(UserClient(user_id=user.id, client_id=client_id, role="invited", permissions=list(permissions or [])))
        user_id = user.id
    return Account(client_id, user_id, email, PASSWORD)


def add(db: Database, row: Any) -> int:
    with db.transaction() as s:
        s.add(row)
        s.flush()
        return int(row.id)


def add_domain(db: Database, client_id: int, domain: str, status: str = "Active") -> int:
    return add(db, Domain(client_id=client_id, domain=domain, status=status))


def add_invoice(db: Database, client_id: int, total: str, status: str = "Unpaid") -> int:
    return add(db, Invoice(client_id=client_id, total=total, status=status))


def add_ticket(db: Database, client_id: int, subject: str, status: str = "Open") -> int:
    return add(db, Ticket(client_id=client_id, subject=subject, message="Hello", status=status))


def add_email(db: Database, client_id: int, subject: str, body: str = "Body", to: str = "jane@example.com") -> int:
    return add(db, EmailMessage(client_id=client_id, to_address=to, subject=subject, body=body,
                                sent_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC)))


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def assert_accessible(html: str) -> BeautifulSoup:
    """The checks a screen-reader or keyboard user depends on: one h1 first and no skipped heading level,
    a label for every field, table headers with a scope, a named navigation, and the logout button."""
    page = soup(html)
    levels = [int(h.name[1]) for h in page.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])]
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    for before, after in zip(levels, levels[1:], strict=False):
        assert after <= before + 1, f"heading levels skip: {levels}"
    for field in page.find_all(["input", "select", "textarea"]):
        if field.name == "input" and field.get("type") in ("hidden", "submit", "button"):
            continue
        assert field.get("id"), field
        label = page.find("label", attrs={"for": field["id"]})
        assert label is not None and label.get_text(strip=True), f"no label for {field}"
    for table in page.find_all("table"):
        headers = table.find_all("th")
        assert headers and all(th.get("scope") in ("col", "row") for th in headers), table
    navs = page.find_all("nav")
    assert navs and all(n.get("aria-label") for n in navs)
    logout = next(f for f in page.find_all("form") if f.get("action", "").endswith("/logout"))
    assert logout["method"].lower() == "post" and logout.find("input", attrs={"name": "token"})["value"]
    assert page.find("a", class_="skip") is not None
    return page


def links(html: str) -> dict[str, str]:
    """Visible link text -> href."""
    return {a.get_text(" ", strip=True): a["href"] for a in soup(html).find_all("a", href=True)}
