"""`/` leads to the client area; a path the site does not serve gets the site's own page, not bare text."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server, stop_server
from tests.web.test_pages_security import assert_page_headers

# The tests share one server (tests/conftest.py), but for the one with an issuer path, which starts its own.
one_server = pytest.mark.one_server

@one_server
def test_root_leads_to_the_client_area(server):
    r = httpx.get(server.url + "/", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/clientarea.php"
    # Followed, a visitor who is not logged in lands on the login page.
    page = httpx.get(server.url + "/", follow_redirects=True)
    assert page.status_code == 200 and 'name="password"' in page.text


@one_server
def test_an_unknown_path_gets_the_site_page(server):
    r = httpx.get(server.url + "/no/such/page", headers={"Accept": "text/html,*/*"})
    assert r.status_code == 404
    assert_page_headers(r)
    assert "Page not found" in r.text and 'href="/clientarea.php"' in r.text
    # Without an Accept header (curl, a script) it is the same page.
    assert httpx.get(server.url + "/no/such/page").headers["content-type"].startswith("text/html")


@one_server
def test_an_api_client_asking_for_json_gets_json(server):
    r = httpx.get(server.url + "/no/such/page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error"] == "invalid_request"


@one_server
@pytest.mark.parametrize("path", ["/oauth/tokens", "/oauth/userinfo.php/x", "/.well-known/jwks.json"])
def test_an_unknown_protocol_path_answers_a_program_in_json(server, path):
    # A relying party with a mistyped endpoint reads an RFC 6749 §5.2 error, not a page it cannot parse.
    r = httpx.get(server.url + path)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json"), r.text
    assert r.json()["error"] == "invalid_request" and r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    # A browser that follows a broken link there still gets the site's page.
    page = httpx.get(server.url + path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 404 and 'href="/clientarea.php"' in page.text
    assert_page_headers(page)


@one_server
@pytest.mark.parametrize("path", ["/oauth/token.php", "/oauth/userinfo", "/.well-known/openid-configuration"])
def test_a_method_a_protocol_endpoint_does_not_take_is_json(server, path):
    r = httpx.request("DELETE", server.url + path)
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert r.headers["content-type"] == "application/json" and r.json()["error"] == "invalid_request"
    assert int(r.headers["content-length"]) == len(r.content)


@one_server
def test_a_method_the_admin_api_does_not_take_is_a_whmcs_answer(server):
    r = httpx.put(server.url + "/includes/api.php", data={"action": "GetClients"},
                  headers={"Accept": "text/html,*/*"})
    assert r.status_code == 405 and "POST" in r.headers["allow"]
    assert r.json()["result"] == "error" and r.json()["message"]


@one_server
def test_a_method_a_page_does_not_take_is_a_page_too(server):
    r = httpx.post(server.url + "/healthz")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert_page_headers(r)
    assert "Method not allowed" in r.text


def test_with_an_issuer_path_both_roots_lead_to_its_client_area(database_url, db, tmp_path: Path):
    srv = start_server(database_url, tmp_path, {}, issuer_path="/portal")
    host = srv.url.removesuffix("/portal")
    try:
        for root in ("/", "/portal/"):
            r = httpx.get(host + root)
            assert r.status_code == 302 and r.headers["location"] == "/portal/clientarea.php", root
        page = httpx.get(host + "/portal", follow_redirects=True)
        assert page.status_code == 200 and 'name="password"' in page.text
        missing = httpx.get(host + "/portal/nothing-here")
        assert missing.status_code == 404 and 'href="/portal/clientarea.php"' in missing.text
        assert_page_headers(missing)
        # Under the issuer path, a protocol path is still one a program gets JSON for.
        assert httpx.get(host + "/portal/oauth/tokens").json()["error"] == "invalid_request"
        assert httpx.put(host + "/portal/includes/api.php").json()["result"] == "error"
    finally:
        stop_server(srv)
