"""The HTTP server of `hospes serve` (each worker's): uvicorn's options from the settings, a shutdown that
is bounded in time, and the process's descriptor limit raised so that connections do not run out of them."""

from __future__ import annotations

import os
import resource
import signal
import threading
from types import FrameType
from typing import Any

import uvicorn

from hospes import logs
from hospes.config import Settings
from hospes.web.protocol import Limits, protocol_class

# After the graceful timeout, uvicorn cancels what still runs and stops the application (closing the
# database pools): this long at most, then the process exits whatever still runs (a thread blocked in a call).
EXIT_MARGIN_S = 3.0
# Where the hard limit is unlimited, the soft limit is raised to this.
MAX_DESCRIPTORS = 1 << 20


def uvicorn_options(settings: Settings, graceful_timeout: float) -> dict[str, Any]:
    """uvicorn.Config's options for these settings (every value picklable, for worker processes)."""
    limits = Limits(max_header_bytes=settings.max_header_bytes, header_timeout=settings.header_timeout,
                    body_timeout=settings.body_timeout, max_requests=settings.max_concurrent_requests)
    options: dict[str, Any] = {
        "http": protocol_class(limits), "timeout_keep_alive": settings.keep_alive_timeout,
        "timeout_graceful_shutdown": graceful_timeout, "access_log": False, "log_level": "info",
        "proxy_headers": False, "server_header": False}
    log_config = logs.uvicorn_config(settings.log_format)
    if log_config is not None:  # JSON: every worker's loggers, uvicorn's too (text keeps uvicorn's own)
        options["log_config"] = log_config
    return options


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open files to the hard limit (often 1,024 against 524,288): every connection is
    a descriptor, and the database needs its own. Returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_DESCRIPTORS if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


class Server(uvicorn.Server):
    """uvicorn's server, whose shutdown is bounded: on SIGTERM (or SIGINT) requests in flight get
    ``timeout_graceful_shutdown`` seconds, then uvicorn cancels them; should the process still run
    ``EXIT_MARGIN_S`` later, it exits."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        grace = self.config.timeout_graceful_shutdown
        if not self.should_exit and grace is not None:
            timer = threading.Timer(grace + EXIT_MARGIN_S, _exit_now, (sig,))
            timer.daemon = True
            timer.start()
        super().handle_exit(sig, frame)


def _exit_now(sig: int) -> None:
    os.write(2, b"hospes: still running after the graceful timeout; exiting\n")
    os._exit(128 + sig if sig in (signal.SIGTERM, signal.SIGINT) else 1)
