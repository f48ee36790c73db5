"""Helpers for the admin API tests (/includes/api.php).

``api`` is the app in-process, called from 127.0.0.1 (an allowed address by default) with an API
credential of a full administrator whose role allows every action. Import the fixtures a module
uses: ``from tests.adminapi import api_cred_fixture, api_fixture  # noqa: F401``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from hospes.accounts.service import add_admin
from hospes.adminapi.credentials import create_credential, create_role
from hospes.store.db import Database
from hospes.store.models import AuditEvent
from tests.conftest import PASSWORD

LOCAL = ("127.0.0.1", 50000)
BASE_URL = "http://127.0.0.1:8000"


@dataclass
class ApiCred:
    identifier: str
    secret: str
    admin: str


def make_api_credential(db: Database, admin: str = "apiadmin", *, permissions: list[str] | None = None,
                        actions: list[str] | None = None, role: str | None = None) -> ApiCred:
    """An admin (full unless ``permissions``), a role (every action unless ``actions``), a credential."""
    with db.transaction() as s:
        add_admin(s, username=admin, email=f"{admin}@example.com", password=PASSWORD,
                  permissions=list(permissions or []))
        role_name = role or f"role-{admin}"
        create_role(s, name=role_name, actions=list(actions or []), all_actions=actions is None)
        made = create_credential(s, admin_username=admin, roles=[role_name])
    return ApiCred(made.identifier, made.secret, admin)


class Api:
    """Posts form fields to /includes/api.php as WHMCS's sample code does."""

    def __init__(self, http: TestClient | httpx.Client, cred: ApiCred, path: str = "/includes/api.php") -> None:
        self.http = http
        self.cred = cred
        self.path = path

    def post(self, action: str | None, params: dict[str, Any] | list[tuple[str, str]] | None = None, *,
             cred: ApiCred | None = None, auth: bool = True, responsetype: str | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        fields: list[tuple[str, str]] = []
        if action is not None:
            fields.append(("action", action))
        if auth:
            c = cred or self.cred
            fields += [("identifier", c.identifier), ("secret", c.secret)]
        items = params.items() if isinstance(params, dict) else (params or [])
        for key, value in items:
            for v in value if isinstance(value, list | tuple) else [value]:
                fields.append((key, str(v)))
        if responsetype is not None:
            fields.append(("responsetype", responsetype))
        return self.http.post(self.path, content=str(httpx.QueryParams(fields)),
                              headers={"content-type": "application/x-www-form-urlencoded", **(headers or {})})

    def json(self, action: str, params: dict[str, Any] | list[tuple[str, str]] | None = None,
             status: int = 200, **kw: Any) -> dict[str, Any]:
        r = self.post(action, params, responsetype="json", **kw)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = r.json()
        return body

    def ok(self, action: str, params: dict[str, Any] | list[tuple[str, str]] | None = None,
           **kw: Any) -> dict[str, Any]:
        body = self.json(action, params, **kw)
        assert body["result"] == "success", body
        return body

    def error(self, action: str, params: dict[str, Any] | list[tuple[str, str]] | None = None,
              status: int = 200, **kw: Any) -> str:
        body = self.json(action, params, status=status, **kw)
        assert body["result"] == "error", body
        assert set(body) == {"result", "message"}, body
        message: str = body["message"]
        return message

    def xml(self, action: str, params: dict[str, Any] | list[tuple[str, str]] | None = None,
            status: int = 200, **kw: Any) -> ET.Element:
        r = self.post(action, params, responsetype="xml", **kw)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(r.content)
        assert root.tag == "whmcsapi" and root.get("version")
        return root


def text(root: ET.Element, path: str) -> str:
    el = root.find(path)
    assert el is not None, f"no <{path}> in {ET.tostring(root)!r}"
    return el.text or ""


def audit_rows(db: Database, action: str | None = None) -> list[AuditEvent]:
    with db.transaction() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            q = q.where(AuditEvent.action == action)
        rows = list(s.scalars(q))
        s.expunge_all()
    return rows


def count(db: Database, model: Any) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def assert_no_secret(rows: list[AuditEvent], *secrets: str) -> None:
    for row in rows:
        dumped = json.dumps(row.details, default=str)
        for secret in secrets:
            if secret:
                assert secret not in dumped, (row.action, row.details)


def api_client(app: Any, peer: tuple[str, int] = LOCAL) -> TestClient:
    return TestClient(app, base_url=BASE_URL, follow_redirects=False, client=peer)


@pytest.fixture(name="api_cred")
def api_cred_fixture(db: Database) -> ApiCred:
    return make_api_credential(db)


@pytest.fixture(name="api")
def api_fixture(app: Any, api_cred: ApiCred) -> Iterator[Api]:
    with api_client(app) as http:
        yield Api(http, api_cred)
