"""A TCP proxy on loopback that can hold traffic: while held it forwards nothing and closes nothing, as a
network partition or a server that stopped answering looks to a client; released, it forwards what waited.

In a thread of its own (its own event loop), for a test: ``HoldProxy(("127.0.0.1", 5432)).start()`` gives its
port; ``hold()``, ``release()``, ``stop()``. Run as a program for a fault run by hand (docs/OPERATIONS.md):
``python -m tests.holdproxy LISTEN_PORT TARGET_HOST:TARGET_PORT``; each line read on stdin toggles the hold.
"""

from __future__ import annotations

import asyncio
import sys
import threading


class HoldProxy:
    def __init__(self, target: tuple[str, int], port: int = 0) -> None:
        self.target = target
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._open = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="hold-proxy", daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> int:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self.port

    async def _listen(self) -> None:
        self._open.set()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Held: a new connection reaches nothing, as a SYN lost in a partition. One its client gave up on
        # meanwhile (a connection attempt, asyncpg's cancel request) never reaches the server: an abandoned
        # attempt is not retransmitted.
        buffered = b""
        while not self._open.is_set():
            read = asyncio.ensure_future(reader.read(65536))
            opened = asyncio.ensure_future(self._open.wait())
            await asyncio.wait({read, opened}, return_when=asyncio.FIRST_COMPLETED)
            opened.cancel()
            if not read.done():
                read.cancel()
                break
            data = read.result()
            if not data:
                writer.close()
                return
            buffered += data
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        up_writer.write(buffered)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            await self._open.wait()  # a close waits for the release too
            writer.close()

    def hold(self) -> None:
        self._loop.call_soon_threadsafe(self._open.clear)

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._open.set)

    def stop(self) -> None:
        async def close() -> None:
            self._open.set()
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main() -> None:
    listen, target = int(sys.argv[1]), sys.argv[2].rsplit(":", 1)
    proxy = HoldProxy((target[0], int(target[1])), listen)
    proxy.start()
    print(f"proxy on 127.0.0.1:{proxy.port} -> {sys.argv[2]}; a line on stdin holds or releases", flush=True)
    held = False
    for _line in sys.stdin:
        held = not held
        (proxy.hold if held else proxy.release)()
        print("held" if held else "released", flush=True)


if __name__ == "__main__":
    main()
