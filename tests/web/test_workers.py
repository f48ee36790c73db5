"""``hospes serve --workers N`` on the real process: connections reach every worker, a dead worker is
replaced, SIGTERM stops them all, a taken port is a one-line error."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import free_port, start_server, stop_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            kids.append(int(entry.name))
    return sorted(kids)


def _workers(pid: int, n: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(pid)
        if len(kids) == n:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"expected {n} workers, found {_children(pid)}")


def _inodes(port: int, state: str) -> set[str]:
    """Sockets on this local port in this TCP state (01 ESTABLISHED, 0A LISTEN), by inode."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == state:
                inodes.add(cols[9])
    return inodes


def _listening(workers: list[int], port: int, timeout: float = 60) -> None:
    """Wait until every worker listens (the first answers while the others may still be starting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listening = _inodes(port, "0A")
        if all(_sockets_of(pid) & listening for pid in workers):
            return
        time.sleep(0.1)
    raise AssertionError("not every worker listens")


def _sockets_of(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


@pytest.fixture
def two_workers(database_url, tmp_path):
    srv = start_server(database_url, tmp_path, {}, "--workers", "2")
    yield srv
    stop_server(srv)


def test_keep_alive_connections_are_spread_across_the_workers(two_workers):
    # A reverse proxy keeps a few keep-alive connections open; with one shared listening socket, the first
    # worker to wake could accept them all. Each worker has its own socket (SO_REUSEPORT): the kernel
    # spreads connections by address hash, so with 32 connections both get some (odds of all on one: 2^-31).
    workers = _workers(two_workers.process.pid, 2)
    url = urlsplit(two_workers.url)
    _listening(workers, url.port or 0)
    conns = []
    try:
        for _ in range(32):
            c = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
            c.request("GET", "/.well-known/openid-configuration")
            r = c.getresponse()
            assert r.status == 200 and b"issuer" in r.read()
            conns.append(c)
        served = _inodes(url.port or 0, "01")
        per_worker = {pid: len(_sockets_of(pid) & served) for pid in workers}
        assert sum(per_worker.values()) == 32, per_worker
        assert all(n > 0 for n in per_worker.values()), per_worker
    finally:
        for c in conns:
            c.close()


def test_a_worker_that_dies_is_replaced(two_workers):
    before = _workers(two_workers.process.pid, 2)
    port = urlsplit(two_workers.url).port or 0
    _listening(before, port)  # the other worker must be serving, or nobody is while its replacement starts
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = _children(two_workers.process.pid)
        if len(now) == 2 and before[0] not in now:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the killed worker was not replaced: {_children(two_workers.process.pid)}")
    _listening(now, port)
    # The new worker serves too: every one of a batch of fresh connections gets an answer.
    for _ in range(20):
        assert httpx.get(two_workers.url + "/healthz", timeout=10).status_code == 200
    assert "starting another" in two_workers.log.read_text()


def test_sigterm_stops_every_worker(two_workers):
    workers = _workers(two_workers.process.pid, 2)
    two_workers.process.send_signal(signal.SIGTERM)
    assert two_workers.process.wait(30) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_taken_port_is_a_one_line_error(database_url, tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        env = {**os.environ, "HOSPES_ISSUER": f"http://127.0.0.1:{port}", "HOSPES_DATABASE_URL": database_url,
               "HOSPES_VAR_DIR": str(tmp_path / "var")}
        r = subprocess.run([sys.executable, "-m", "hospes.cli", "serve", "--port", str(port), "--workers", "2"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert f"error: cannot listen on 127.0.0.1:{port}: the address is in use" in r.stderr


def test_port_0_with_several_workers_is_a_one_line_error(database_url, tmp_path):
    env = {**os.environ, "HOSPES_ISSUER": "http://127.0.0.1:8000", "HOSPES_DATABASE_URL": database_url,
           "HOSPES_VAR_DIR": str(tmp_path / "var")}
    r = subprocess.run([sys.executable, "-m", "hospes.cli", "serve", "--port", "0", "--workers", "2"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "error: --workers N needs a fixed --port" in r.stderr


def _gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_die_with_a_killed_supervisor_and_the_port_is_free_again(database_url, tmp_path):
    # kill -9 of the supervisor gives it no chance to stop its workers: they must go by themselves
    # (PR_SET_PDEATHSIG), or they keep the port and the next `serve` cannot start.
    first = start_server(database_url, tmp_path, {}, "--workers", "2")
    port = urlsplit(first.url).port or 0
    workers = _workers(first.process.pid, 2)
    _listening(workers, port)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in workers):
        assert time.monotonic() < deadline, f"orphan workers still running: {[p for p in workers if not _gone(p)]}"
        time.sleep(0.1)
    assert not _inodes(port, "0A"), "something still listens on the port"

    log = tmp_path / "second.log"
    with open(log, "wb") as out:
        second = subprocess.Popen([sys.executable, "-m", "hospes.cli", "serve", "--port", str(port), "--workers", "2"],
                                  env=first.env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert second.poll() is None, "the second serve exited:\n" + log.read_text()
            assert time.monotonic() < deadline, "the second serve did not answer:\n" + log.read_text()
            try:
                if httpx.get(first.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # Its own workers answer, not survivors of the first.
        assert set(_workers(second.pid, 2)).isdisjoint(workers)
    finally:
        second.terminate()
        second.wait(30)
