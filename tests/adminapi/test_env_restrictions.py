"""HOSPES_API_ALLOWED_IPS and HOSPES_API_ACCESS_KEY as an operator sets them, on the real server process."""

from __future__ import annotations

import json

import httpx
import pytest

PASSWORD = "correct horse battery staple"
KEY = "sEcret.key-1(x)"


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"HOSPES_API_ALLOWED_IPS": "10.9.9.9,192.168.0.0/16", "HOSPES_API_ACCESS_KEY": KEY}


def test_address_refused_unless_the_access_key_is_sent(server):
    assert server.cli("admins", "add", "--username", "ops", "--email", "ops@example.com", "--password-stdin",
                      stdin=PASSWORD + "\n").returncode == 0
    assert server.cli("api-roles", "create", "--name", "full", "--all-actions").returncode == 0
    made = json.loads(server.cli("api-credentials", "create", "--admin", "ops", "--role", "full", "--json").stdout)
    fields = {"action": "GetClients", "identifier": made["identifier"], "secret": made["secret"],
              "responsetype": "json"}
    url = server.url + "/includes/api.php"
    r = httpx.post(url, data=fields, timeout=10)
    assert r.status_code == 403 and r.json() == {"result": "error", "message": "Invalid IP 127.0.0.1"}
    r = httpx.post(url, data={**fields, "accesskey": "wrong"}, timeout=10)
    assert r.status_code == 403 and r.json()["message"] == "Invalid IP 127.0.0.1"
    # X-Forwarded-For is not believed: no trusted proxies are configured.
    r = httpx.post(url, data=fields, headers={"X-Forwarded-For": "10.9.9.9"}, timeout=10)
    assert r.status_code == 403
    r = httpx.post(url, data={**fields, "accesskey": KEY}, timeout=10)
    assert r.status_code == 200 and r.json()["result"] == "success", r.text
