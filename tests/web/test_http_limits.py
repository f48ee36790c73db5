"""The real server's HTTP limits (web/protocol.py): a head's size (431), the time a head and a body may take
(408, from a connection's first request on), the requests one read may queue, the requests answered at once
(503 with Retry-After), what a connection may make the server hold, and the open-files limit."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

MAX_HEADER_BYTES = 8192
TIMEOUT_S = 2


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"HOSPES_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES), "HOSPES_HEADER_TIMEOUT": str(TIMEOUT_S),
            "HOSPES_BODY_TIMEOUT": str(TIMEOUT_S), "HOSPES_MAX_CONCURRENT_REQUESTS": "2"}


def _connect(server: Server) -> socket.socket:
    url = urlsplit(server.url)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def _head(server: Server, path: str = "/healthz", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {urlsplit(server.url).netloc}\r\n{extra}\r\n".encode()


def _until_closed(sock: socket.socket, limit_s: float = 10) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    start = time.monotonic()
    sock.settimeout(limit_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data, time.monotonic() - start


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the server closed first, as it should
        sock.sendall(data)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_head_over_the_limit_gets_431_and_the_connection_closes(server):
    with _connect(server) as sock:
        _send_quietly(sock, _head(server, extra="X-Big: " + "a" * (1 << 20) + "\r\n"))
        data, _ = _until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431 ")
    assert data.endswith(b"Request header fields too large")
    # A head within the limit is answered as before.
    with _connect(server) as sock:
        sock.sendall(_head(server, extra="X-Big: " + "a" * (MAX_HEADER_BYTES - 200) + "\r\nConnection: close\r\n"))
        data, _ = _until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 ")


def test_unfinished_heads_do_not_grow_the_server(server):
    before = _rss_kib(server.process.pid)
    socks = [_connect(server) for _ in range(4)]
    chunk = b"X-Big: " + b"a" * (1 << 20)
    for sock in socks:
        _send_quietly(sock, _head(server)[:-2])
    for _ in range(16):  # 4 x 16 MiB of one header that never ends
        for sock in socks:
            _send_quietly(sock, chunk)
    growth = _rss_kib(server.process.pid) - before
    for sock in socks:
        sock.close()
    assert growth < 16 * 1024, f"the server grew by {growth} KiB"


def test_a_chunked_body_s_trailers_are_bounded_too(server):
    with _connect(server) as sock:
        head = (f"POST /oauth/token.php HTTP/1.1\r\nHost: {urlsplit(server.url).netloc}\r\n"
                "Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n")
        _send_quietly(sock, head.encode() + b"1\r\na\r\n0\r\nX-Trailer: " + b"a" * (1 << 20))
        data, took = _until_closed(sock)
    # Closed at once: uvicorn holds the growing trailer and waits for its end.
    assert took < 5
    assert data == b"" or data.startswith(b"HTTP/1.1 4")


def test_one_read_cannot_queue_thousands_of_requests(server):
    with _connect(server) as sock:
        _send_quietly(sock, _head(server) * 5000)
        data, took = _until_closed(sock)
    # Closed at once (uvicorn queues and answers all 5,000).
    assert data.count(b"HTTP/1.1 200 ") <= 64 and took < 5


def test_a_connection_that_never_completes_its_first_head_is_closed(server):
    with _connect(server) as idle, _connect(server) as partial:
        partial.sendall(_head(server)[:20])
        data, took = _until_closed(partial)
        assert data.startswith(b"HTTP/1.1 408 ")
        assert TIMEOUT_S - 0.5 <= took <= TIMEOUT_S + 3
        # One that sent nothing is closed without an answer.
        data, took = _until_closed(idle)
        assert data == b"" and took <= 3


def test_a_keep_alive_connection_that_starts_a_head_and_stops_is_closed(server):
    with _connect(server) as sock:
        sock.sendall(_head(server))
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(_head(server)[:20])  # uvicorn stops its keep-alive timer on these bytes
        data, took = _until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert took <= TIMEOUT_S + 3


def test_a_body_that_trickles_is_cut_off(server):
    with _connect(server) as sock:
        sock.sendall(f"POST /oauth/token.php HTTP/1.1\r\nHost: {urlsplit(server.url).netloc}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
                     "grant_type=".encode())
        start = time.monotonic()
        for _ in range(3):  # a byte every half second, then nothing: never done in time
            time.sleep(0.5)
            sock.sendall(b"a")
        data, _ = _until_closed(sock)
        took = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
    assert took <= TIMEOUT_S + 3


def _request(server: Server, path: str) -> tuple[bytes, bytes]:
    with _connect(server) as sock:
        sock.sendall(_head(server, path, "Connection: close\r\n"))
        data, _ = _until_closed(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_beyond_the_concurrent_requests_the_answer_is_503_with_retry_after(server):
    # Two requests whose bodies are still coming occupy the two places (HOSPES_MAX_CONCURRENT_REQUESTS=2).
    holders = [_connect(server) for _ in range(2)]
    for sock in holders:
        sock.sendall(f"POST /oauth/token.php HTTP/1.1\r\nHost: {urlsplit(server.url).netloc}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n".encode())
    time.sleep(0.3)
    head, body = _request(server, "/.well-known/openid-configuration")
    assert head.startswith(b"HTTP/1.1 503 ")
    assert b"\r\nretry-after: 2" in head.lower()
    assert json.loads(body)["error"] == "temporarily_unavailable"
    head, body = _request(server, "/login")
    assert head.startswith(b"HTTP/1.1 503 ") and b"retry-after" in head.lower()
    assert b"busy" in body
    for sock in holders:
        sock.sendall(b"grant_type=password&")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400 ")
        sock.close()
    head, _ = _request(server, "/.well-known/openid-configuration")
    assert head.startswith(b"HTTP/1.1 200 ")


@pytest.fixture
def low_open_files_limit() -> Iterator[int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 512:
        pytest.skip("the hard limit is already low")
    # Low for the server this test starts (it inherits it), yet above what this test process already holds
    # (earlier tests in the same worker leave descriptors open): below that, its own next socket would fail.
    held = len(os.listdir("/proc/self/fd"))
    low = max(512, held + 512)
    if hard != resource.RLIM_INFINITY and hard <= low:
        pytest.skip("the hard limit is already low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_server_raises_its_open_files_limit_to_the_hard_limit(database_url, tmp_path, low_open_files_limit):
    srv = start_server(database_url, tmp_path, {})
    try:
        limits = Path(f"/proc/{srv.process.pid}/limits").read_text()
    finally:
        stop_server(srv)
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    hard = low_open_files_limit
    expected = str(1 << 20) if hard == resource.RLIM_INFINITY else str(hard)
    assert line.split()[3] == expected, line


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(database_url, tmp_path):
    srv = start_server(database_url, tmp_path, {"HOSPES_KEEP_ALIVE_TIMEOUT": "1", "HOSPES_HEADER_TIMEOUT": "30"})
    try:
        with _connect(srv) as sock:
            sock.sendall(_head(srv))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            data, took = _until_closed(sock)
        assert data == b"" and took < 3  # uvicorn's own default is 5 s
    finally:
        stop_server(srv)


@pytest.mark.parametrize(("name", "value"), [("max_header_bytes", "100"), ("header_timeout", "0"),
                                             ("body_timeout", "-1"), ("keep_alive_timeout", "0"),
                                             ("max_concurrent_requests", "0"), ("graceful_timeout", "99999")])
def test_limits_out_of_range_are_refused_with_their_name(name, value):
    from hospes.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=f"HOSPES_{name.upper()}"):
        load_settings(**{name: value})
