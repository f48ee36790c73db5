"""Machine clients against the real server, with real client libraries: client_credentials (RFC 6749 §4.4) for
an operator's resource server, authenticated with a JWT (RFC 7523): Authlib's PrivateKeyJWT and ClientSecretJWT
(httpx), and panva's openid-client (tests/js/machine_client.mjs) with private_key_jwt whose keys Hospes fetches
from the client's jwks_uri, and with client_secret_jwt. The example resource server accepts the token; the
customer API refuses it; a replayed assertion is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey

from tests.conftest import Server, once_per_suite
from tests.e2e import JS, MODULES, cli_json, discover
from tests.e2e.test_client_metadata_documents import DocumentServer, Route, _hospes
from tests.examples import example_resource_server
from tests.tls import make_certificates

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def machine(server: Any, tmp_path: Path, scope: str, *extra: str) -> dict[str, Any]:
    return cli_json(server, "oauth-credentials", "create", "--grant-type", "client_credentials", "--scope", scope,
                    *extra)


def private_key(tmp_path: Path, kid: str = "k1") -> tuple[ECKey, Path]:
    """A client's key pair: the private key, and its public JWK Set written to a file (for --jwks)."""
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"})
    path = tmp_path / f"{kid}.jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return key, path


@once_per_suite
def test_authlib_private_key_jwt_gets_a_token_the_resource_server_accepts(server: Server, tmp_path: Path) -> None:
    meta = discover(server)
    assert "client_credentials" in meta["grant_types_supported"]
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    with example_resource_server(server.url, tmp_path / "rs.log", "--route", "/api/notes=notes:read") as rs:
        resource = rs + "/api"
        cli_json(server, "resources", "add", "--identifier", resource, "--name", "Notes", "--scope",
                 "notes:read=Read notes", "--token-format", "jwt")
        key, jwks = private_key(tmp_path)
        made = machine(server, tmp_path, "notes:read", "--token-endpoint-auth-method", "private_key_jwt",
                       "--jwks", str(jwks))
        assert made["clientSecret"] == ""
        client_id = made["clientIdentifier"]
        endpoint = meta["token_endpoint"]
        oauth = OAuth2Client(client_id=client_id, client_secret=key, token_endpoint_auth_method="private_key_jwt",
                             timeout=10)
        oauth.register_client_auth_method(PrivateKeyJWT(endpoint, alg="ES256"))
        token = oauth.fetch_token(endpoint, grant_type="client_credentials", resource=resource, scope="notes:read")
        assert token["token_type"] == "Bearer" and "refresh_token" not in token and "id_token" not in token
        # The operator's resource server verifies it offline: its subject is the client.
        r = httpx.get(rs + "/api/notes", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["sub"] == client_id == r.json()["client_id"] and r.json()["acr"] is None
        # The customer API acts for a person: RFC 6750 §3.1 invalid_token.
        r = httpx.get(server.url + "/api/v1/services", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        # Authlib introspects with the same method (its assertion's aud: the token endpoint, accepted there too).
        seen = oauth.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
        assert seen["active"] is True and seen["sub"] == client_id and seen["aud"] == resource

        # RFC 7523 §3: an assertion is used once.
        assertion = private_key_jwt_sign(key, client_id, endpoint, alg="ES256")
        form = {"grant_type": "client_credentials", "resource": resource, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion}
        assert httpx.post(endpoint, data=form, timeout=10).status_code == 200
        again = httpx.post(endpoint, data=form, timeout=10)
        assert again.status_code == 401 and again.json()["error"] == "invalid_client"
        # Nor may this client fall back to a secret, or send a bad scope.
        r = httpx.post(endpoint, data={"grant_type": "client_credentials"}, auth=(client_id, "guess"), timeout=10)
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        r = httpx.post(endpoint, data={**form, "client_assertion": private_key_jwt_sign(
            key, client_id, endpoint, alg="ES256"), "scope": "services:read"}, timeout=10)
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


@once_per_suite
def test_authlib_client_secret_jwt(server: Server, tmp_path: Path) -> None:
    meta = discover(server)
    resource = "https://billing.example.com/api"
    cli_json(server, "resources", "add", "--identifier", resource, "--name", "Billing", "--scope",
             "billing:read=Read invoices")
    made = machine(server, tmp_path, "billing:read", "--token-endpoint-auth-method", "client_secret_jwt")
    endpoint = meta["token_endpoint"]
    for alg in ("HS256", "HS512"):
        oauth = OAuth2Client(client_id=made["clientIdentifier"], client_secret=made["clientSecret"],
                             token_endpoint_auth_method="client_secret_jwt", timeout=10)
        oauth.register_client_auth_method(ClientSecretJWT(endpoint, alg=alg))
        token = oauth.fetch_token(endpoint, grant_type="client_credentials", resource=resource)
        assert token["scope"] == "billing:read"
        seen = oauth.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
        assert seen["active"] is True and seen["client_id"] == made["clientIdentifier"]
    # Its secret is no longer good on its own (client_secret_basic).
    r = httpx.post(endpoint, data={"grant_type": "client_credentials", "resource": resource},
                   auth=(made["clientIdentifier"], made["clientSecret"]), timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[DocumentServer, Path]]:
    ca, cert, key = make_certificates(tmp_path / "tls")
    docs = DocumentServer(cert, key)
    try:
        yield docs, ca
    finally:
        docs.close()


def run_node(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(["node", str(JS / "machine_client.mjs")], cwd=JS, env={**os.environ, **env,
                          "NODE_PATH": str(MODULES)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {line["step"]: line for line in map(json.loads, proc.stdout.splitlines())}


@once_per_suite
def test_openid_client_with_keys_at_a_jwks_uri_and_with_client_secret_jwt(
        database_url: str, tmp_path: Path, keyed: tuple[DocumentServer, Path]) -> None:
    if not shutil.which("node") or not (MODULES / "openid-client").is_dir():
        pytest.skip("needs node and openid-client (make test installs tests/js)")
    docs, ca = keyed
    key = ECKey.generate_key("P-256", parameters={"kid": "node-1", "use": "sig"})
    docs.routes["/jwks.json"] = Route(json.dumps({"keys": [key.as_dict(private=False)]}).encode(),
                                      headers={"Cache-Control": "max-age=600"})
    with _hospes(database_url, tmp_path, ca, HOSPES_FETCH_ALLOW_PRIVATE="true") as hospes:
        resource = "https://billing.example.com/api"
        cli_json(hospes, "resources", "add", "--identifier", resource, "--name", "Billing", "--scope",
                 "billing:read=Read invoices")
        made = machine(hospes, tmp_path, "billing:read", "--token-endpoint-auth-method", "private_key_jwt",
                       "--jwks-uri", docs.url("/jwks.json"))
        steps = run_node({"HOSPES_ISSUER": hospes.url, "CLIENT_ID": made["clientIdentifier"], "RESOURCE": resource,
                          "SCOPE": "billing:read", "PRIVATE_JWK": json.dumps(key.as_dict(private=True))})
        assert steps["token"]["scope"] == "billing:read" and steps["token"]["token_type"].lower() == "bearer"
        assert steps["token"]["refresh"] is False and steps["token"]["id_token"] is False
        live = steps["introspect"]
        assert live["active"] is True and live["sub"] == made["clientIdentifier"] and live["aud"] == resource
        assert steps["revoked"]["active"] is False
        # Three requests, each with its own assertion; the keys were fetched once (kept for their max-age).
        assert docs.hits["/jwks.json"] == 1

        secret = machine(hospes, tmp_path, "billing:read", "--token-endpoint-auth-method", "client_secret_jwt")
        steps = run_node({"HOSPES_ISSUER": hospes.url, "CLIENT_ID": secret["clientIdentifier"],
                          "CLIENT_SECRET": secret["clientSecret"], "RESOURCE": resource, "SCOPE": "billing:read"})
        assert steps["introspect"]["active"] is True and steps["revoked"]["active"] is False
