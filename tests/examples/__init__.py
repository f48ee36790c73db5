"""examples/resource_server run as a separate process, the way an operator runs it, for the tests that check it
against a real Hospes server (tests/examples, tests/e2e/test_resource_indicators.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "resource_server" / "resource_server.py"


@contextmanager
def example_resource_server(issuer: str, log: Path, *options: str) -> Iterator[str]:
    """The example for the resource ``<its URL>/api`` of ``issuer``, with ``options`` (--route, --require-acr …),
    once its RFC 9728 metadata answers: its base URL. Its output goes to ``log``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, str(EXAMPLE), "--issuer", issuer, "--resource", url + "/api", "--port", str(port),
           *options]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/.well-known/oauth-protected-resource/api", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
