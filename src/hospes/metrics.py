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
    "write, queue wait and commit included) and the hot lookups (userinfo, api_token, audience_token, "
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
    """Counts and observations taken on the event loop's thread, added up in plain Python and handed to
    prometheus-client by ``flush``, which the loop runs ``FLUSH_S`` after the first of them. Only the loop's
    thread calls it (one loop per worker process). ``now`` is the caller's time.perf_counter(): when the
    flush that was due has not happened (its loop is gone: a test's), the next count schedules another."""

    def __init__(self) -> None:
        self.counts: dict[Any, float] = {}
        self.observed: dict[Any, list[float]] = {}  # a histogram's child: [sum, count per bucket...]
        self.deadline = 0.0

    def inc(self, child: Any, now: float) -> None:
        self.counts[child] = self.counts.get(child, 0.0) + 1.0
        if now >= self.deadline:
            self._schedule(now)

    def observe(self, child: Any, value: float, now: float) -> None:
        row = self.observed.get(child)
        if row is None:
            row = self.observed[child] = [0.0] * (len(child._upper_bounds) + 1)
        row[0] += value
        # The bucket Histogram.observe would count: the first bound the value is not above (+Inf is the last).
        row[1 + bisect_left(child._upper_bounds, value)] += 1.0
        if now >= self.deadline:
            self._schedule(now)

    def _schedule(self, now: float) -> None:
        self.deadline = now + FLUSH_S + 1.0
        asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Hand what was counted to prometheus-client (its histogram child's sum and buckets, which its own
        ``observe`` increments one at a time)."""
        self.deadline = 0.0
        counts, self.counts = self.counts, {}
        observed, self.observed = self.observed, {}
        for child, n in counts.items():
            child.inc(n)
        for child, row in observed.items():
            child._sum.inc(row[0])
            for i, n in enumerate(row[1:]):
                if n:
                    child._buckets[i].inc(n)


BATCH = _Batch()


_REQUEST_CHILDREN: dict[tuple[str, int], tuple[Any, Any]] = {}


def request(endpoint: str, status: int, seconds: float, now: float) -> None:
    """An answered HTTP request (web/metrics.py), on the event loop."""
    children = _REQUEST_CHILDREN.get((endpoint, status))
    if children is None:
        children = _REQUEST_CHILDREN[endpoint, status] = (REQUESTS(endpoint, str(status)), REQUEST_SECONDS(endpoint))
    BATCH.inc(children[0], now)
    BATCH.observe(children[1], seconds, now)


def db_time_on_loop(operation: str, seconds: float, now: float) -> None:
    """A database operation's time, measured on the event loop (the hot lookups, the writer's units)."""
    BATCH.observe(DB_SECONDS(operation), seconds, now)


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

