"""What the operator reads on /metrics (rendered by web/metrics.py; docs/OPERATIONS.md lists every metric).

A base module, framework-free, so that the core counts where the thing happens (a login in accounts/login.py,
a token response in oauth/token.py, a write in store/writer.py) and one place holds every name and label.
Labels take values from small fixed sets (an endpoint's route template, a status, a grant type the server
offers, an error code): never a path, a token, an id or an address.

Counting is cheap: a metric's child for a set of labels is looked up once and kept (``_Children``), and what
a request counts on the event loop (its own count and time, the hot lookups' and the writer's time) goes into
plain dicts there (``BATCH``), passed to prometheus-client at most a second later and before a scrape: the
client's own ``inc`` and ``observe`` take a lock per value (and, under --workers, write a file), about 5 µs per
observation, several percent of a userinfo call. Logins and token responses, less frequent, count directly.

With ``hospes serve --workers N`` the supervisor (workers.py) sets PROMETHEUS_MULTIPROC_DIR before the
workers start: prometheus-client then keeps each process's values in memory-mapped files there, and a scrape
in any worker adds up every worker's (its multiprocess mode,
https://prometheus.github.io/client_python/multiprocess/). The variable must be set before prometheus_client
is imported, which is why the workers read it from their environment at start.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_left
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# Seconds; from a cached userinfo answer (about 100 µs) to the database deadline (3 s) and beyond.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess() -> bool:
    """Whether this process writes its values for a multiprocess scrape (``serve --workers N``)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _Children:
    """A metric's children by label values, each made once (prometheus-client's ``labels()`` takes a lock and
    builds its key on every call)."""

    __slots__ = ("metric", "children")

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self.children.get(labels)
        if child is None:
            child = self.children[labels] = self.metric.labels(*labels)
        return child


REQUESTS = _Children(Counter(
    "hospes_http_requests", "HTTP requests answered, by route template and status.", ["endpoint", "status"]))
REQUEST_SECONDS = _Children(Histogram(
    "hospes_http_request_duration_seconds", "Time to answer an HTTP request, by route template.", ["endpoint"],
    buckets=LATENCY_BUCKETS))
LOGINS = _Children(Counter(
    "hospes_logins", "Login attempts by who logs in (customer, admin), step (password, second_factor) and "
    "outcome (ok, second_factor_due, failed, throttled, expired).", ["kind", "step", "outcome"]))
GRANTS = _Children(Counter(
    "hospes_token_grants", "Token responses given, by grant type.", ["grant_type"]))
TOKENS_ISSUED = _Children(Counter(
    "hospes_tokens_issued", "Tokens issued by the token endpoint, by kind (access_token, refresh_token, "
    "id_token).", ["token"]))
TOKENS_REFUSED = _Children(Counter(
    "hospes_token_refused", "Token requests refused, by grant type and the error code (RFC 6749 §5.2).",
    ["grant_type", "error"]))
DB_SECONDS = _Children(Histogram(
    "hospes_db_duration_seconds", "Time of database operations: writer_unit (a token or revocation endpoint's "
    "write, queue wait and commit included) and the hot lookups (userinfo, api_token, api_first_page, audience_token, "
    "introspection).", ["operation"], buckets=LATENCY_BUCKETS))
# Summed over the live workers; a dead worker's value is dropped (workers.py: mark_process_dead).
WRITER_QUEUE = Gauge("hospes_writer_queue_depth", "Write units waiting for or in the database writer.",
                     multiprocess_mode="livesum")

ISSUED_KINDS = ("access_token", "refresh_token", "id_token")


# False with HOSPES_METRICS=off (app.py): nothing is timed or counted.
ON = True


def turn(on: bool) -> None:
    global ON
    ON = on


# How long counts taken on the event loop may wait before prometheus-client has them.
FLUSH_S = 1.0


class _Batch:
    """Requests and database times taken on the event loop's thread, added up in plain lists (a count, a sum,
    a count per bucket) and handed to prometheus-client by ``flush``, which the loop runs ``FLUSH_S`` after
    the first of them. Only the loop's thread adds (one loop per worker process). When the flush that was due
    has not happened (its loop is gone: a test's), the next addition schedules another."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], list[float]] = {}  # (endpoint, status): [count, sum, buckets...]
        self.database: dict[str, list[float]] = {}  # operation: [count, sum, buckets...]
        self.deadline = 0.0

    def schedule(self, now: float) -> None:
        self.deadline = now + FLUSH_S + 1.0
        asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Hand what was added up to prometheus-client: a counter child's ``inc``, and a histogram child's sum
        and buckets, which its own ``observe`` increments one observation at a time."""
        self.deadline = 0.0
        requests, self.requests = self.requests, {}
        database, self.database = self.database, {}
        for (endpoint, status), row in requests.items():
            REQUESTS(endpoint, str(status)).inc(row[0])
            _add(REQUEST_SECONDS(endpoint), row)
        for operation, row in database.items():
            _add(DB_SECONDS(operation), row)


def _add(child: Any, row: list[float]) -> None:
    child._sum.inc(row[1])
    for i, n in enumerate(row[2:]):
        if n:
            child._buckets[i].inc(n)


BATCH = _Batch()
_ROW = 3 + len(LATENCY_BUCKETS)  # count, sum, the buckets and +Inf


def answered(endpoint: str, status: int, start: float) -> None:
    """An answered HTTP request (web/metrics.py, HotPaths), on the event loop; ``start``: its
    time.perf_counter() on arrival. One call, no lock: it runs for every request."""
    _observe(BATCH.requests, (endpoint, status), start)


def database_done(operation: str, start: float) -> None:
    """A database operation that began at ``start`` (time.perf_counter()) ended now, on the event loop."""
    _observe(BATCH.database, operation, start)


def _observe(rows: dict[Any, list[float]], key: Any, start: float) -> None:
    """One observation, added to ``rows[key]`` (count, sum, then a count per bucket) until the batch is handed on."""
    now = time.perf_counter()
    row = rows.get(key)
    if row is None:
        row = rows[key] = [0.0] * _ROW
    seconds = now - start
    row[0] += 1.0
    row[1] += seconds
    # The bucket Histogram.observe counts: the first bound the value is not above (past the last: +Inf).
    row[2 + bisect_left(LATENCY_BUCKETS, seconds)] += 1.0
    if now >= BATCH.deadline:
        BATCH.schedule(now)


def login(kind: str, step: str, outcome: object) -> None:
    """A login's outcome (accounts/login.py's value; its class name tells which)."""
    if not ON:
        return
    LOGINS(kind, step, _OUTCOMES.get(type(outcome).__name__, "other")).inc()


_OUTCOMES = {"LoggedIn": "ok", "SecondFactorDue": "second_factor_due", "Wrong": "failed", "Throttled": "throttled",
             "Expired": "expired"}


def token_issued(grant_type: str, body: dict[str, Any]) -> None:
    """A token response of a grant the server offers (its own name: never the client's text)."""
    if not ON:
        return
    GRANTS(grant_type).inc()
    for kind in ISSUED_KINDS:
        if kind in body:
            TOKENS_ISSUED(kind).inc()


def token_refused(grant_type: str | None, error: str) -> None:
    """A refused token request: ``grant_type`` None when the request named no grant the server offers."""
    if not ON:
        return
    TOKENS_REFUSED(grant_type or "unsupported", error).inc()

