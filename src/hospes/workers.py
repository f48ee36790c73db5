"""``hospes serve --workers N``: N server processes, each with its own listening socket (SO_REUSEPORT).

Why not uvicorn's own supervisor: it binds one socket and shares it. Every idle worker then wakes for a
new connection and the first to run accepts a whole burst of them, so a reverse proxy's small pool of
keep-alive connections (or a load generator's) can land on one worker while the others idle, and what
a second worker adds changes from one run to the next. With SO_REUSEPORT each worker listens on its own
socket and the kernel spreads connections across them by a hash of the addresses (socket(7)).

The supervisor restarts a worker that dies, and stops them all on SIGINT or SIGTERM (each worker finishes
its requests in flight: uvicorn's graceful shutdown). The workers also die with the supervisor: killed
with SIGKILL, it cannot stop them, and orphans would keep the port so that the next ``serve`` could not
start. Where SO_REUSEPORT is missing it falls back to uvicorn's supervisor.

/metrics adds up every worker's counts (prometheus-client's multiprocess mode, hospes/metrics.py): the
supervisor makes a directory for this run (PROMETHEUS_MULTIPROC_DIR, unless the operator names one, which is
emptied first) before any worker starts, marks each worker that exits as dead (its live gauges leave the sum,
its counters stay), and removes the directory it made when it stops.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

log = logging.getLogger("hospes.workers")

APP = "hospes.app:create_app"
# A worker that exits sooner than this after it started is counted as failing to start.
_EARLY_EXIT_S = 5.0
_MAX_EARLY_EXITS = 5
# uvicorn's exit status when the application does not start.
STARTUP_FAILURE = 3


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listening_socket(host: str, port: int) -> socket.socket:
    """This worker's own socket in the port's SO_REUSEPORT group (listen() is called by the server)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def port_is_free(host: str, port: int) -> bool:
    """Bound without SO_REUSEPORT, so another server on the port (even an older Hospes, which would
    otherwise silently share the traffic) makes this fail."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


# prctl(2): PR_SET_PDEATHSIG, the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1
_PARENT_POLL_S = 1.0


def die_with_parent(parent: int) -> None:
    """Get SIGTERM when the supervisor ``parent`` dies, however it dies (SIGKILL included): uvicorn then
    stops listening at once and finishes its requests in flight. On Linux the kernel sends it (prctl(2)
    PR_SET_PDEATHSIG); elsewhere a thread watches the parent. A parent that died before this call
    (the race the prctl cannot see) makes the worker exit here."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:
        log.error("The supervisor (pid %d) is gone; this worker exits", parent)
        sys.exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), name="hospes-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)


MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[str]:
    """The directory where the workers keep their metrics for this run, set in the environment they inherit.
    Values left from an earlier run would be counted again, so an operator's own directory is emptied first."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        for old in Path(given).glob("*.db"):
            old.unlink()
        yield given
        return
    made = tempfile.mkdtemp(prefix="hospes-metrics-")
    os.environ[MULTIPROC_DIR] = made
    try:
        yield made
    finally:
        del os.environ[MULTIPROC_DIR]
        shutil.rmtree(made, ignore_errors=True)


def worker_exited(pid: int | None) -> None:
    """A dead worker's live gauges (the writer's queue depth) leave the sum; its counters stay."""
    from prometheus_client import multiprocess

    if pid is not None and os.environ.get(MULTIPROC_DIR):
        multiprocess.mark_process_dead(pid)


def _worker(host: str, port: int, options: dict[str, Any], parent: int) -> None:
    from hospes.web.server import Server

    die_with_parent(parent)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **options)
    server = Server(config)
    server.run(sockets=[listening_socket(host, port)])


class Supervisor:
    def __init__(self, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
        self.host, self.port, self.count, self.options = host, port, workers, options
        self.ctx = multiprocessing.get_context("spawn")
        self.processes: list[Any] = []
        self.started: list[float] = []
        self.stop = threading.Event()
        self.early_exits = 0

    def _spawn(self) -> tuple[Any, float]:
        p = self.ctx.Process(target=_worker, args=(self.host, self.port, self.options, os.getpid()),
                             name="hospes-worker")
        p.start()
        return p, time.monotonic()

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        for _ in range(self.count):
            p, t = self._spawn()
            self.processes.append(p)
            self.started.append(t)
        log.info("Started %d workers (pids %s) on %s:%d, one listening socket each",
                 self.count, ", ".join(str(p.pid) for p in self.processes), self.host, self.port)
        status = 0
        while not self.stop.wait(0.5):
            for i, p in enumerate(self.processes):
                if p.is_alive():
                    continue
                if time.monotonic() - self.started[i] < _EARLY_EXIT_S:
                    self.early_exits += 1
                if self.early_exits >= _MAX_EARLY_EXITS:
                    log.error("Workers keep exiting right after they start; stopping")
                    self.stop.set()
                    status = 1
                    break
                log.warning("Worker %d exited (code %s); starting another", p.pid, p.exitcode)
                worker_exited(p.pid)
                self.processes[i], self.started[i] = self._spawn()
        self._stop_all()
        return status

    def _stop_all(self) -> None:
        for p in self.processes:
            if p.is_alive():
                p.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
        # Each worker exits by itself within its graceful timeout and a margin (web/server.py).
        deadline = time.monotonic() + (self.options.get("timeout_graceful_shutdown") or 25) + 5
        for p in self.processes:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
            worker_exited(p.pid)


class CannotServe(Exception):
    """The workers cannot start: the message says why, in a line."""


def serve(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    from hospes.web.protocol import HttpProtocol
    from hospes.web.server import Server

    options = {"http": HttpProtocol, **options}
    if workers == 1:
        server = Server(uvicorn.Config(APP, factory=True, host=host, port=port, **options))
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    if not hasattr(socket, "SO_REUSEPORT"):
        with metrics_directory():
            uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, **options)
        return
    if port == 0:
        raise CannotServe("--workers N needs a fixed --port: with port 0 each worker would get a port of its own")
    if not port_is_free(host, port):
        raise CannotServe(f"cannot listen on {host}:{port}: the address is in use")
    with metrics_directory():
        status = Supervisor(host, port, workers, options).run()
    sys.exit(status)
