"""`/` leads to the client area; a path the site does not serve gets the site's own page, not bare text."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.testclient import TestClient

from hospes.app import create_app
from hospes.config import load_settings
from tests.web.test_pages_security import assert_page_headers


def test_root_leads_to_the_client_area(server):
    r = httpx.get(server.url + "/", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/clientarea.php"
    # Followed, a visitor who is not logged in lands on the login page.
    page = httpx.get(server.url + "/", follow_redirects=True)
    assert page.status_code == 200 and 'name="password"' in page.text


def test_an_unknown_path_gets_the_site_page(server):
    r = httpx.get(server.url + "/no/such/page", headers={"Accept": "text/html,*/*"})
    assert r.status_code == 404
    assert_page_headers(r)
    assert "Page not found" in r.text and 'href="/clientarea.php"' in r.text
    # Without an Accept header (curl, a script) it is the same page.
    assert httpx.get(server.url + "/no/such/page").headers["content-type"].startswith("text/html")


def test_an_api_client_asking_for_json_gets_json(server):
    r = httpx.get(server.url + "/no/such/page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert r.json()["status"] == 404


def test_a_method_a_page_does_not_take_is_a_page_too(server):
    r = httpx.post(server.url + "/healthz")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert_page_headers(r)
    assert "Method not allowed" in r.text


def test_with_an_issuer_path_both_roots_lead_to_its_client_area(database_url, db, tmp_path: Path):
    settings = load_settings(database_url=database_url, var_dir=str(tmp_path / "var"),
                             secret_key="test-secret-key-" + "x" * 32, issuer="http://127.0.0.1:8000/portal")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False) as c:
        for root in ("/", "/portal/"):
            r = c.get(root)
            assert r.status_code == 302 and r.headers["location"] == "/portal/clientarea.php", root
        missing = c.get("/portal/nothing-here")
        assert missing.status_code == 404 and 'href="/portal/clientarea.php"' in missing.text
