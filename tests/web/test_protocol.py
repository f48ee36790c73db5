"""The real server sends each response in one write: one TCP segment per small answer (web/protocol.py)."""

from __future__ import annotations

import socket
import struct
import sys
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's TCP_INFO")

# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, the segments received that carried data, is the
# u32 at byte 152 (after tcpi_segs_out, tcpi_segs_in, tcpi_notsent_bytes and tcpi_min_rtt).
DATA_SEGS_IN = 152


def _data_segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, DATA_SEGS_IN)[0])


def _content_length(head: bytes) -> int:
    return int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")))


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = _content_length(head)
    while len(body) < length:
        body += sock.recv(65536)
    return head


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/oauth/certs.php", "/healthz",
                                  "/oauth/userinfo.php"])
def test_each_response_arrives_in_one_segment(server, path):
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode()
        sock.sendall(request)
        _read_response(sock)  # the first answer on the connection, before counting
        before = _data_segments_in(sock)
        for _ in range(20):
            sock.sendall(request)
            head = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 ")
        # uvicorn alone sends the head and the body in two writes: 40 segments here.
        assert _data_segments_in(sock) - before == 20


def test_a_closing_connection_gets_the_whole_answer_first(server):
    # uvicorn closes the transport right after the last write: what is held is sent before the close.
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(f"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: {url.netloc}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = _content_length(head)
    assert len(body) == length and body.rstrip().endswith(b"}")
