"""panva's oauth4webapi (tests/js, a certified OAuth 2 client library) using DPoP (RFC 9449) against the real
server, as a public client: the code flow with PKCE and dpop_jkt, DPoP-bound tokens, userinfo with proofs, refresh
bound to the key; with the server requiring nonces (HOSPES_DPOP_NONCE=always), so the library's nonce retry runs
at the token endpoint and at userinfo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browserless import authorize
from tests.conftest import once_per_suite
from tests.e2e import REDIRECT_URI, add_credential, add_user

JS = Path(__file__).resolve().parents[1] / "js"
MODULES = Path(os.environ.get("HOSPES_TEST_NODE_MODULES") or JS / "node_modules")
SCOPE = "openid email offline_access"


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"HOSPES_DPOP_NONCE": "always"}


@once_per_suite
def test_oauth4webapi_gets_dpop_bound_tokens_and_uses_them(server: Any) -> None:
    if not shutil.which("node") or not (MODULES / "oauth4webapi").is_dir():
        pytest.skip("needs node and oauth4webapi (make test installs tests/js)")
    jane = add_user(server, "Jane")
    cred = add_credential(server, "--public", "--refresh-tokens", "always", scope=SCOPE)
    env = {**os.environ, "HOSPES_ISSUER": server.url, "CLIENT_ID": cred.client_id, "REDIRECT_URI": REDIRECT_URI,
           "SCOPE": SCOPE, "NODE_PATH": str(MODULES)}
    proc = subprocess.Popen(["node", str(JS / "oauth4webapi_dpop_rp.mjs")], cwd=JS, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith(server.url + "/oauth/authorize.php?"), url + (proc.stderr.read() if proc.stderr else "")
        assert "dpop_jkt=" in url
        with httpx.Client(follow_redirects=False, timeout=30) as http:
            back = authorize(http, url, jane.email, jane.password)
        assert back.status_code in (302, 303)
        out, err = proc.communicate(back.headers["location"] + "\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    steps = {line["step"]: line for line in map(json.loads, out.splitlines())}
    code = steps["code"]
    assert code["token_type"].lower() == "dpop" and code["refresh"] is True
    assert steps["userinfo"] == {"step": "userinfo", "sub": code["sub"], "email": jane.email}
    assert steps["bearer"]["status"] == 401
    assert steps["refresh"]["token_type"].lower() == "dpop" and steps["refresh"]["rotated"] is True
    assert steps["stolen"]["result"] == "invalid_grant"
    assert steps["userinfo2"]["sub"] == code["sub"]
    # The token request and the first userinfo call each met the server's nonce requirement once.
    assert steps["userinfo2"]["nonceRetries"] >= 2
