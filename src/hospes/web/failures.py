"""A request that failed: what it answers when the database is unavailable, and what it logs.

- Unavailable (store/unavailable.py: a deadline passed, a connection refused or broken): 503 with Retry-After
  (RFC 9110 §15.6.4, §10.2.3). The request changed nothing, so the client may send it again.
- Logging: one line per failed request, with the request's id (hospes/logs.py), which the answer carries in
  ``X-Request-Id`` (and a page shows). The traceback is written the first time an error of a kind
  (its type and the line that raised it) is seen by this process, and at most ``LINES_PER_SECOND`` lines a
  second are written for one kind, the rest counted in one line: a minute of outage is a few hundred lines,
  not megabytes.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from hospes import logs
from hospes.store.unavailable import is_unavailable
from hospes.web.security import logged_path

log = logging.getLogger("hospes.web")

RETRY_AFTER = "2"  # seconds: a database back from an outage is used again at once (store/pg.py, store/db.py)
LINES_PER_SECOND = 10
_MAX_KINDS = 1000

# RFC 6749 §4.1.2.1 names temporarily_unavailable (the authorization endpoint's error); the token, userinfo,
# introspection and revocation endpoints answer a database outage with the same code, in their JSON form.
UNAVAILABLE = {"error": "temporarily_unavailable",
               "error_description": "The service is temporarily unavailable. Try again shortly."}
SERVER_ERROR = {"error": "server_error", "error_description": "The server could not answer this request."}



class _Kind:
    __slots__ = ("second", "lines", "suppressed")

    def __init__(self) -> None:
        self.second = 0
        self.lines = 0
        self.suppressed = 0


_kinds: dict[tuple[str, str, int], _Kind] = {}
_lock = threading.Lock()


_OURS = os.sep + "hospes" + os.sep


def _where(exc: BaseException) -> tuple[str, int]:
    """Where ``exc`` was raised: the innermost frame of Hospes's own code in its traceback (else the innermost)."""
    tb = exc.__traceback__
    where = ("?", 0)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if _OURS in filename or where[0] == "?" or _OURS not in where[0]:
            where = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


def _brief(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0]
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def report(method: str, path: str, exc: BaseException) -> str:
    """Log the failure of ``method path`` (see the module's docstring); its request id (the request's own,
    hospes/logs.py, which the answer carries in X-Request-Id)."""
    request_id = logs.request_id() or logs.new_request_id()
    path = logged_path(path)
    key = (type(exc).__qualname__, *_where(exc))
    second = int(time.monotonic())
    with _lock:
        kind = _kinds.get(key)
        first = kind is None
        if kind is None:
            if len(_kinds) >= _MAX_KINDS:
                _kinds.clear()
            kind = _kinds[key] = _Kind()
        suppressed = 0
        if kind.second != second:
            kind.second, kind.lines, suppressed, kind.suppressed = second, 0, kind.suppressed, 0
        kind.lines += 1
        write = kind.lines <= LINES_PER_SECOND
        if not write:
            kind.suppressed += 1
    what = "unavailable" if is_unavailable(exc) else "failed"
    if suppressed:
        log.error("%d more requests %s with %s in the last seconds (not logged one by one)", suppressed, what,
                  _brief(exc))
    if first:
        log.error("%s %s %s [request %s]: %s", method, path, what, request_id, _brief(exc), exc_info=exc)
    elif write:
        log.error("%s %s %s [request %s]: %s (traceback logged once before)", method, path, what, request_id,
                  _brief(exc))
    return request_id
