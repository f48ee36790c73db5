"""Helpers for the admin-area tests: make an admin, log in through the form, post a page's form."""

from __future__ import annotations

import re
from typing import Any

from bs4 import BeautifulSoup
from sqlalchemy import select

from hospes.accounts.service import add_admin
from hospes.store.models import AuditEvent
from tests.conftest import PASSWORD

FULL: list[str] = []
OIDC = ["Configure OpenID Connect"]
CLIENTS = ["Manage Clients"]
API = ["API Access"]


def make_admin(db: Any, username: str = "alice", permissions: list[str] | None = None,
               password: str = PASSWORD) -> int:
    with db.transaction() as s:
        return add_admin(s, username=username, email=f"{username}@example.com", password=password,
                         permissions=list(permissions or []))


def csrf_token(html: str) -> str:
    m = re.search(r'name="token" value="([^"]+)"', html)
    assert m, f"no CSRF token in page:\n{html[:1500]}"
    return m.group(1)


def login(client: Any, username: str = "alice", password: str = PASSWORD, next_: str | None = None) -> Any:
    page = client.get("/admin/login" + (f"?next={next_}" if next_ else ""))
    assert page.status_code == 200, page.text
    data = {"token": csrf_token(page.text), "username": username, "password": password}
    if next_:
        data["next"] = next_
    return client.post("/admin/login", data=data)


def admin_session(client: Any, db: Any, username: str = "alice", permissions: list[str] | None = None) -> None:
    """Make an admin and log the test client in as them."""
    make_admin(db, username, permissions)
    r = login(client, username)
    assert r.status_code == 303, r.text


def post(client: Any, url: str, data: dict[str, Any] | list[tuple[str, str]], *, page: str | None = None) -> Any:
    """Post to ``url`` with the CSRF token read from ``page`` (default: ``url`` itself), as a browser would."""
    html = client.get(page or url).text
    token = csrf_token(html)
    body = multi([*data, ("token", token)]) if isinstance(data, list) else {**data, "token": token}
    return client.post(url, data=body)


def multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields that repeat (``redirect_uri`` rows, checkboxes), in order, as httpx wants them."""
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def text_of(html: str, element_id: str) -> str | None:
    node = BeautifulSoup(html, "html.parser").find(id=element_id)
    return node.get_text(strip=True) if node else None


def nav_labels(html: str) -> list[str]:
    nav = BeautifulSoup(html, "html.parser").find("nav", attrs={"aria-label": "Admin area"})
    return [a.get_text(strip=True) for a in nav.find_all("a")] if nav else []


def audit_rows(db: Any, action: str | None = None) -> list[AuditEvent]:
    with db.transaction() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            q = q.where(AuditEvent.action == action)
        return list(s.scalars(q))
