"""Application links end to end: enabling the webhook application delivers working SSO credentials
to a real HTTP server started by the test; disabling removes them."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from hospes.accounts.service import add_server
from hospes.sso import applinks
from hospes.sso.modules import webhook
from hospes.store.models import AuditEvent, OAuthCredential

SECRET = "webhook-signing-secret"


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers["X-Hospes-Timestamp"]
                expected = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                receiver.calls.append({"body": json.loads(body), "signature_ok": hmac.compare_digest(
                    expected, self.headers["X-Hospes-Signature"])})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _setup(db, make_account, make_service, url: str):
    acct = make_account()
    with db.transaction() as s:
        server_id = add_server(s, name="web1", module="webhook", hostname="web1.example.com",
                               config={"url": url, "secret": SECRET})
    service_id = make_service(acct.client_id, domain="example.org", username="exampleo", server_id=server_id)
    return acct, service_id


def test_enabled_application_delivers_working_credentials(client, db, settings, make_account, make_service, receiver):
    acct, service_id = _setup(db, make_account, make_service, receiver.url)
    with db.transaction() as s:
        app = applinks.get_or_create(s, "webhook")
        result = applinks.sync(s, settings, app, actor="test")
    assert result.status == "ACTIVE", result.errors
    assert len(receiver.calls) == 1 and receiver.calls[0]["signature_ok"]
    body = receiver.calls[0]["body"]
    assert body["event"] == "application_link.create"
    assert body["token_endpoint"] == "http://127.0.0.1:8000/oauth/token.php"
    (cred,) = body["credentials"]
    assert cred["service_id"] == service_id and cred["username"] == "exampleo"
    labels = {link["scope"]: link["label"] for link in body["links"]}
    assert labels["clientarea:submit_ticket"] == "Open Ticket"

    # The remote panel uses them as cPanel does: its field names, scope in the query.
    r = client.post("/oauth/token.php?scope=clientarea:sso%20clientarea:tickets",
                    data={"subscriber_unique_id": cred["client_identifier"], "token": cred["client_secret"],
                          "user": "exampleo", "app": "Tickets"})
    assert r.status_code == 200, r.text
    landing = client.get(r.json()["redirect_url"])
    assert landing.status_code == 303
    assert landing.headers["location"] == "http://127.0.0.1:8000/supporttickets.php"
    assert "hospes_session" in landing.cookies or "hospes_session" in landing.headers.get("set-cookie", "")

    # Disabling tells the server and deletes the credentials: the old secret stops working.
    with db.transaction() as s:
        app = applinks.get_or_create(s, "webhook")
        assert applinks.disable(s, settings, app, actor="test").status == "DISABLED"
    assert receiver.calls[-1]["body"]["event"] == "application_link.delete"
    r = client.post("/oauth/token.php", data={
        "grant_type": "single_sign_on", "client_id": cred["client_identifier"],
        "client_secret": cred["client_secret"], "scope": "clientarea:sso"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    with db.transaction() as s:
        assert s.query(OAuthCredential).filter(OAuthCredential.applink_id.is_not(None)).count() == 0
        actions = [e.action for e in s.query(AuditEvent).all()]
    assert "applink.synced" in actions and "applink.disabled" in actions


def test_a_server_that_refuses_marks_the_application_in_error(db, settings, make_account, make_service):
    r = Receiver(status=500)
    try:
        _setup(db, make_account, make_service, r.url)
        with db.transaction() as s:
            app = applinks.get_or_create(s, "webhook")
            result = applinks.sync(s, settings, app, actor="test")
            log = [entry.message for entry in applinks.sync_log(s, app)]
    finally:
        r.close()
    assert result.status == "ERROR"
    assert any("HTTP 500" in m for m in log)


@pytest.mark.parametrize("url", ["http://panel.example.com/hook", "http://10.0.0.5/hook", "ftp://panel.example.com/",
                                 "https:///nohost"])
def test_single_sign_on_secrets_are_pushed_over_https_only(db, settings, make_account, make_service, url):
    """The webhook carries single_sign_on client secrets: plain http to another machine would hand them to
    anyone on the path. Such a server is refused when it is configured, and again when it is pushed to."""
    r = subprocess.run([sys.executable, "-m", "hospes.cli", "servers", "add", "--name", "web9", "--module", "webhook",
                        "--config", f"url={url}", "--config", "secret=s3cret"],
                       env={**os.environ, "HOSPES_DATABASE_URL": settings.database_url,
                            "HOSPES_VAR_DIR": settings.var_dir},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "https" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # Saved another way (before this rule, or straight into the database): nothing is sent.
    _setup(db, make_account, make_service, url)
    with db.transaction() as s:
        app = applinks.get_or_create(s, "webhook")
        result = applinks.sync(s, settings, app, actor="test")
        log = [entry.message for entry in applinks.sync_log(s, app)]
    assert result.status == "ERROR" and any("https" in m for m in log), log


def test_plain_http_is_allowed_to_this_machine(receiver):
    assert receiver.url.startswith("http://127.0.0.1:")
    assert webhook.url_problem(receiver.url) is None
    assert webhook.url_problem("http://localhost:8080/hook") is None
    assert webhook.url_problem("http://[::1]:8080/hook") is None
