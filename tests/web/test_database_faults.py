"""A database that hangs, as an operator meets it, against the real server process.

PostgreSQL: a proxy on loopback (tests/holdproxy.py) between the server and its own test database holds the
traffic, as a partition does. SQLite: another connection holds the write lock (BEGIN IMMEDIATE), as a backup
or the sqlite3 shell can. Either way, while it lasts every request answers within the deadline (503 with
Retry-After in its own form, not a hang), /readyz within 1 s; a code or refresh token sent then is not
consumed, so the client's retry succeeds after the database is back (instead of invalid_grant, or a revoked
grant for the refresh token); the server serves again within about a second; and the log holds one line per
failed request, with its request id, and few tracebacks.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.browserless import authorize, login_form, query_of
from tests.conftest import Server, backend, start_server, stop_server
from tests.holdproxy import HoldProxy

DEADLINE = 2.0  # HOSPES_DB_TIMEOUT for the server under test (libpq connects in no less than 2 s)
SLACK = 1.0  # a loaded test machine's scheduling, on top of the deadline
SCOPE = "openid profile email offline_access"


@pytest.fixture
def rp(make_account: Any, make_credential: Any) -> tuple[Any, Any]:
    return make_account(), make_credential(scope=SCOPE)


def _code(http: httpx.Client, acct: Any, cred: Any) -> str:
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
              "scope": SCOPE, "state": "s"}
    r = authorize(http, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    assert r.status_code in (302, 303), r.text
    return query_of(r.headers["location"])["code"]


def _redeem(http: httpx.Client, cred: Any, code: str) -> httpx.Response:
    return http.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": cred.redirect_uri},
                     auth=(cred.client_id, cred.client_secret))


def _refresh(http: httpx.Client, cred: Any, token: str) -> httpx.Response:
    return http.post("/oauth/token.php", data={"grant_type": "refresh_token", "refresh_token": token},
                     auth=(cred.client_id, cred.client_secret))


def _timed(fn: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    r = fn()
    return r, time.monotonic() - start


def _while_unavailable(srv: Server, http: httpx.Client, acct: Any, cred: Any,
                       hold: Callable[[], None], release: Callable[[], None], *, reads_fail: bool) -> None:
    """The whole scenario: prepare, hold, send every kind of request at once, check, release, check."""
    tokens = _redeem(http, cred, _code(http, acct, cred)).json()
    code = _code(http, acct, cred)
    # A login page to post while the database is away (a page, answered from the ORM in a thread).
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
              "scope": "openid", "state": "s", "prompt": "login"}
    browser = httpx.Client(base_url=srv.url, timeout=30)  # keeps the form's CSRF cookie
    page = browser.get("/oauth/authorize.php?" + urlencode(params))
    form = login_form(page.text, str(page.url))
    login = {**{k: v for k, v in form.fields.items() if k != "login_declined"},
             "username": acct.email, "password": acct.password}

    def fresh() -> httpx.Client:
        return httpx.Client(base_url=srv.url, timeout=30)

    calls: dict[str, Callable[[], httpx.Response]] = {
        "code": lambda: _redeem(fresh(), cred, code),
        "refresh": lambda: _refresh(fresh(), cred, tokens["refresh_token"]),
        "login page": lambda: browser.post(form.action, data=login),
        "admin api": lambda: httpx.post(srv.url + "/includes/api.php",
                                        data={"action": "GetClients", "username": "x", "password": "y",
                                              "responsetype": "json"}, timeout=30),
        "readyz": lambda: httpx.get(srv.url + "/readyz", timeout=30),
    }
    if reads_fail:  # on SQLite a held write lock does not stop a reader (WAL)
        calls["userinfo"] = lambda: fresh().get("/oauth/userinfo.php",
                                                headers={"Authorization": "Bearer " + tokens["access_token"]})
        calls["introspection"] = lambda: fresh().post("/oauth/introspect", data={"token": tokens["access_token"]},
                                                      auth=(cred.client_id, cred.client_secret))
    hold()
    try:
        with ThreadPoolExecutor(len(calls) + 2) as pool:
            futures = {name: pool.submit(_timed, fn) for name, fn in calls.items()}
            # Two more redemptions of the same kind: their failures log one line each, no new traceback.
            again = [pool.submit(_timed, lambda: _redeem(fresh(), cred, "no-such-code-" + str(i))) for i in (1, 2)]
            answers = {name: f.result() for name, f in futures.items()}
            repeats = [f.result() for f in again]
    finally:
        release()
    released = time.monotonic()

    for name, (r, took) in answers.items():
        limit = 1.0 + 0.5 if name == "readyz" else DEADLINE + SLACK
        assert took < limit, f"{name} took {took:.2f} s"
        assert r.status_code == 503, (name, r.status_code, r.text[:300])
        assert r.headers["retry-after"].isdigit(), name
    for name in ("code", "refresh", "userinfo", "introspection"):
        if name in answers:
            assert answers[name][0].json()["error"] == "temporarily_unavailable", name
    assert "Temporarily unavailable" in answers["login page"][0].text  # the site's own page
    assert answers["login page"][0].headers["content-type"].startswith("text/html")
    assert answers["admin api"][0].json()["result"] == "error"  # WHMCS's envelope
    ready = answers["readyz"][0].json()
    assert ready["status"] == "unavailable" and ready["checks"]["database"] != "ok", ready

    # Back within about a second of the database's return.
    while httpx.get(srv.url + "/readyz", timeout=10).status_code != 200:
        assert time.monotonic() - released < 1.5 + SLACK, "not ready again after the database came back"
        time.sleep(0.05)
    # Nothing was consumed while nobody could be answered: the retries succeed.
    again_code = _redeem(http, cred, code)
    assert again_code.status_code == 200, again_code.text
    again_refresh = _refresh(http, cred, tokens["refresh_token"])
    assert again_refresh.status_code == 200, again_refresh.text  # not invalid_grant, and the grant lives
    info = http.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + again_refresh.json()["access_token"]})
    assert info.status_code == 200

    # One line per failed request, with the id its answer carried; a traceback only once per kind of failure.
    log = srv.log.read_text()
    failed = [r for name, (r, _took) in [*answers.items(), *(("repeat", a) for a in repeats)]
              if name != "readyz" and r.status_code == 503]  # readyz's 503 is its answer, not a failure
    for r in failed:
        assert log.count(r.headers["x-request-id"]) == 1, r.headers["x-request-id"]
    assert log.count("Traceback (most recent call last)") < len(failed)
    assert "Exception in ASGI application" not in log


@pytest.fixture
def proxied(database_url: str, tmp_path: Path) -> Iterator[tuple[Server, HoldProxy]]:
    url = make_url(database_url)
    proxy = HoldProxy((url.host or "127.0.0.1", url.port or 5432))
    port = proxy.start()
    through = url.set(port=port, host="127.0.0.1").render_as_string(hide_password=False)
    srv = start_server(through, tmp_path, {"HOSPES_DB_TIMEOUT": str(DEADLINE)})
    try:
        yield srv, proxy
    finally:
        stop_server(srv)
        proxy.stop()


@pytest.mark.skipif(backend() != "postgresql", reason="a proxy in front of PostgreSQL")
def test_postgresql_held_by_the_network(proxied: tuple[Server, HoldProxy], rp: tuple[Any, Any]) -> None:
    srv, proxy = proxied
    acct, cred = rp
    with httpx.Client(base_url=srv.url, timeout=30) as http:
        _while_unavailable(srv, http, acct, cred, proxy.hold, proxy.release, reads_fail=True)


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite's write lock")
def test_sqlite_write_lock_held_by_another_connection(database_url: str, tmp_path: Path,
                                                      rp: tuple[Any, Any]) -> None:
    acct, cred = rp
    srv = start_server(database_url, tmp_path, {"HOSPES_DB_TIMEOUT": str(DEADLINE)})
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            _while_unavailable(srv, http, acct, cred, lambda: other.execute("BEGIN IMMEDIATE"),
                               lambda: other.execute("ROLLBACK"), reads_fail=False)
    finally:
        other.close()
        stop_server(srv)
