"""``hospes serve --graceful-timeout N`` on the real process: after SIGTERM, a request in flight that ends
within N seconds gets its answer; one that does not end cannot keep the server from exiting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import Server, free_port, start_server, stop_server

GRACE_S = 2


def _post_started(srv: Server) -> socket.socket:
    """A token request whose body has not all arrived: in flight until its last bytes do."""
    url = urlsplit(srv.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall(f"POST /oauth/token.php HTTP/1.1\r\nHost: {url.netloc}\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n".encode())
    return sock


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_lets_requests_finish_for_the_graceful_timeout_then_exits(database_url, tmp_path, workers):
    args = ["--graceful-timeout", str(GRACE_S)]
    if workers != "1":
        args += ["--workers", workers]
    srv = start_server(database_url, tmp_path, {"HOSPES_BODY_TIMEOUT": "600"}, *args)
    try:
        finishing, stuck = _post_started(srv), _post_started(srv)
        time.sleep(0.5)
        srv.process.send_signal(signal.SIGTERM)
        start = time.monotonic()
        time.sleep(0.5)
        finishing.sendall(b"grant_type=password&")
        assert finishing.recv(65536).startswith(b"HTTP/1.1 400 ")
        try:
            srv.process.wait(GRACE_S + 10)
        except subprocess.TimeoutExpired:
            pytest.fail("the server still runs 12 s after SIGTERM with a 2 s graceful timeout")
        took = time.monotonic() - start
        # The graceful timeout, then the application's shutdown and at most web/server.py's margin.
        assert took <= GRACE_S + 4, took
        finishing.close()
        stuck.close()
    finally:
        stop_server(srv)


def test_a_graceful_timeout_that_is_not_a_duration_is_refused(database_url, tmp_path):
    env = {**os.environ, "HOSPES_DATABASE_URL": database_url, "HOSPES_VAR_DIR": str(tmp_path / "var"),
           "HOSPES_GRACEFUL_TIMEOUT": "0"}
    run = subprocess.run([sys.executable, "-m", "hospes.cli", "serve", "--port", str(free_port())], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "HOSPES_GRACEFUL_TIMEOUT" in run.stderr + run.stdout
