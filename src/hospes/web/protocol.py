"""uvicorn's HTTP protocol, with each response's writes sent as one, and with limits on what a connection
may hold and for how long.

One write per turn: uvicorn writes the status line and headers when the application sends
``http.response.start``, and the body when it sends ``http.response.body``: two ``write`` calls, so two TCP
segments, and on the receiving side two wake-ups. For the small JSON answers of the token, userinfo and
introspection endpoints, that second send is a visible share of the server's CPU per request (perf shows it
in the kernel's transmit path and in waking the reader). Here every write made in one turn of the event loop
is joined and sent at the end of that turn: one ``write``, one segment. Nothing waits longer than the turn.

Limits (``Limits``), none of which uvicorn's httptools protocol has:

- a request head (request line, headers, and a chunked body's framing and trailers, which httptools
  buffers too) of at most ``max_header_bytes``: beyond it 431 (RFC 6585 §5) and the connection closes;
- a head completed within ``header_timeout`` seconds of the connection's start or of its previous
  response, the first request included (uvicorn never times out a connection before its first request);
  a body within ``body_timeout`` seconds of its head: otherwise 408 (RFC 9110 §15.5.9), or a silent close
  for a connection that sent nothing;
- at most ``max_pipelined`` requests queued behind the one being answered (one read can hold thousands):
  beyond it the connection is closed;
- at most ``max_requests`` requests being answered at once by this process: beyond it 503 with
  ``Retry-After``, answered here without reaching the application. uvicorn's ``limit_concurrency`` counts
  open connections too, so idle ones would turn real requests away; this counts requests only.

The cost per request is unchanged but for a few attribute reads: deadlines are checked once a second for all
connections by one timer per event loop, not armed per request.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

# How often deadlines are checked: a connection is closed at most this much after its deadline.
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    """What a connection may make a worker hold, and for how long (HOSPES_* settings, web/server.py)."""

    max_header_bytes: int = 32768
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_requests: int = 512
    max_pipelined: int = 32
    retry_after: int = 2


class OneWritePerTurn:
    """A transport whose writes are held until the end of the current event-loop turn, then sent as one.
    Everything else goes to the real transport; closing sends what is held first."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._held is None:
            self._held = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._held.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held or ()))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _TooManyPipelined(Exception):
    """Raised from a parser callback to stop parsing the rest of a read."""


def _plain(status: int, text: str, *headers: bytes) -> bytes:
    body = text.encode()
    return b"".join([STATUS_LINE[status], *headers, b"content-type: text/plain; charset=utf-8\r\n",
                     b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body), body])


TOO_LARGE = _plain(431, "Request header fields too large")
TIMEOUT = _plain(408, "Request timeout")


@lru_cache
def busy_application(retry_after: int) -> Any:
    """The answer when too many requests are being answered: 503 with Retry-After (RFC 9110 §10.2.3); the
    protocol's JSON error (RFC 6749 §5.2's form, ``temporarily_unavailable``) on OAuth and well-known paths,
    plain text elsewhere. The connection stays open."""
    json_body = (b'{"error":"temporarily_unavailable","error_description":'
                 b'"The server is busy. Retry after %d seconds."}' % retry_after)
    text_body = b"The server is busy. Please retry in a few seconds.\n"
    common = [(b"retry-after", str(retry_after).encode()), (b"cache-control", b"no-store"),
              (b"x-content-type-options", b"nosniff")]

    async def busy(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        if "/oauth/" in path or "/.well-known/" in path:
            body, kind = json_body, b"application/json"
        else:
            body, kind = text_body, b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *common]})
        await send({"type": "http.response.body", "body": body})

    return busy


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over ``OneWritePerTurn``, within ``Limits``. Pass
    ``protocol_class(limits)`` as ``uvicorn.Config(http=...)``, or the class itself for the default limits."""

    def __init__(self, config: Any, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None, *, limits: Limits = Limits()) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        # uvicorn's own check counts connections too: this protocol counts requests (on_headers_complete).
        self.limit_concurrency = None
        self.application = self.app
        # Bytes the current head may still take (see data_received).
        self.head_room = limits.max_header_bytes
        # What the deadline sweep saw last: (the request, the phase), and since when.
        self.watched: tuple[Any, int] | None = None
        self.watched_since = 0.0
        self.refusing = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWritePerTurn(transport, self.loop))  # type: ignore[arg-type]
        self.watched, self.watched_since = (None, 0), self.loop.time()
        Sweep.watch(self.server_state, self.loop)

    # -- reading: the head's size and the number of queued requests ------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.refusing:
            return
        self._unset_keepalive_if_required()
        cycle = self.cycle
        if cycle is None or not cycle.more_body:
            # Between requests: every byte belongs to a head until a head completes (a new cycle).
            if len(data) > self.head_room:
                self._head_beyond_room(data)
                return
            self._feed(data)
            if self.cycle is cycle:
                self.head_room -= len(data)
            else:
                # A head completed; what followed it in this read is not counted (at most one read).
                self.head_room = self.limits.max_header_bytes
            return
        # In a body: what is not body (chunk sizes, trailers) is held by the parser as a head is.
        before = len(cycle.body)
        self._feed(data)
        if self.cycle is cycle and cycle.more_body:
            self.head_room -= len(data) - (len(cycle.body) - before)
            if self.head_room < 0:
                self._close(TOO_LARGE)
        else:
            self.head_room = self.limits.max_header_bytes

    def _head_beyond_room(self, data: bytes) -> None:
        room = max(self.head_room, 0)
        cycle = self.cycle
        self._feed(data[:room])
        if self.cycle is cycle:
            self._close(TOO_LARGE)
            return
        self.head_room = self.limits.max_header_bytes
        self.data_received(data[room:])

    def _feed(self, data: bytes) -> None:
        # uvicorn's data_received, with the stop below.
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _TooManyPipelined):
                self._close(None)
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def on_headers_complete(self) -> None:
        # uvicorn reads self.app here to start the request, or to queue it behind the one being answered (a
        # queued request is not counted: the number queued has its own limit, below).
        if len(self.tasks) >= self.limits.max_requests and (self.cycle is None or self.cycle.response_complete):
            self.app = busy_application(self.limits.retry_after)
            try:
                super().on_headers_complete()
            finally:
                self.app = self.application
        else:
            super().on_headers_complete()
        if len(self.pipeline) > self.limits.max_pipelined:
            raise _TooManyPipelined

    # -- deadlines -------------------------------------------------------------------------------
    def check_deadline(self, now: float) -> None:
        """Called once a second by the sweep: close a connection whose head or body is overdue."""
        if self.refusing:
            return
        cycle = self.cycle
        if cycle is None or (cycle.response_complete and not cycle.more_body and not self.pipeline):
            phase, limit = 0, self.limits.header_timeout  # waiting for a head
        elif cycle.more_body and not self.flow.read_paused:
            phase, limit = 1, self.limits.body_timeout  # reading a body
        else:
            self.watched = None  # the application's turn (or reading is paused on purpose)
            return
        if self.watched != (cycle, phase):
            self.watched, self.watched_since = (cycle, phase), now
        elif now - self.watched_since >= limit:
            if phase == 0:
                started = self.head_room < self.limits.max_header_bytes
                self._close(TIMEOUT if started else None)
            else:
                self._close(None if cycle.response_started else TIMEOUT)

    def _close(self, answer: bytes | None) -> None:
        """End the connection, with this answer if nothing is being answered on it."""
        self.refusing = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            answering = cycle.response_started or not cycle.more_body
            cycle.disconnected = True  # the application's reads end, its writes go nowhere
            cycle.message_event.set()
            if answering:
                answer = None
        if answer is not None and not self.transport.is_closing():
            self.transport.write(answer)
        self.transport.close()


def protocol_class(limits: Limits) -> Any:
    """What ``uvicorn.Config(http=...)`` takes for these limits (picklable, for worker processes)."""
    return partial(HttpProtocol, limits=limits)


class Sweep:
    """One timer per server (event loop) that checks every connection's deadline each second."""

    _servers: weakref.WeakSet[ServerState] = weakref.WeakSet()

    @classmethod
    def watch(cls, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        if state in cls._servers:
            return
        cls._servers.add(state)

        def sweep() -> None:
            now = loop.time()
            for connection in list(state.connections):
                check = getattr(connection, "check_deadline", None)
                if check is not None:
                    check(now)
            loop.call_later(SWEEP_SECONDS, sweep)

        loop.call_later(SWEEP_SECONDS, sweep)
