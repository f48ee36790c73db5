"""The device authorization grant (RFC 8628) against the real server: a device polling over HTTP while a person
approves on the device page, panva's oauth4webapi (tests/js, a certified client library) as the device, and two
polls racing for one approval (one gets the tokens), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from typing import Any

import httpx
import pytest

from tests.browserless import device_page
from tests.conftest import once_per_suite
from tests.e2e import JS, MODULES, REDIRECT_URI, Credential, add_user, cli_json, discover

pytestmark = pytest.mark.one_server  # the tests share one server (tests/conftest.py)

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "openid email offline_access"


def device_credential(server: Any, *extra: str) -> Credential:
    """As the operator makes one: `hospes oauth-credentials create --grant-type ...device_code`."""
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code", "--grant-type", GRANT,
                    "--scope", SCOPE, "--name", "TV dashboard", "--redirect-uri", REDIRECT_URI, *extra)
    return Credential(int(made["credentialId"]), made["clientIdentifier"], made["clientSecret"])


class Device:
    """A device that polls as RFC 8628 §3.4-3.5 says: every ``interval`` seconds, five more after slow_down."""

    def __init__(self, server: Any, cred: Credential) -> None:
        self.server, self.cred = server, cred
        self.auth = (cred.client_id, cred.client_secret)
        config = discover(server)
        self.token_endpoint = config["token_endpoint"]
        r = httpx.post(config["device_authorization_endpoint"], data={"scope": SCOPE}, auth=self.auth, timeout=10)
        assert r.status_code == 200, r.text
        self.started: dict[str, Any] = r.json()
        self.answers: list[str] = []
        self.tokens: dict[str, Any] | None = None

    def poll_once(self) -> httpx.Response:
        return httpx.post(self.token_endpoint, data={"grant_type": GRANT, "device_code": self.started["device_code"]},
                          auth=self.auth, timeout=30)

    def run(self, deadline: float) -> None:
        interval = self.started["interval"]
        while time.monotonic() < deadline:
            time.sleep(interval)
            r = self.poll_once()
            if r.status_code == 200:
                self.tokens = r.json()
                return
            error = r.json()["error"]
            self.answers.append(error)
            if error == "slow_down":
                interval += 5
            elif error != "authorization_pending":
                return


def test_a_device_polls_while_the_person_approves_on_the_page(server: Any) -> None:
    jane = add_user(server, "Jane")
    cred = device_credential(server)
    device = Device(server, cred)
    poller = threading.Thread(target=device.run, args=(time.monotonic() + 90,))
    poller.start()
    try:
        time.sleep(6)  # the device has polled once at least: the request is pending
        with httpx.Client(follow_redirects=False, timeout=30) as browser:
            done = device_page(browser, device.started["verification_uri_complete"], jane.email, jane.password)
        assert "Your device is connected" in done.text, done.text
    finally:
        poller.join(100)
    assert device.answers and set(device.answers) == {"authorization_pending"}, device.answers
    assert device.tokens is not None and {"access_token", "refresh_token", "id_token"} <= set(device.tokens)
    info = httpx.get(discover(server)["userinfo_endpoint"], timeout=10,
                     headers={"Authorization": "Bearer " + device.tokens["access_token"]})
    assert info.status_code == 200 and info.json()["email"] == jane.email


@pytest.mark.both_databases
def test_two_polls_at_once_get_one_set_of_tokens(server: Any) -> None:
    jane = add_user(server, "Jane")
    cred = device_credential(server)
    for _ in range(3):
        device = Device(server, cred)
        with httpx.Client(follow_redirects=False, timeout=30) as browser:
            done = device_page(browser, device.started["verification_uri_complete"], jane.email, jane.password)
        assert "Your device is connected" in done.text, done.text
        barrier = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def race(device: Device = device, barrier: threading.Barrier = barrier,
                 answers: list[httpx.Response] = answers) -> None:
            barrier.wait()
            answers.append(device.poll_once())

        threads = [threading.Thread(target=race) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(r.status_code for r in answers) == [200, 400], [r.text for r in answers]
        assert next(r for r in answers if r.status_code == 400).json()["error"] == "invalid_grant"


@once_per_suite
@pytest.mark.parametrize("public", [False, True])
def test_oauth4webapi_as_the_device(server: Any, public: bool) -> None:
    if not shutil.which("node") or not (MODULES / "oauth4webapi").is_dir():
        pytest.skip("needs node and oauth4webapi (make test installs tests/js)")
    jane = add_user(server, "Jane")
    cred = device_credential(server, *(["--public"] if public else []))
    assert bool(cred.client_secret) is not public
    env = {**os.environ, "HOSPES_ISSUER": server.url, "CLIENT_ID": cred.client_id,
           "CLIENT_SECRET": cred.client_secret, "SCOPE": SCOPE, "NODE_PATH": str(MODULES)}
    proc = subprocess.Popen(["node", str(JS / "device_flow.mjs")], cwd=JS, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        started = json.loads(line)
        assert started["step"] == "device" and started["verification_uri"] == server.url + "/device"
        time.sleep(6)  # one authorization_pending first
        with httpx.Client(follow_redirects=False, timeout=30) as browser:
            done = device_page(browser, started["verification_uri"] + "?user_code=" + started["user_code"],
                               jane.email, jane.password)
        assert "Your device is connected" in done.text, done.text
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    steps = {line["step"]: line for line in map(json.loads, out.splitlines())}
    tokens = steps["tokens"]
    assert tokens["polls"] and set(tokens["polls"]) == {"authorization_pending"}
    assert tokens["iss"] == server.url and tokens["aud"] == cred.client_id and tokens["refresh"] is True
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    assert steps["userinfo"] == {"step": "userinfo", "sub": tokens["sub"], "email": jane.email}
