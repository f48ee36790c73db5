"""Client ID Metadata Documents end to end: the real server over HTTP fetches a client's document from an https
server the test runs (its certificate from a CA the test made, trusted through SSL_CERT_FILE), and a person
signs in to a client that was never registered."""

from __future__ import annotations

import datetime
import json
import secrets
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from sqlalchemy import DateTime, bindparam, create_engine, text

from hospes.config import Settings
from tests.browserless import authorize, query_of
from tests.conftest import Server, start_server, stop_server
from tests.e2e import add_user, discover
from tests.e2e.test_registration import sign_in, userinfo
from tests.tls import make_certificates

REDIRECT = "http://127.0.0.1/callback"


@dataclass
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class DocumentServer:
    """An https server on 127.0.0.1 answering each path from ``routes``, counting the requests per path."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        docs = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                docs.hits[self.path] += 1
                route = docs.routes.get(self.path, Route(b"not found", 404))
                time.sleep(route.delay)
                self.send_response(route.status)
                for name, value in {"Content-Type": "application/json", **route.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                with suppress(OSError):  # a client that gave up
                    self.wfile.write(route.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def document(self, path: str, *, name: str = "Desk Assistant", client_id: str | None = None,
                 redirect_uris: list[str] | None = None, headers: dict[str, str] | None = None,
                 **fields: Any) -> str:
        """Serve a metadata document at ``path``; returns its URL (the client_id)."""
        url = self.url(path)
        uris = [REDIRECT] if redirect_uris is None else redirect_uris
        doc = {"client_id": client_id or url, "client_name": name, "redirect_uris": uris,
               "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none",
               "scope": "openid profile services:read", **fields}
        self.routes[path] = Route(json.dumps(doc).encode(), headers=headers or {})
        return url

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def docs(tmp_path: Path) -> Iterator[tuple[DocumentServer, Path]]:
    ca, cert, key = make_certificates(tmp_path)
    server = DocumentServer(cert, key)
    try:
        yield server, ca
    finally:
        server.close()


@contextmanager
def _hospes(database_url: str, tmp_path: Path, ca: Path, **env: str) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path, {"SSL_CERT_FILE": str(ca), **env})
    try:
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture
def hospes(database_url: str, tmp_path: Path, docs: tuple[DocumentServer, Path]) -> Iterator[Server]:
    """Hospes trusting the test's CA, allowed to fetch from 127.0.0.1 (HOSPES_FETCH_ALLOW_PRIVATE)."""
    with _hospes(database_url, tmp_path, docs[1], HOSPES_FETCH_ALLOW_PRIVATE="true") as srv:
        yield srv


def authorization_page(server: Server, client_id: str, redirect_uri: str = REDIRECT) -> httpx.Response:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid",
              "state": "s", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
              "code_challenge_method": "S256"}
    return httpx.get(server.url + "/oauth/authorize.php?" + urlencode(params), timeout=30)


def assert_refused(r: httpx.Response, why: str) -> None:
    """An error page (RFC 6749 §4.1.2.1: never a redirect to a redirect URI not yet trusted) saying why."""
    assert r.status_code == 400, (r.status_code, r.headers.get("location"), r.text[:2000])
    assert "location" not in r.headers
    assert why in r.text, r.text[:3000]


def code_flow(oauth: OAuth2Client, meta: dict[str, Any], user: Any, redirect_uri: str) -> dict[str, Any]:
    """Log in (and consent when asked), then redeem the code with the PKCE verifier: the token response."""
    verifier = secrets.token_urlsafe(48)
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                redirect_uri=redirect_uri)
    with httpx.Client(timeout=30) as browser:
        r = authorize(browser, url, user.email, user.password)
    assert r.status_code in (302, 303), r.text[:2000]
    return dict(oauth.fetch_token(meta["token_endpoint"], authorization_response=r.headers["location"], state=state,
                                  code_verifier=verifier, redirect_uri=redirect_uri))


def test_a_client_known_only_by_its_document_signs_a_person_in_and_is_fetched_once(
        hospes: Server, docs: tuple[DocumentServer, Path]) -> None:
    server, _ = docs
    meta = discover(hospes)
    assert meta["client_id_metadata_document_supported"] is True
    client_id = server.document("/clients/desk.json", headers={"Cache-Control": "public, max-age=600"})
    user = add_user(hospes)
    redirect = "http://127.0.0.1:50123/callback"  # RFC 8252 §7.3: any port on a loopback redirect
    oauth = OAuth2Client(client_id=client_id, token_endpoint_auth_method="none", scope="openid profile services:read",
                         redirect_uri=redirect, code_challenge_method="S256", timeout=30)
    token, consent = sign_in(oauth, meta, user, redirect)
    # The consent page names the application with the host of its document, and says no one vetted it.
    assert "Authorise Desk Assistant at 127.0.0.1 to access your account" in consent
    assert "has not verified this application" in consent and 'id="document-host">127.0.0.1<' in consent
    assert userinfo(meta, token["access_token"]).status_code == 200
    assert "refresh_token" in token
    assert server.hits["/clients/desk.json"] == 1

    # Within the document's max-age a second authorization (the consent remembered) and a refresh fetch nothing.
    again = code_flow(oauth, meta, user, redirect)
    refreshed = httpx.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "client_id": client_id,
                                                         "refresh_token": again["refresh_token"]}, timeout=30)
    assert refreshed.status_code == 200, refreshed.text
    assert server.hits["/clients/desk.json"] == 1


def _expire(database_url: str, client_id: str) -> None:
    """Five minutes later, as far as the stored copy of the document knows."""
    engine = create_engine(Settings(database_url=database_url).sqlalchemy_url)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE oauth_credentials SET metadata_expires_at = :at WHERE identifier = :id")
                     .bindparams(bindparam("at", type_=DateTime(timezone=True))), {"at": past, "id": client_id})
    engine.dispose()


def test_a_document_past_its_max_age_is_fetched_again_and_its_changes_apply(
        hospes: Server, database_url: str, docs: tuple[DocumentServer, Path]) -> None:
    server, _ = docs
    client_id = server.document("/stale.json", headers={"Cache-Control": "no-store"})
    assert "Desk Assistant" in authorization_page(hospes, client_id).text
    assert server.hits["/stale.json"] == 1
    # Kept at least five minutes, however short the max-age: the next request fetches nothing.
    assert "Desk Assistant" in authorization_page(hospes, client_id).text
    assert server.hits["/stale.json"] == 1
    # Past that, the next authorization fetches it again, and what changed in it applies.
    server.document("/stale.json", name="Renamed Desk", redirect_uris=["https://desk.example.org/cb"])
    _expire(database_url, client_id)
    assert "Renamed Desk" in authorization_page(hospes, client_id, "https://desk.example.org/cb").text
    assert server.hits["/stale.json"] == 2
    assert_refused(authorization_page(hospes, client_id), "does not match")
    # A redirect URI the document does not list is refused (exact match; the loopback port aside).
    assert_refused(authorization_page(hospes, client_id, "https://elsewhere.example/cb"), "does not match")


def test_documents_that_cannot_be_trusted_are_refused_with_a_page(
        hospes: Server, docs: tuple[DocumentServer, Path]) -> None:
    server, _ = docs
    assert_refused(authorization_page(hospes, server.document("/other.json", client_id=server.url("/x.json"))),
                   "names another client_id than its own URL")
    assert_refused(authorization_page(hospes, server.document("/secret.json",
                                                              token_endpoint_auth_method="client_secret_basic")),
                   "a shared secret")
    pkjwt = server.document("/pkjwt.json", token_endpoint_auth_method="private_key_jwt")
    assert_refused(authorization_page(hospes, pkjwt), "private_key_jwt")
    assert_refused(authorization_page(hospes, server.document("/noredirect.json", redirect_uris=[])),
                   "redirect_uris is required")
    server.routes["/big.json"] = Route(json.dumps({"client_id": server.url("/big.json"),
                                                   "redirect_uris": [REDIRECT], "pad": "x" * 20000}).encode())
    assert_refused(authorization_page(hospes, server.url("/big.json")), "larger than 16384 bytes")
    server.routes["/moved.json"] = Route(b"", 302, {"Location": server.url("/moved.json", host="localhost")})
    assert_refused(authorization_page(hospes, server.url("/moved.json")), "redirect (HTTP 302)")
    assert_refused(authorization_page(hospes, server.url("/missing.json")), "answered HTTP 404")
    server.routes["/html.json"] = Route(b"<html>hello</html>")
    assert_refused(authorization_page(hospes, server.url("/html.json")), "not valid JSON")
    assert_refused(authorization_page(hospes, server.url("/plain.json").replace("https:", "http:")),
                   "must use https")
    assert_refused(authorization_page(hospes, f"https://127.0.0.1:{server.port}"), "must have a path")
    assert server.hits["/moved.json"] == 1 and server.hits["/x.json"] == 0  # the redirect was not followed
    # The slow one last: a document that takes longer than the time limit.
    server.routes["/slow.json"] = Route(b"{}", delay=8)
    started = time.monotonic()
    assert_refused(authorization_page(hospes, server.url("/slow.json")), "did not answer within 5 seconds")
    assert time.monotonic() - started < 8


def test_a_document_on_a_private_address_is_refused_without_the_setting(
        database_url: str, tmp_path: Path, docs: tuple[DocumentServer, Path]) -> None:
    server, ca = docs
    client_id = server.document("/desk.json")
    with _hospes(database_url, tmp_path, ca) as hospes:
        assert_refused(authorization_page(hospes, client_id), "resolves to a loopback address (127.0.0.1)")
        assert_refused(authorization_page(hospes, server.url("/desk.json", host="localhost")),
                       "a loopback address")
        assert_refused(authorization_page(hospes, "https://[::ffff:169.254.169.254]/latest/meta-data.json"),
                       "a link-local address")
        assert_refused(authorization_page(hospes, "https://10.20.30.40/client.json"), "a private address")
    assert server.hits["/desk.json"] == 0


def test_a_certificate_hospes_does_not_trust_is_refused(
        database_url: str, tmp_path: Path, docs: tuple[DocumentServer, Path]) -> None:
    server, _ = docs
    (tmp_path / "other").mkdir()
    other_ca, _, _ = make_certificates(tmp_path / "other")
    client_id = server.document("/desk.json")
    with _hospes(database_url, tmp_path, other_ca, HOSPES_FETCH_ALLOW_PRIVATE="true") as hospes:
        assert_refused(authorization_page(hospes, client_id), "is not trusted")


def test_the_token_endpoint_never_fetches(hospes: Server, docs: tuple[DocumentServer, Path]) -> None:
    """A code is redeemed by the client it was issued to even when its document has gone meanwhile."""
    server, _ = docs
    meta = discover(hospes)
    client_id = server.document("/gone.json")
    user = add_user(hospes)
    oauth = OAuth2Client(client_id=client_id, token_endpoint_auth_method="none", scope="openid",
                         redirect_uri=REDIRECT, code_challenge_method="S256", timeout=30)
    verifier = secrets.token_urlsafe(48)
    url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    with httpx.Client(timeout=30) as browser:
        r = authorize(browser, url, user.email, user.password)
    assert r.status_code in (302, 303), r.text[:2000]
    server.routes["/gone.json"] = Route(b"gone", 410)
    tok = httpx.post(meta["token_endpoint"], data={
        "grant_type": "authorization_code", "client_id": client_id, "code": query_of(r.headers["location"])["code"],
        "redirect_uri": REDIRECT, "code_verifier": verifier}, timeout=30)
    assert tok.status_code == 200, tok.text
    assert server.hits["/gone.json"] == 1
    # The authorization endpoint answers from its copy, fresh for an hour when no max-age was given.
    assert "Desk Assistant" in authorization_page(hospes, client_id).text
    assert server.hits["/gone.json"] == 1


def test_one_address_may_make_hospes_fetch_only_so_many_documents_an_hour(
        hospes: Server, docs: tuple[DocumentServer, Path]) -> None:
    """Whoever sends an authorization request chooses the URL: an address gets 30 fetches an hour, and a client
    whose copy is fresh needs none."""
    server, _ = docs
    known = server.document("/known.json")
    assert "Desk Assistant" in authorization_page(hospes, known).text
    for n in range(29):
        assert_refused(authorization_page(hospes, server.url(f"/made-up-{n}.json")), "answered HTTP 404")
    assert_refused(authorization_page(hospes, server.document("/one-more.json")),
                   "Too many applications were introduced from this address")
    assert server.hits["/one-more.json"] == 0
    assert "Desk Assistant" in authorization_page(hospes, known).text
    assert server.hits["/known.json"] == 1
