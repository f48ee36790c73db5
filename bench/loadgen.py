"""A small load generator for request chains (wrk cannot follow a flow): raw HTTP/1.1 over asyncio
with keep-alive, one connection per worker. The same generator drives Hospes and the peer.

It is deliberately minimal: requests are built as bytes, responses parsed just enough (status,
headers, Content-Length body). Both servers answer with Content-Length, so chunked bodies are
not needed.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class Connection:
    """One keep-alive connection to host:port; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, target: str, *, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> Response:
        for attempt in (0, 1):
            if self.writer is None:
                await self._open()
            assert self.reader is not None and self.writer is not None
            lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            for k, v in (headers or {}).items():
                lines.append(f"{k}: {v}")
            if body or method == "POST":
                lines.append(f"Content-Length: {len(body)}")
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
            try:
                self.writer.write(raw)
                return await self._read()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    async def _read(self) -> Response:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        first, *rest = head.decode("latin-1").split("\r\n")
        status = int(first.split(" ", 2)[1])
        hdrs: dict[str, str] = {}
        cookies: list[str] = []
        for line in rest:
            if not line:
                continue
            k, _, v = line.partition(":")
            k, v = k.strip().lower(), v.strip()
            if k == "set-cookie":
                cookies.append(v)
            hdrs[k] = v
        length = int(hdrs.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return Response(status, hdrs, cookies, body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Browser:
    """A cookie jar over one connection: enough for a login flow."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = Connection(host, port)
        self.jar: dict[str, str] = {}

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())} if self.jar else {}

    async def get(self, target: str) -> Response:
        r = await self.conn.request("GET", target, headers=self._cookie_header())
        self._store(r)
        return r

    async def post_form(self, target: str, fields: dict[str, str]) -> Response:
        body = urlencode(fields).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded", **self._cookie_header()}
        r = await self.conn.request("POST", target, headers=h, body=body)
        self._store(r)
        return r

    def _store(self, r: Response) -> None:
        for raw in r.cookies:
            c = SimpleCookie()
            try:
                c.load(raw)
            except Exception:  # noqa: S112 - a cookie we cannot parse is one we do not need
                continue
            for k, morsel in c.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.jar.pop(k, None)
                else:
                    self.jar[k] = morsel.value


def target_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (("?" + parts.query) if parts.query else "")


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    started: float = 0.0
    ended: float = 0.0

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies)
        n = len(lat)
        elapsed = max(self.ended - self.started, 1e-9)

        def pct(p: float) -> float:
            return lat[min(n - 1, int(p * n))] * 1000 if n else 0.0

        return {"requests": n, "errors": self.errors, "seconds": round(elapsed, 2),
                "rps": round(n / elapsed, 1), "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2)}


async def run_workers(work, items_per_worker: list[list], duration: float | None = None) -> Stats:
    """Run ``work(item) -> bool`` over each worker's items (one worker per list), timing each call."""
    stats = Stats()
    deadline = None

    async def worker(items: list) -> None:
        for item in items:
            if deadline is not None and time.perf_counter() > deadline:
                return
            t = time.perf_counter()
            try:
                ok = await work(item)
            except Exception:  # noqa: BLE001 - a failed request counts as an error, the run goes on
                ok = False
            if ok:
                stats.latencies.append(time.perf_counter() - t)
            else:
                stats.errors += 1

    stats.started = time.perf_counter()
    if duration is not None:
        deadline = stats.started + duration
    await asyncio.gather(*(worker(items) for items in items_per_worker))
    stats.ended = time.perf_counter()
    return stats
