"""panva's openid-client (tests/js, a certified OpenID Connect relying-party library) against the real server:
discovery, the code flow with PKCE, state and nonce, its own ID token checks, userinfo, refresh rotation,
introspection and revocation, each as that library performs and checks them."""

from __future__ import annotations

from typing import Any

from tests.conftest import once_per_suite
from tests.e2e import REDIRECT_URI, add_credential, add_user, need_node, node_rp

SCOPE = "openid email offline_access"


@once_per_suite
def test_openid_client_logs_in_refreshes_introspects_and_revokes(server: Any) -> None:
    need_node("openid-client")
    jane = add_user(server, "Jane")
    cred = add_credential(server, "--refresh-tokens", "always", scope=SCOPE)
    lines, _ = node_rp("openid_client_rp.mjs", server, jane.email, jane.password, {
        "CLIENT_ID": cred.client_id, "CLIENT_SECRET": cred.client_secret, "REDIRECT_URI": REDIRECT_URI,
        "SCOPE": SCOPE})
    steps = {line["step"]: line for line in lines}
    code = steps["code"]
    assert code["iss"] == server.url and code["aud"] == cred.client_id and code["refresh"] is True
    assert set(code["scope"].split()) == set(SCOPE.split())
    assert steps["userinfo"] == {"step": "userinfo", "sub": code["sub"], "email": jane.email}
    assert steps["refresh"]["rotated"] is True and steps["refresh"]["sub"] == code["sub"]
    live = steps["introspect"]
    assert live["active"] is True and live["client_id"] == cred.client_id and live["sub"] == code["sub"]
    assert steps["revoked"] == {"step": "revoked", "active": False}
