"""Browser tests: Playwright for Python driving Debian's headless Chromium (/usr/bin/chromium) against the real
``hospes serve`` process (the ``server`` fixture), with a small relying party served by the test.

One browser per test session (per xdist worker); a new browser context (fresh cookies) for every test.
Playwright's own browser download does not work on these machines, so it is pointed at the system Chromium;
without it (a developer's machine without the ``chromium`` package) the tests skip and say why. CI installs it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pyotp
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import PASSWORD, Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these Chromium reaches out to Google's services, and this closed network refuses its connections.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SCOPE = "openid profile email"
APP_NAME = "Acme Monitoring"
# Generous: on a loaded CI machine a login (argon2) or a server start can take seconds.
TIMEOUT_MS = 30_000
expect.set_options(timeout=20_000)


# -- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 850}, locale="en-GB")
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_call_failed = report.failed


@pytest.fixture
def page(context: Any, request: Any) -> Iterator[Any]:
    p = context.new_page()
    yield p
    if getattr(request.node, "browser_call_failed", False):
        # Where the browser was when the test failed: test-artifacts/screenshots/FAILED-<test>.png.
        with contextlib.suppress(Exception):  # a broken page must not hide the test's own failure
            screenshot(p, "FAILED-" + request.node.name)


def screenshot(page: Any, name: str) -> Path:
    """Keep what the page looks like now as a test artefact: test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- the relying party -----------------------------------------------------------------------------


@dataclass
class RelyingParty:
    """A tiny web application on a free port: /cb records each query it receives and shows a page."""

    url: str
    callbacks: list[dict[str, str]] = field(default_factory=list)

    @property
    def redirect_uri(self) -> str:
        return self.url + "/cb"

    def last(self) -> dict[str, str]:
        assert self.callbacks, "the relying party received no callback"
        return self.callbacks[-1]


@contextlib.contextmanager
def html_server(page: Callable[[str], bytes | None]) -> Iterator[int]:
    """A tiny web server on a free port of 127.0.0.1: a GET answers ``page(path)`` (the path with its query)
    as an HTML page, or 404 when that is None. Yields the port."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = page(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


RP_PAGE = (b"<!doctype html><html lang='en'><head><title>Relying party</title></head>"
           b"<body><main><h1>Back at the application</h1></main></body></html>")


@pytest.fixture
def rp() -> Iterator[RelyingParty]:
    callbacks: list[dict[str, str]] = []

    def page(target: str) -> bytes | None:
        parts = urlsplit(target)
        if parts.path != "/cb":
            return None
        callbacks.append({k: v[0] for k, v in parse_qs(parts.query).items()})
        return RP_PAGE

    with html_server(page) as port:
        yield RelyingParty(f"http://127.0.0.1:{port}", callbacks)


# -- accounts and credentials through the CLI ------------------------------------------------------


@dataclass
class Customer:
    email: str
    password: str
    user_id: int


@dataclass
class Credential:
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str


def cli_json(server: Server, *args: str, stdin: str | None = None) -> dict[str, Any]:
    r = server.cli(*args, "--json", stdin=stdin)
    assert r.returncode == 0, f"hospes {' '.join(args)} failed: {r.stderr}"
    data = json.loads(r.stdout)
    assert isinstance(data, dict)
    return data


@pytest.fixture
def customer(server: Server, make_account: Any) -> Customer:
    """A customer in the server's database (made in-process: a CLI call costs seconds; the CLI's own tests
    cover ``hospes clients add``). The server is started first, so its migrations have run."""
    made = make_account(email=f"jane-{secrets.token_hex(4)}@example.com", password=PASSWORD)
    return Customer(made.email, made.password, made.user_id)


@pytest.fixture
def credential(server: Server, rp: RelyingParty) -> Credential:
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                    SCOPE + " offline_access", "--name", APP_NAME, "--redirect-uri", rp.redirect_uri)
    return Credential(made["clientIdentifier"], made["clientSecret"], rp.redirect_uri, APP_NAME)


# -- the code flow, as the relying party runs it ---------------------------------------------------


@dataclass
class Flow:
    url: str
    state: str
    nonce: str
    verifier: str


def authorization_url(server: Server, cred: Credential, scope: str = SCOPE, **extra: str) -> Flow:
    """An authorization request with PKCE (S256), state and nonce."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
             "scope": scope, "state": state, "nonce": nonce, "code_challenge": challenge,
             "code_challenge_method": "S256", **extra}
    return Flow(f"{server.url}/oauth/authorize.php?{urlencode(query)}", state, nonce, verifier)


def exchange(server: Server, cred: Credential, flow: Flow, code: str) -> dict[str, Any]:
    """The relying party's back-channel call: the code (and the PKCE verifier) for tokens."""
    r = httpx.post(f"{server.url}/oauth/token.php", auth=(cred.client_id, cred.client_secret), timeout=10,
                   data={"grant_type": "authorization_code", "code": code, "redirect_uri": cred.redirect_uri,
                         "code_verifier": flow.verifier})
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert isinstance(tokens, dict)
    return tokens


def claims(jwt: str) -> dict[str, Any]:
    """A JWT's payload (the signature is checked elsewhere in the suite; here we read what it says)."""
    payload = jwt.split(".")[1]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(data, dict)
    return data


def userinfo(server: Server, access_token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/oauth/userinfo.php", headers={"Authorization": f"Bearer {access_token}"},
                     timeout=10)


# -- what a person does in the browser -------------------------------------------------------------


def log_in(page: Any, email: str, password: str) -> None:
    """Fill the login form by its labels and press "Log in"."""
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def at_callback(page: Any, rp: RelyingParty) -> dict[str, str]:
    """Wait for the browser to land on the relying party's callback; what the relying party received."""
    page.wait_for_url(lambda url: url.startswith(rp.redirect_uri + "?"))
    query = rp.last()
    assert {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()} == query
    return query


def totp_code_for_next_step(secret: str) -> str:
    """A code a real authenticator app would show in the next 30 seconds. The server takes codes of the step
    before and after its own (clock drift) but each step only once, and enrolment used the current one: a
    login straight after enrolment with the same code would be a replay, so use the next step's code."""
    return str(pyotp.TOTP(secret).at(time.time() + pyotp.TOTP(secret).interval))


def account_settings(page: Any) -> Any:
    """The client area's "Account settings" navigation."""
    return page.get_by_role("navigation", name="Account settings")


def log_out_of_client_area(page: Any) -> None:
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have logged out")


# -- axe-core --------------------------------------------------------------------------------------

# axe-core (MPL-2.0, Deque Systems), pinned in tests/js/package.json (npm ci: `make test`).
AXE_JS = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"


def axe_serious(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page; the violations of impact "serious" or "critical". The script is evaluated
    through the DevTools protocol, which the pages' Content-Security-Policy (script-src 'none') does not stop."""
    if not AXE_JS.exists():
        pytest.skip(f"axe-core is not installed at {AXE_JS} (npm ci --prefix tests/js)")
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['impact']}: {v['id']}: {v['help']} ({v['helpUrl']})")
        lines += [f"    {', '.join(map(str, n['target']))}: {n.get('failureSummary', '')}" for n in v["nodes"]]
    return "\n".join(lines)
