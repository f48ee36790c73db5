"""Input no page can use, sent to the real server: a form or query that is not UTF-8, holds a NUL or an encoded
surrogate, or is too large; page numbers and dates beyond what they can be; ids beyond the database's integer
columns. Each gets a 4xx in the form of the place it was sent to (a page, WHMCS's envelope), never a 500, and
every answer, a 500 included, carries the security headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.admin import csrf_token, make_admin
from tests.adminapi import make_api_credential
from tests.conftest import PASSWORD

FORM = {"content-type": "application/x-www-form-urlencoded"}
UNREADABLE = {
    "invalid UTF-8": b"token=x&username=%ff",
    "NUL": b"token=x&username=a%00b",
    "encoded surrogate": b"token=x&username=%ED%A0%80",
    "raw surrogate": b"token=x&username=\xed\xa0\x80",
    "too many fields": b"&".join(b"f%d=1" % i for i in range(300)),
}
TOO_LARGE = b"username=" + b"x" * (64 * 1024 + 1)
FORM_PAGES = ["/login", "/logout", "/password/reset", "/password/reset/some-token", "/admin/login"]


def assert_security_headers(r: httpx.Response) -> None:
    assert r.headers.get("x-content-type-options") == "nosniff", r.headers
    assert r.headers.get("x-frame-options") == "DENY", r.headers
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), r.headers
    assert r.headers.get("referrer-policy") == "no-referrer", r.headers


def assert_page(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    assert_security_headers(r)


@pytest.fixture
def http(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url) as c:
        yield c


@pytest.fixture
def admin_http(server: Any, db: Any) -> Iterator[httpx.Client]:
    """A full admin logged in to the admin area."""
    make_admin(db, "alice")
    with httpx.Client(base_url=server.url) as c:
        page = c.get("/admin/login")
        r = c.post("/admin/login", data={"token": csrf_token(page.text), "username": "alice", "password": PASSWORD})
        assert r.status_code == 303, r.text
        yield c


def test_an_unreadable_form_gets_a_400_page(server):
    for path in FORM_PAGES:
        for kind, body in UNREADABLE.items():
            r = httpx.post(server.url + path, content=body, headers=FORM)
            assert r.status_code == 400, (path, kind, r.status_code)
            assert_page(r, 400)
            assert "The request could not be read" in r.text


def test_a_form_over_64_kib_gets_a_413_page(server):
    for path in FORM_PAGES:
        assert_page(httpx.post(server.url + path, content=TOO_LARGE, headers=FORM), 413)


def test_an_unreadable_query_gets_a_400_page(http):
    for query in ("next=%ff", "next=%00", "next=%ED%A0%80"):
        for path in ("/login", "/admin/login", "/clientarea.php"):
            r = http.get(f"{path}?{query}")
            assert r.status_code == 400, (path, query, r.status_code)
            assert_page(r, 400)


def test_admin_pages_take_any_number_and_any_search(admin_http):
    for query in ("page=%C2%B2", "page=99999999999999999999", "q=%00", "q=%ff", "q=%C2%B2", "status=%ED%A0%80"):
        r = admin_http.get("/admin/clients?" + query)
        assert r.status_code in (200, 400), (query, r.status_code)
        assert_security_headers(r)
    for path in ("/admin/clients/99999999999999999999", "/admin/oauth/2147483648",
                 "/admin/oauth/99999999999999999999/reset"):
        assert_page(admin_http.get(path), 404)


def test_audit_dates_outside_the_calendar_are_refused_on_the_page(admin_http):
    for query in ("to=9999-12-31", "from=9999-12-31", "from=0001-01-01", "to=%C2%B2", "to=2024-W01-1",
                  "from=20240531"):
        r = admin_http.get("/admin/audit?" + query)
        assert r.status_code == 400, (query, r.status_code)
        assert_page(r, 400)
        assert "must be a date such as 2024-05-31" in r.text
    assert_page(admin_http.get("/admin/audit?from=2024-01-01&to=9999-12-30&page=%C2%B2"), 200)


def test_client_area_numbers_beyond_range(http, make_account):
    acct = make_account()
    page = http.get("/login")
    r = http.post("/login", data={"token": csrf_token(page.text), "username": acct.email, "password": acct.password})
    assert r.status_code == 303
    for query in ("changed=%C2%B2", "ended=%C2%B2", "id=99999999999999999999", "client=2147483648",
                  "opened=%C2%B2"):
        for path in ("/account/password", "/account/sessions", "/clientarea.php?action=productdetails",
                     "/supporttickets.php"):
            r = http.get(path + ("&" if "?" in path else "?") + query)
            assert r.status_code in (200, 404), (path, query, r.status_code)
            assert_security_headers(r)


BEYOND = ["2147483648", "99999999999", "-99999999999", "99999999999999999999999", "\u00b2", "1e3"]


def test_create_sso_token_with_an_id_beyond_the_column_is_whmcs_error(server, db, make_account):
    acct = make_account()
    cred = make_api_credential(db)
    for name in ("client_id", "user_id", "service_id", "domain_id"):
        for value in BEYOND:
            fields = {"action": "CreateSsoToken", "identifier": cred.identifier, "secret": cred.secret,
                      "responsetype": "json", "client_id": str(acct.client_id), name: value}
            if name == "domain_id":
                fields["destination"] = "clientarea:domain_details"
            r = httpx.post(server.url + "/includes/api.php", data=fields)
            assert r.status_code == 200, (name, value, r.text)
            assert r.json() == {"result": "error", "message": f"Invalid {name}"}, (name, value)
            assert_security_headers(r)


def test_other_commands_with_ids_beyond_the_column(server, db):
    cred = make_api_credential(db)
    for action, params, message in [
        ("CloseClient", {"clientid": "99999999999"}, "Client ID Not Found"),
        ("GetClientsDetails", {"clientid": "2147483648"}, "Client Not Found"),
        ("UpdateOAuthCredential", {"credentialId": "99999999999999999999"}, "Invalid Credential ID provided."),
        ("CreateOAuthCredential", {"grantType": "single_sign_on", "scope": "clientarea:sso",
                                   "serviceId": "99999999999"}, "A valid Service ID is required."),
    ]:
        r = httpx.post(server.url + "/includes/api.php", data={
            "action": action, "identifier": cred.identifier, "secret": cred.secret, "responsetype": "json", **params})
        assert r.status_code == 200, (action, r.text)
        assert r.json() == {"result": "error", "message": message}, action


def test_a_server_error_still_carries_the_security_headers(admin_http, db):
    # A failure no handler expects: the table the audit page reads is gone.
    with db.transaction() as s:
        s.execute(text("DROP TABLE audit_events"))
    r = admin_http.get("/admin/audit")
    assert_page(r, 500)
    assert "Traceback" not in r.text and "audit_events" not in r.text


def test_non_ascii_where_a_token_or_code_goes(http, db, make_account):
    """Found by tests/test_property.py: a CSRF token or a two-factor code holding "²" once reached
    hmac.compare_digest, which refuses non-ASCII text."""
    acct = make_account()
    r = http.post("/login", data={"token": "\u00b2", "username": acct.email, "password": acct.password})
    assert_page(r, 403)
    page = http.get("/login")
    r = http.post("/login", data={"token": csrf_token(page.text), "username": acct.email, "password": acct.password})
    assert r.status_code == 303
    token = csrf_token(http.get("/account/security").text)
    assert http.post("/account/security", data={"token": token, "action": "begin"}).status_code in (200, 303)
    r = http.post("/account/security", data={"token": token, "action": "confirm", "code": "\u00b2" * 6})
    assert_page(r, 401)  # a wrong code, as any other


def test_an_api_credential_with_a_role_named_twice(admin_http, db):
    """Found by tests/test_property.py: the role's row was inserted twice (a UNIQUE failure, a 500)."""
    make_api_credential(db, "bob")
    token = csrf_token(admin_http.get("/admin/api").text)
    r = admin_http.post("/admin/api/credentials", data={"token": token, "admin": "bob",
                                                        "role": ["role-bob", "role-bob"]})
    assert r.status_code in (200, 201, 303), r.text[:300]
    assert_security_headers(r)
