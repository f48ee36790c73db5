"""panva's oauth4webapi (tests/js, a certified OAuth 2 client library) using DPoP (RFC 9449) against the real
server, as a public client: the code flow with PKCE and dpop_jkt, DPoP-bound tokens, userinfo with proofs, refresh
bound to the key; with the server requiring nonces (HOSPES_DPOP_NONCE=always), so the library's nonce retry runs
at the token endpoint and at userinfo."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import once_per_suite
from tests.e2e import REDIRECT_URI, add_credential, add_user, need_node, node_rp

SCOPE = "openid email offline_access"


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"HOSPES_DPOP_NONCE": "always"}


@once_per_suite
def test_oauth4webapi_gets_dpop_bound_tokens_and_uses_them(server: Any) -> None:
    need_node("oauth4webapi")
    jane = add_user(server, "Jane")
    cred = add_credential(server, "--public", "--refresh-tokens", "always", scope=SCOPE)
    lines, url = node_rp("oauth4webapi_dpop_rp.mjs", server, jane.email, jane.password, {
        "CLIENT_ID": cred.client_id, "REDIRECT_URI": REDIRECT_URI, "SCOPE": SCOPE})
    assert "dpop_jkt=" in url
    steps = {line["step"]: line for line in lines}
    code = steps["code"]
    assert code["token_type"].lower() == "dpop" and code["refresh"] is True
    assert steps["userinfo"] == {"step": "userinfo", "sub": code["sub"], "email": jane.email}
    assert steps["bearer"]["status"] == 401
    assert steps["refresh"]["token_type"].lower() == "dpop" and steps["refresh"]["rotated"] is True
    assert steps["stolen"]["result"] == "invalid_grant"
    assert steps["userinfo2"]["sub"] == code["sub"]
    # The token request and the first userinfo call each met the server's nonce requirement once.
    assert steps["userinfo2"]["nonceRetries"] >= 2
