"""``hospes keys rotate`` against a running server: new keys sign, old ones stay published until they expire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.e2e import add_credential, add_user, cli_json, code_flow, discover, jwks, rp, verify_id_token


@pytest.fixture
def server_env() -> dict[str, str]:
    # The server re-reads its keys at most every HOSPES_KEY_RELOAD_SECONDS (30 by default).
    return {"HOSPES_KEY_RELOAD_SECONDS": "0"}


def test_rotation_publishes_both_keys_and_signs_with_the_new_one(server):
    user = add_user(server)
    cred = add_credential(server)
    meta = discover(server)

    first = code_flow(rp(cred), meta, user)
    old_header, old_claims = verify_id_token(first.token["id_token"], meta, cred.client_id, nonce=first.nonce,
                                             access_token=first.token["access_token"])
    old_kid = old_header["kid"]
    listed = {k["kid"]: k for k in cli_json(server, "keys", "list")["keys"]}
    assert listed[old_kid]["active"] is True and listed[old_kid]["retired_at"] is None

    rotated = cli_json(server, "keys", "rotate")
    new_kids = set(rotated["created"])
    assert len(new_kids) == 2 and old_kid not in new_kids  # one RS256, one ES256

    published = jwks(meta)
    kids = {k["kid"] for k in published["keys"]}
    assert old_kid in kids and new_kids <= kids
    # The ID token signed before the rotation still verifies against what is published now.
    again = verify_id_token(first.token["id_token"], meta, cred.client_id, nonce=first.nonce,
                            access_token=first.token["access_token"], key_set=published)[1]
    assert again["sub"] == old_claims["sub"]

    second = code_flow(rp(cred), meta, user)
    new_header, new_claims = verify_id_token(second.token["id_token"], meta, cred.client_id, nonce=second.nonce,
                                             access_token=second.token["access_token"])
    assert new_header["kid"] in new_kids and new_header["kid"] != old_kid
    assert new_claims["sub"] == old_claims["sub"]
    rsa_kid = next(k["kid"] for k in published["keys"] if k["kid"] in new_kids and k["kty"] == "RSA")
    assert new_header["kid"] == rsa_kid

    # The CLI shows the old key retired, with the time it leaves the JWKS (after its tokens expire).
    keys = {k["kid"]: k for k in cli_json(server, "keys", "list")["keys"]}
    old = keys[old_kid]
    assert old["retired_at"] and old["active"] is False
    unpublish = datetime.fromisoformat(old["unpublish_at"])
    assert unpublish > datetime.now(UTC)
    assert unpublish.timestamp() >= old_claims["exp"] - 5
    assert old.get("published", True) is True
    for kid in new_kids:
        assert keys[kid]["active"] is True and keys[kid]["retired_at"] is None
    text = server.cli("keys", "list")
    assert text.returncode == 0
    old_line = next(line for line in text.stdout.splitlines() if line.startswith(old_kid))
    assert "retired, published until" in old_line
