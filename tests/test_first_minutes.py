"""What a newcomer does in the first minutes: `make run PORT=…`, the sample relying party, a port mix-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.browserless import authorize
from tests.conftest import free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("did not start:\n" + log.read_text())
        time.sleep(0.2)


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path, url: str, cwd: Path = ROOT) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(url, proc, log)
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def test_make_run_port_moves_the_issuer_with_it(tmp_path: Path):
    port = free_port()
    venv = Path(sys.executable).parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("HOSPES_ISSUER", "HOSPES_CONFIG")}
    env.update(HOSPES_VAR_DIR=str(tmp_path / "var"), HOSPES_DATABASE_URL=f"sqlite:///{tmp_path}/hospes.db")
    # -o: take the virtualenv as installed (the suite runs in it).
    cmd = ["make", "-s", "-o", f"{venv}/.installed", f"VENV={venv}", "run", f"PORT={port}"]
    with process(cmd, env, tmp_path / "make.log", f"http://127.0.0.1:{port}/healthz"):
        meta = httpx.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration").json()
    assert meta["issuer"] == f"http://127.0.0.1:{port}"
    assert "Warning" not in (tmp_path / "make.log").read_text()


def test_serve_warns_when_a_loopback_issuer_is_on_another_port(database_url, db, tmp_path: Path):
    srv = start_server(database_url, tmp_path, {"HOSPES_ISSUER": "http://127.0.0.1:9"})
    try:
        port = srv.url.rsplit(":", 1)[1]
        log = srv.log.read_text()
        assert f"listens on port {port}" in log and f"HOSPES_ISSUER=http://127.0.0.1:{port}" in log
    finally:
        stop_server(srv)


def test_serve_says_nothing_when_the_ports_match(server):
    assert "Warning" not in server.log.read_text()


def sample_rp(server, cred, tmp_path: Path, *extra: str):
    port = int(cred.redirect_uri.split(":")[2].split("/")[0])
    env = {**os.environ, "HOSPES_ISSUER": server.url}  # no --issuer: the sample reads HOSPES_ISSUER
    cmd = [sys.executable, str(ROOT / "examples" / "sample_rp.py"), "--client-id", cred.client_id,
           f"--client-secret={cred.client_secret}", "--port", str(port), *extra]
    return process(cmd, env, tmp_path / f"rp-{port}.log", f"http://127.0.0.1:{port}/"), f"http://127.0.0.1:{port}"


def run_login(rp: str, acct, consent: str) -> httpx.Response:
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        start = http.get(rp + "/login")
        assert start.status_code == 302, start.text
        back = authorize(http, start.headers["location"], acct.email, acct.password, consent=consent)
        assert back.status_code in (302, 303) and back.headers["location"].startswith(rp + "/cb"), back.text
        return http.get(back.headers["location"])


def test_sample_rp_logs_in_and_shows_cancel_as_a_page(server, make_account, make_credential, tmp_path: Path):
    acct = make_account()
    cred = make_credential(redirect_uri=f"http://127.0.0.1:{free_port()}/cb")
    running, rp = sample_rp(server, cred, tmp_path)
    with running:
        cancelled = run_login(rp, acct, consent="no")
        assert cancelled.status_code == 400 and "access_denied" in cancelled.text
        done = run_login(rp, acct, consent="yes")
        assert done.status_code == 200 and "Logged in" in done.text and acct.email in done.text
        # A callback whose state this browser never sent is a page too, not a 500.
        forged = httpx.get(rp + "/cb?code=x&state=forged")
        assert forged.status_code == 400 and "Not logged in" in forged.text


def test_sample_rp_shows_a_scope_the_credential_lacks_as_a_page(server, make_credential, tmp_path: Path):
    cred = make_credential(redirect_uri=f"http://127.0.0.1:{free_port()}/cb", scope="openid profile")
    running, rp = sample_rp(server, cred, tmp_path, "--scope", "openid email")
    with running, httpx.Client(follow_redirects=False, timeout=30) as http:
        start = http.get(rp + "/login")
        back = http.get(start.headers["location"])
        assert back.status_code in (302, 303) and "error=" in back.headers["location"], back.text
        page = http.get(back.headers["location"])
        assert page.status_code == 400 and "invalid_scope" in page.text
