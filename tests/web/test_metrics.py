"""/metrics on the real server: what an operator's Prometheus reads after logins, token requests and userinfo
calls; who may read it; and with ``--workers 2`` every worker's requests in one sum."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hospes.metrics import FLUSH_S
from tests.browserless import authorize, login_form, query_of
from tests.conftest import Server, start_server, stop_server
from tests.e2e import REDIRECT_URI, SCOPE, add_credential, add_user
from tests.web.test_workers import _children, _workers

TOKEN = "metrics-reader-token-0123456789"


def scrape(server: Server, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = httpx.get(server.url + "/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_counts_logins_grants_tokens_and_requests_by_route(server: Server) -> None:
    user, cred = add_user(server), add_credential(server)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        # A wrong password on the client area's login page.
        page = http.get("/login")
        form = login_form(page.text, str(page.url))
        wrong = http.post(form.action, data={**form.fields, "username": user.email, "password": "not it"})
        assert wrong.status_code == 401
        # The right one, on the authorization's login page; then the code for tokens.
        params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": REDIRECT_URI,
                  "scope": SCOPE, "state": "s", "prompt": "consent"}
        r = authorize(http, "/oauth/authorize.php?" + urlencode(params), user.email, user.password)
        code = query_of(r.headers["location"])["code"]
        auth = (cred.client_id, cred.client_secret)
        tokens = http.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": REDIRECT_URI}, auth=auth)
        assert tokens.status_code == 200, tokens.text
        for _ in range(3):
            assert http.get("/oauth/userinfo", headers={"Authorization": "Bearer " + tokens.json()["access_token"]}
                            ).status_code == 200
        # The same code again: refused (RFC 6749 §4.1.2).
        again = http.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": REDIRECT_URI}, auth=auth)
        assert again.json()["error"] == "invalid_grant"
        # A route with a parameter, and a path no route serves.
        http.get("/oauth/register/some-client-id")
        http.get("/no/such/page-1234")

    r = httpx.get(server.url + "/metrics", timeout=10)
    samples = scrape(server)
    assert value(samples, "hospes_logins_total", kind="customer", step="password", outcome="failed") == 1
    assert value(samples, "hospes_logins_total", kind="customer", step="password", outcome="ok") == 1
    assert value(samples, "hospes_token_grants_total", grant_type="authorization_code") == 1
    for kind in ("access_token", "id_token", "refresh_token"):
        assert value(samples, "hospes_tokens_issued_total", token=kind) == 1
    assert value(samples, "hospes_token_refused_total", grant_type="authorization_code", error="invalid_grant") == 1
    assert value(samples, "hospes_http_requests_total", endpoint="/oauth/userinfo", status="200") == 3
    assert value(samples, "hospes_http_requests_total", endpoint="/oauth/token", status="200") == 1
    assert value(samples, "hospes_http_requests_total", endpoint="/oauth/token", status="400") == 1
    assert value(samples, "hospes_http_requests_total", endpoint="/login", status="401") == 1
    assert value(samples, "hospes_http_request_duration_seconds_count", endpoint="/oauth/userinfo") == 3
    assert value(samples, "hospes_db_duration_seconds_count", operation="userinfo") == 3
    assert value(samples, "hospes_db_duration_seconds_count", operation="writer_unit") >= 2
    assert value(samples, "hospes_writer_queue_depth") == 0
    assert 0 <= value(samples, "hospes_signing_key_age_seconds", alg="RS256") < 3600
    # Route templates only: no id, no path the site does not serve.
    assert value(samples, "hospes_http_requests_total", endpoint="/oauth/register/{client_id}", status="401") == 1
    assert value(samples, "hospes_http_requests_total", endpoint="unmatched", status="404") == 1
    assert "some-client-id" not in r.text and "page-1234" not in r.text
    assert tokens.json()["access_token"] not in r.text


@pytest.fixture
def guarded(database_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path, {"HOSPES_METRICS": "192.0.2.0/24", "HOSPES_METRICS_TOKEN": TOKEN})
    yield srv
    stop_server(srv)


def test_an_address_not_listed_gets_a_404_and_the_token_reads(guarded: Server) -> None:
    url = guarded.url + "/metrics"
    not_found = httpx.get(guarded.url + "/no-such-page", timeout=10)
    refused = httpx.get(url, timeout=10)
    assert refused.status_code == 404
    assert refused.text == not_found.text  # the site's own 404: nothing says /metrics exists
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 404
    assert httpx.get(url, headers={"Authorization": "Bearer " + TOKEN[:-1]}, timeout=10).status_code == 404
    samples = scrape(guarded, Authorization="Bearer " + TOKEN)
    # start_server waited for /healthz to answer; the refused reads count as the 404s they were.
    assert value(samples, "hospes_http_requests_total", endpoint="/healthz", status="200") >= 1
    assert value(samples, "hospes_http_requests_total", endpoint="unmatched", status="404") == 4


def test_metrics_off_is_a_404(database_url: str, tmp_path: Path) -> None:
    srv = start_server(database_url, tmp_path, {"HOSPES_METRICS": "off", "HOSPES_METRICS_TOKEN": TOKEN})
    try:
        r = httpx.get(srv.url + "/metrics", headers={"Authorization": "Bearer " + TOKEN}, timeout=10)
        assert r.status_code == 404
    finally:
        stop_server(srv)


def test_every_worker_is_counted(database_url: str, tmp_path: Path) -> None:
    srv = start_server(database_url, tmp_path, {}, "--workers", "2")
    try:
        n = 40
        for _ in range(n):  # a connection each: the kernel spreads them over both workers' sockets
            with httpx.Client(timeout=10) as http:
                assert http.get(srv.url + "/oauth/jwks").status_code == 200
        time.sleep(FLUSH_S + 0.5)  # each worker hands its counts to the shared files within FLUSH_S
        counts: list[Any] = []
        for _ in range(4):  # each scrape (a new connection), whichever worker answers it, adds up both
            counts.append(value(scrape(srv), "hospes_http_requests_total", endpoint="/oauth/jwks", status="200"))
        assert counts == [n] * 4
        # A worker killed and replaced: what it counted stays in the sum (only its live gauges leave).
        first, second = _workers(srv.process.pid, 2)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while first in _children(srv.process.pid) or len(_children(srv.process.pid)) < 2:
            assert time.monotonic() < deadline, "the supervisor did not replace the killed worker"
            time.sleep(0.2)
        assert value(scrape(srv), "hospes_http_requests_total", endpoint="/oauth/jwks", status="200") == n
        assert value(scrape(srv), "hospes_writer_queue_depth") == 0
    finally:
        stop_server(srv)


@pytest.mark.parametrize("value", ["nonsense", "10.0.0.0/33", "127.0.0.1, of"])
def test_a_bad_address_list_stops_start_up_with_its_name(value: str) -> None:
    from hospes.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="HOSPES_METRICS"):
        load_settings(metrics=value)


def test_off_and_an_empty_list_are_settings() -> None:
    from hospes.config import load_settings

    assert load_settings(metrics="off").metrics_networks is None
    assert load_settings(metrics="").metrics_networks == ()
