"""With HOSPES_ACCESS_LOG=true, the real server's log names every request but never a secret that travels in
a URL: a password reset link's token (in the path), an email verification token or an SSO token (in the
query)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
import pytest

from tests import mailbox
from tests.e2e import add_user

NEW_PASSWORD = "a much better passphrase"


@pytest.fixture
def server_env(smtp: tuple[Any, int]) -> dict[str, str]:
    return {"HOSPES_ACCESS_LOG": "true", "HOSPES_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}"}


def _csrf(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_a_password_reset_leaves_no_token_in_the_access_log(server, smtp):
    user = add_user(server)
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        page = browser.get("/password/reset").text
        r = browser.post("/password/reset", data={"token": _csrf(page), "email": user.email})
        assert r.status_code == 200
        body = mailbox.text(smtp[0].wait(1)[0])
        found = re.search(re.escape(server.url) + r"/password/reset/([A-Za-z0-9_-]+)", body)
        assert found, body
        token = found.group(1)
        page = browser.get(found.group(0)).text
        r = browser.post(found.group(0), data={"token": _csrf(page), "new_password": NEW_PASSWORD,
                                                "new_password_confirm": NEW_PASSWORD})
        assert r.status_code == 200 and "Your password has been changed" in r.text
        # Secrets in query strings: a verification link's, an SSO token's.
        query_secret = secrets.token_urlsafe(24)
        browser.get(f"/email/verify?token={query_secret}")
        browser.get(f"/oauth/singlesignon.php?access_token={query_secret}")
    server.process.terminate()
    server.process.wait(30)
    log = server.log.read_text()
    assert '"POST /password/reset/<secret>" 200' in log
    assert '"GET /email/verify"' in log and '"GET /oauth/singlesignon.php"' in log
    assert token not in log
    assert query_secret not in log
