"""``hospes keys rotate`` against a running server: the new keys are published at once and sign once a relying
party's cached JWKS must hold them; the old ones sign until then and stay published until their tokens expire.
``rotate --now`` withdraws them at once. The JWKS answers from the last good key set while the database is away.

Two nodes under load: tests/e2e/test_rotation_under_load.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from joserfc.errors import JoseError

from tests.conftest import backend
from tests.e2e import add_credential, add_user, cli_json, code_flow, discover, jwks, rp, verify_id_token
from tests.outage import database_away

MAX_AGE = 15  # well longer than two `hospes` commands take on a busy machine


@pytest.fixture
def server_env() -> dict[str, str]:
    # Read the keys on every use, and let relying parties cache the JWKS for MAX_AGE seconds: a rotation's
    # new key then signs MAX_AGE + 0 + 1 seconds after it is published.
    return {"HOSPES_KEY_RELOAD_SECONDS": "0", "HOSPES_JWKS_MAX_AGE": str(MAX_AGE)}


def kids(key_set: dict[str, Any]) -> set[str]:
    return {k["kid"] for k in key_set["keys"]}


def test_a_rotation_publishes_first_and_signs_once_cached_jwks_have_expired(server):
    user = add_user(server)
    cred = add_credential(server)
    meta = discover(server)
    r = httpx.get(meta["jwks_uri"], timeout=10)
    assert r.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    cached = r.json()  # what a relying party holds for MAX_AGE seconds

    first = code_flow(rp(cred), meta, user)
    old_kid = verify_id_token(first.token["id_token"], meta, cred.client_id, nonce=first.nonce,
                              access_token=first.token["access_token"])[0]["kid"]
    listed = {k["kid"]: k for k in cli_json(server, "keys", "list")["keys"]}
    assert listed[old_kid]["state"] == "active" and listed[old_kid]["retired_at"] is None

    before = time.time()
    rotated = cli_json(server, "keys", "rotate")
    after = time.time()
    signs_from = datetime.fromisoformat(rotated["signs_from"]).timestamp()
    new_kids = set(rotated["created"])
    assert len(new_kids) == 2 and old_kid not in new_kids  # one RS256, one ES256
    # The wait: max-age + reload (0) + 1 s after the rotation's commit.
    assert before + MAX_AGE + 1 <= signs_from <= after + MAX_AGE + 1

    # Published at once, beside the old key; the old key still signs.
    published = jwks(meta)
    assert old_kid in kids(published) and new_kids <= kids(published)
    text = server.cli("keys", "list").stdout
    for kid in new_kids:
        assert f"pending, signs from {datetime.fromtimestamp(signs_from, UTC).isoformat()}" in \
            next(line for line in text.splitlines() if line.startswith(kid))
    assert "active, signs until" in next(line for line in text.splitlines() if line.startswith(old_kid))
    while time.time() < signs_from - 0.5:
        flow = code_flow(rp(cred), meta, user)
        header = verify_id_token(flow.token["id_token"], meta, cred.client_id, nonce=flow.nonce,
                                 access_token=flow.token["access_token"], key_set=cached)[0]
        assert header["kid"] == old_kid  # a relying party holding the JWKS of before the rotation verifies it

    time.sleep(max(0.0, signs_from - time.time()) + 0.2)
    second = code_flow(rp(cred), meta, user)
    new_header = verify_id_token(second.token["id_token"], meta, cred.client_id, nonce=second.nonce,
                                 access_token=second.token["access_token"], key_set=published)[0]
    assert new_header["kid"] in new_kids
    rsa_kid = next(k["kid"] for k in published["keys"] if k["kid"] in new_kids and k["kty"] == "RSA")
    assert new_header["kid"] == rsa_kid
    # The ID token signed before the rotation still verifies against what is published now.
    verify_id_token(first.token["id_token"], meta, cred.client_id, nonce=first.nonce,
                    access_token=first.token["access_token"])

    keys = {k["kid"]: k for k in cli_json(server, "keys", "list")["keys"]}
    old = keys[old_kid]
    assert old["state"] == "retiring" and old["active"] is False and old["published"] is True
    assert datetime.fromisoformat(old["unpublish_at"]).timestamp() >= signs_from + 3600 - 1  # its tokens' life
    assert all(keys[kid]["state"] == "active" for kid in new_kids)
    text = server.cli("keys", "list").stdout
    assert "retiring, published until" in next(line for line in text.splitlines() if line.startswith(old_kid))


def test_rotate_now_withdraws_a_compromised_key_at_once(server):
    user = add_user(server)
    cred = add_credential(server)
    meta = discover(server)
    first = code_flow(rp(cred), meta, user)
    old_kid = verify_id_token(first.token["id_token"], meta, cred.client_id, nonce=first.nonce,
                              access_token=first.token["access_token"])[0]["kid"]

    r = server.cli("keys", "rotate", "--now")
    assert r.returncode == 0 and "withdrawn" in r.stdout
    new_kids = {k["kid"] for k in cli_json(server, "keys", "list")["keys"] if k["state"] == "active"}
    published = jwks(meta)
    assert kids(published) == new_kids and old_kid not in kids(published)
    second = code_flow(rp(cred), meta, user)
    assert verify_id_token(second.token["id_token"], meta, cred.client_id, nonce=second.nonce,
                           access_token=second.token["access_token"])[0]["kid"] in new_kids
    # The price of a compromise: what the old key signed no longer verifies.
    with pytest.raises(JoseError):
        verify_id_token(first.token["id_token"], meta, cred.client_id, nonce=first.nonce,
                        access_token=first.token["access_token"], key_set=published)


@pytest.mark.skipif(backend() != "postgresql",
                    reason="a running server's open SQLite connections cannot be taken away from it")
def test_the_jwks_answers_from_the_last_good_key_set_while_the_database_is_away(server):
    meta = discover(server)
    before = httpx.get(meta["jwks_uri"], timeout=10)
    assert before.status_code == 200
    with database_away(server.env["HOSPES_DATABASE_URL"]):
        for _ in range(3):
            r = httpx.get(meta["jwks_uri"], timeout=10)
            assert r.status_code == 200 and r.json() == before.json()
    assert httpx.get(meta["jwks_uri"], timeout=10).json() == before.json()
