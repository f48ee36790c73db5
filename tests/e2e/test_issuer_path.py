"""An issuer with a path (http://host/tenant): a relying party finds the metadata where the specifications put
it, and runs the code flow with what it found (the real server process, Authlib's client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Server, start_server, stop_server
from tests.e2e import add_credential, add_user, code_flow, rp, verify_id_token

PATH = "/tenant"


@pytest.fixture
def server(database_url: str, tmp_path: Path, server_env: dict[str, str]) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path, server_env, issuer_path=PATH)
    yield srv
    stop_server(srv)


def root(server: Server) -> str:
    parts = urlsplit(server.url)
    return f"{parts.scheme}://{parts.netloc}"


def metadata(url: str) -> dict[str, Any]:
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json")
    return dict(r.json())


def test_the_metadata_is_at_every_address_the_specifications_name(server):
    issuer = server.url
    assert urlsplit(issuer).path == PATH
    addresses = [
        # RFC 8414 §3.1: the well-known suffix inserted between the host and the issuer's path.
        root(server) + "/.well-known/oauth-authorization-server" + PATH,
        # OpenID Connect Discovery §4.1: the suffix appended to the issuer.
        issuer + "/.well-known/openid-configuration",
        # RFC 8414 §5: the same insertion for the OpenID suffix, which some clients try first.
        root(server) + "/.well-known/openid-configuration" + PATH,
        # WHMCS's own address, below the issuer like every endpoint.
        issuer + "/oauth/openid-configuration.php",
    ]
    documents = [metadata(url) for url in addresses]
    # RFC 8414 §3.3 and OIDC Discovery §4.3: the issuer in the document is the one the client started from.
    assert all(doc == documents[0] for doc in documents)
    assert documents[0]["issuer"] == issuer
    assert documents[0]["token_endpoint"] == issuer + "/oauth/token.php"
    # The root's own well-known addresses are another issuer's (none here), not this one's.
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
                 "/.well-known/oauth-authorization-server/other"):
        assert httpx.get(root(server) + path, timeout=10).status_code == 404, path


def test_a_relying_party_runs_the_code_flow_with_the_rfc_8414_metadata(server):
    meta = metadata(root(server) + "/.well-known/oauth-authorization-server" + PATH)
    user, cred = add_user(server), add_credential(server)
    flow = code_flow(rp(cred), meta, user)
    verify_id_token(flow.token["id_token"], meta, cred.client_id, nonce=flow.nonce,
                    access_token=flow.token["access_token"])
    userinfo = httpx.get(meta["userinfo_endpoint"], timeout=10,
                         headers={"Authorization": "Bearer " + flow.token["access_token"]})
    assert userinfo.status_code == 200 and userinfo.json()["email"] == user.email
