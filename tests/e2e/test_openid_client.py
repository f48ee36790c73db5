"""panva's openid-client (tests/js, a certified OpenID Connect relying-party library) against the real server:
discovery, the code flow with PKCE, state and nonce, its own ID token checks, userinfo, refresh rotation,
introspection and revocation, each as that library performs and checks them."""

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


@once_per_suite
def test_openid_client_logs_in_refreshes_introspects_and_revokes(server: Any) -> None:
    if not shutil.which("node") or not (MODULES / "openid-client").is_dir():
        pytest.skip("needs node and openid-client (make test installs tests/js)")
    jane = add_user(server, "Jane")
    cred = add_credential(server, "--refresh-tokens", "always", scope=SCOPE)
    env = {**os.environ, "HOSPES_ISSUER": server.url, "CLIENT_ID": cred.client_id,
           "CLIENT_SECRET": cred.client_secret, "REDIRECT_URI": REDIRECT_URI, "SCOPE": SCOPE,
           "NODE_PATH": str(MODULES)}
    # An .mjs resolves packages from its own folder's node_modules: run the script where they are.
    proc = subprocess.Popen(["node", str(JS / "openid_client_rp.mjs")], cwd=JS, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith(server.url + "/oauth/authorize.php?"), url + (proc.stderr.read() if proc.stderr else "")
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
    assert code["iss"] == server.url and code["aud"] == cred.client_id and code["refresh"] is True
    assert set(code["scope"].split()) == set(SCOPE.split())
    assert steps["userinfo"] == {"step": "userinfo", "sub": code["sub"], "email": jane.email}
    assert steps["refresh"]["rotated"] is True and steps["refresh"]["sub"] == code["sub"]
    live = steps["introspect"]
    assert live["active"] is True and live["client_id"] == cred.client_id and live["sub"] == code["sub"]
    assert steps["revoked"] == {"step": "revoked", "active": False}
