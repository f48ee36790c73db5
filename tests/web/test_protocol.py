"""The real server sends each response in one write: one TCP segment per small answer (web/protocol.py)."""

from __future__ import annotations

import socket
import struct
import sys
from urllib.parse import urlsplit

import pytest

from tests import aio

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


# -- what web/protocol.py takes from uvicorn's private HttpToolsProtocol (uvicorn is pinned in pyproject.toml;
# an upgrade that changes any of this fails here, not in production) --------------------------------------


def test_the_uvicorn_internals_the_protocol_overrides_or_reads_are_there():
    import inspect

    import uvicorn
    from uvicorn.protocols.http import httptools_impl as impl

    base = impl.HttpToolsProtocol
    assert list(inspect.signature(base.__init__).parameters) == ["self", "config", "server_state", "app_state",
                                                                 "_loop"]
    for hook in ("connection_made", "data_received", "on_headers_complete", "on_response_complete",
                 "_unset_keepalive_if_required", "send_400_response", "_should_upgrade",
                 "handle_websocket_upgrade", "_unsupported_upgrade_warning", "shutdown"):
        assert callable(getattr(base, hook)), hook
    assert b"431 Request Header Fields Too Large" in impl.STATUS_LINE[431]
    assert b"408 Request Timeout" in impl.STATUS_LINE[408]
    cycle = inspect.signature(impl.RequestResponseCycle.__init__).parameters
    assert {"scope", "transport", "flow", "message_event", "keep_alive", "on_response"} <= set(cycle)
    config = inspect.signature(uvicorn.Config.__init__).parameters
    assert {"http", "timeout_keep_alive", "timeout_graceful_shutdown"} <= set(config)
    # web/server.py calls it as handle_exit(sig, frame). sse_starlette (the MCP SDK's) replaces it on import with
    # a (*args, **kwargs) wrapper that calls uvicorn's own, so check the call binds rather than the names.
    inspect.signature(uvicorn.Server.handle_exit).bind(object(), 15, None)
    patched = sys.modules.get("sse_starlette.sse")
    original = patched.AppStatus.original_handler if patched is not None else uvicorn.Server.handle_exit
    assert list(inspect.signature(original).parameters) == ["self", "sig", "frame"]


async def _serve_in_process(limits, app):
    import asyncio

    import uvicorn
    from uvicorn.server import ServerState

    from hospes.web.protocol import protocol_class

    config = uvicorn.Config(app, http=protocol_class(limits), lifespan="off", log_level="error")
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    factory = config.http_protocol_class
    return await loop.create_server(lambda: factory(config=config, server_state=state, app_state={}, _loop=loop),
                                    "127.0.0.1", 0), state


async def _exchange(port: int, data: bytes) -> bytes:
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def test_the_protocol_s_limits_hold_over_uvicorn_s_own_parsing():
    """In process, over a real loopback socket: the hooks web/protocol.py overrides still see each request
    head (a new cycle per head, the application read at on_headers_complete), so the limits hold."""
    import asyncio

    from hospes.web.protocol import Limits

    held = asyncio.Event()
    paths: list[str] = []

    async def app(scope, receive, send):
        paths.append(scope["path"])
        if scope["path"] == "/hold":
            await held.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run() -> None:
        server, state = await _serve_in_process(Limits(max_header_bytes=2048, max_requests=1, max_pipelined=4), app)
        port = server.sockets[0].getsockname()[1]
        try:
            # Pipelined requests in one write: each answered, in order.
            two = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            answer = await _exchange(port, two)
            assert answer.count(b"HTTP/1.1 200 OK") == 2 and paths[-2:] == ["/a", "/b"]
            # A head over the limit.
            answer = await _exchange(port, b"GET / HTTP/1.1\r\nX: " + b"a" * 4096 + b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 431 ")
            # More queued requests than allowed: closed.
            answer = await _exchange(port, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
            assert answer.count(b"HTTP/1.1 200") <= 5
            # One request in flight takes the only place: the next is answered 503 by the protocol.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
            while "/hold" not in paths:
                await asyncio.sleep(0.01)
            answer = await _exchange(port, b"GET /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 2" in answer
            assert b'"temporarily_unavailable"' in answer
            held.set()
            assert (await reader.read(100)).startswith(b"HTTP/1.1 200 ")
            writer.close()
        finally:
            server.close()
            for connection in list(state.connections):
                connection.shutdown()

    aio.run(run())
