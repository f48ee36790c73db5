"""Logs: their form (HOSPES_LOG_FORMAT, text or JSON) and the id of the request being answered.

Why the standard library's logging and not structlog: every record Hospes writes already goes through a
``logging`` logger, and so do uvicorn's, SQLAlchemy's and the MCP SDK's. One ``Formatter`` on the root handler
turns all of them into JSON lines, with no second logging system to bridge and no new dependency; the lines
are serialised with orjson, which Hospes already uses for its answers.

The request id: each request gets one (web/oauth_endpoints.py ``HotPaths``), taken from a trusted proxy's
``X-Request-ID`` when it is well-formed (``accepted``) and made here otherwise. It is answered in the
``X-Request-ID`` header, carried by every log record written while the request runs (a context variable,
which threads started by ``asyncio.to_thread`` and Starlette's thread pool inherit) and written into every
audit entry the request makes (audit.py).

Never a secret: the access line has the path without its query string (web/security.py ``logged_path`` hides
what follows a secret path's prefix); an error is logged by its type and the code's frames, never by the
values it was raised with beyond its first line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import time
import traceback
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

import orjson

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_request_id: ContextVar[str | None] = ContextVar("hospes_request_id", default=None)
# What a proxy's X-Request-ID may be: nginx's $request_id (32 hex digits), a UUID, or another short id of
# these characters; anything else (long, spaces, control characters, quotes) is replaced by one of ours.
_WELL_FORMED = re.compile(rb"[A-Za-z0-9._-]{1,64}\Z")


def new_request_id() -> str:
    return os.urandom(8).hex()


def accepted(value: bytes | None) -> str | None:
    """A proxy's X-Request-ID as Hospes keeps it, or None when it is missing or not well-formed."""
    if value is None or _WELL_FORMED.match(value) is None:
        return None
    return value.decode("ascii")


def bind(request_id: str) -> Token[str | None]:
    """``request_id`` is the current request's until ``unbind``."""
    return _request_id.set(request_id)


def unbind(token: Token[str | None]) -> None:
    _request_id.reset(token)


def request_id() -> str | None:
    """The id of the request being answered in this context, if any."""
    return _request_id.get()


_stamp_second = -1
_stamp = ""


def _time(t: float) -> str:
    """ISO 8601 in UTC with milliseconds; the part to the second made once a second (it is most of the cost)."""
    global _stamp_second, _stamp
    second = int(t)
    if second != _stamp_second:
        _stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _stamp_second = second
    return f"{_stamp}.{int((t - second) * 1000):03d}+00:00"


class _Lines:
    """JSON lines written straight to standard error, those of one event-loop turn in one write: a request's
    line costs no logging record, no lock and no system call of its own (the handler's formatter would
    double a userinfo call's cost). Each write holds whole lines, so they never mix with the handler's."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []

    def add(self, line: bytes) -> None:
        if not self.pending:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a thread): written at once
                self.pending.append(line)
                self.flush()
                return
        self.pending.append(line)

    def flush(self) -> None:
        data, self.pending = b"".join(self.pending), []
        try:
            sys.stderr.flush()  # what the logging handler wrote first comes first
            os.write(sys.stderr.fileno(), data)
        except (OSError, ValueError):
            pass  # a closed or full stderr loses a log line, never a request


_lines = _Lines()
_access = logging.getLogger("hospes.access")


def access_line(message: str, fields: dict[str, Any]) -> None:
    """The JSON line of a request (logger ``hospes.access``, whose level still decides), in the form of
    ``JsonFormatter``'s lines."""
    if not _access.isEnabledFor(logging.INFO):
        return
    _lines.add(orjson.dumps({"time": _time(time.time()), "level": "info", "logger": "hospes.access",
                             "message": message, **fields}, default=str) + b"\n")


def _frames(exc: BaseException) -> list[str]:
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)]


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the request id when a request is
    being answered, the record's structured ``fields`` (the access line's), and for an exception its type,
    its first line and where it went through (file, line, function: no values)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = _request_id.get()
        if rid is not None:
            out["request_id"] = rid
        fields = getattr(record, "fields", None)
        if fields:
            out.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["error_type"] = type(exc).__qualname__
            out["traceback"] = _frames(exc)
        return orjson.dumps(out, default=str).decode()


def configure(log_format: str) -> None:
    """The root logger of this process: INFO and up to stderr, in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)


def uvicorn_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's ``log_config`` (applied in each worker process): None for text (uvicorn's own lines); in JSON
    every logger, uvicorn's too, writes through the root's JSON handler. uvicorn's access log stays off: Hospes
    writes its own line per request (web/security.py ``access_log``)."""
    if log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "hospes.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {name: {"handlers": [], "propagate": True, "level": "INFO"}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
