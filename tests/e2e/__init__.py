"""End-to-end tests: the real ``hospes serve`` process over HTTP, driven by a real relying-party library.

The helpers below are what a relying party does: set itself up through the CLI, read discovery, send a
person through login and consent, exchange the code, and check the ID token against the published JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.browserless import authorize, query_of

REDIRECT_URI = "http://127.0.0.1:9/cb"
SCOPE = "openid profile email offline_access"
PASSWORD = "correct horse battery staple"
# The JavaScript relying-party libraries (tests/js: make test installs them), or another node_modules.
JS = Path(__file__).resolve().parents[1] / "js"
MODULES = Path(os.environ.get("HOSPES_TEST_NODE_MODULES") or JS / "node_modules")


def need_node(*packages: str) -> None:
    """Skip unless node and these packages of tests/js are here."""
    if not shutil.which("node") or not all((MODULES / p).is_dir() for p in packages):
        pytest.skip(f"needs node and {', '.join(packages)} (make test installs tests/js)")


def node_rp(script: str, server: Any, email: str, password: str,
            env: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    """Run a relying-party script of tests/js with ``env``: it prints its authorization URL; the person logs in
    and consents (tests/browserless.py); it reads where they were sent back on its input and prints JSON lines.
    Its lines and the authorization URL."""
    # An .mjs resolves packages from its own folder's node_modules: run the script where they are.
    proc = subprocess.Popen(["node", str(JS / script)], cwd=JS, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOSPES_ISSUER": server.url, "NODE_PATH": str(MODULES), **env})
    assert proc.stdin is not None and proc.stdout is not None
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith(server.url + "/oauth/authorize.php?"), url + (proc.stderr.read() if proc.stderr else "")
        with httpx.Client(follow_redirects=False, timeout=30) as http:
            back = authorize(http, url, email, password)
        assert back.status_code in (302, 303), back.text[:2000]
        out, err = proc.communicate(back.headers["location"] + "\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()], url


def cli_json(server: Any, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """Run a ``hospes`` command against the server's database and parse its ``--json`` output."""
    r = server.cli(*args, "--json", stdin=stdin)
    assert r.returncode == 0, f"hospes {' '.join(args)} failed: {r.stderr}"
    data = json.loads(r.stdout)
    assert isinstance(data, dict)
    return data


@dataclass
class User:
    email: str
    password: str
    client_id: int
    user_id: int


@dataclass
class Credential:
    credential_id: int
    client_id: str
    client_secret: str


def add_user(server: Any, first_name: str = "Jane", last_name: str = "Doe") -> User:
    email = f"{first_name.lower()}-{secrets.token_hex(4)}@example.com"
    made = cli_json(server, "clients", "add", "--email", email, "--first-name", first_name,
                    "--last-name", last_name, "--password-stdin", stdin=PASSWORD + "\n")
    return User(email, PASSWORD, int(made["clientId"]), int(made["userId"]))


def add_credential(server: Any, *extra: str, name: str = "Test RP", scope: str = SCOPE) -> Credential:
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code",
                    "--scope", scope, "--name", name, "--redirect-uri", REDIRECT_URI, *extra)
    return Credential(int(made["credentialId"]), made["clientIdentifier"], made["clientSecret"])


def discover(server: Any) -> dict[str, Any]:
    r = httpx.get(server.url + "/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def rp(cred: Credential, auth_method: str = "client_secret_basic", **kw: Any) -> OAuth2Client:
    return OAuth2Client(client_id=cred.client_id, client_secret=cred.client_secret or None,
                        token_endpoint_auth_method=auth_method, scope=SCOPE, redirect_uri=REDIRECT_URI,
                        code_challenge_method="S256", timeout=10, **kw)


@dataclass
class FlowResult:
    token: dict[str, Any]
    nonce: str
    code: str
    location: str


def authorization_redirect(oauth: OAuth2Client, meta: dict[str, Any], user: User, *, verifier: str | None,
                           nonce: str, state: str | None = None) -> tuple[str, str]:
    """Build the authorization URL with Authlib, log in and consent as the person; return (location, state)."""
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], state=state,
                                                code_verifier=verifier, nonce=nonce)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        r = authorize(browser, url, user.email, user.password)
    assert r.status_code in (302, 303), f"the flow stopped at {r.status_code}:\n{r.text[:2000]}"
    return r.headers["location"], state


def code_flow(oauth: OAuth2Client, meta: dict[str, Any], user: User) -> FlowResult:
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    location, state = authorization_redirect(oauth, meta, user, verifier=verifier, nonce=nonce)
    assert location.startswith(REDIRECT_URI + "?"), location
    q = query_of(location)
    assert "error" not in q, q
    assert q["state"] == state
    # RFC 9207: the issuer identifies who answered (mix-up defence).
    assert q["iss"] == meta["issuer"]
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=location, state=state,
                              code_verifier=verifier)
    assert token["token_type"].lower() == "bearer"
    return FlowResult(dict(token), nonce, q["code"], location)


def at_hash(access_token: str) -> str:
    """OpenID Connect Core §3.1.3.6: base64url of the left half of SHA-256 (RS256 and ES256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def jwks(meta: dict[str, Any]) -> dict[str, Any]:
    r = httpx.get(meta["jwks_uri"], timeout=10)
    assert r.status_code == 200, r.text
    data = dict(r.json())
    for key in data["keys"]:
        # Only public halves are published.
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), key["kid"]
        assert key.get("use", "sig") == "sig" and key["kid"]
    return data


def verify_id_token(id_token: str, meta: dict[str, Any], client_id: str, *, nonce: str | None,
                    access_token: str | None, alg: str = "RS256",
                    key_set: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the signature against the JWKS and the claims as OpenID Connect Core §3.1.3.7 says an RP must.
    Returns (header, claims)."""
    published = key_set if key_set is not None else jwks(meta)
    decoded = jwt.decode(id_token, KeySet.import_key_set(cast(Any, published)), algorithms=[alg])
    header, claims = dict(decoded.header), dict(decoded.claims)
    assert header["alg"] == alg
    assert header["kid"] in {k["kid"] for k in published["keys"]}
    now = time.time()
    assert claims["iss"] == meta["issuer"]
    assert claims["aud"] in (client_id, [client_id])
    assert claims["azp"] == client_id
    assert isinstance(claims["sub"], str) and claims["sub"]
    assert now - 120 <= claims["iat"] <= now + 5
    assert claims["exp"] > now and claims["exp"] > claims["iat"]
    assert now - 300 <= claims["auth_time"] <= claims["iat"] + 1
    if nonce is not None:
        assert claims["nonce"] == nonce
    if access_token is not None:
        assert claims["at_hash"] == at_hash(access_token)
    return header, claims
