"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: send it traffic).

``/readyz`` answers within ``READY_WITHIN`` seconds whatever the database does, 200 when every check passes and
503 otherwise, with a JSON body naming each check and what failed:

- ``database``: a write commits now (store/health.py), within the time left, on the store's writer like a token
  request's (so on SQLite it queues with them rather than beside them);
- ``migrations``: the database's schema version is this code's Alembic head, or a newer release's (a rolling
  upgrade: migrations only add, docs/DEPLOYING.md);
- ``keys``: the key ring holds an active signing key (read from memory).
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hospes.store import migrate
from hospes.store.health import write_probe
from hospes.store.unavailable import is_unavailable
from hospes.web import failures
from hospes.web.context import web_of

READY_WITHIN = 1.0
# The database check's own deadline, leaving the rest of READY_WITHIN for the answer.
WRITE_WITHIN = 0.8

NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    web = web_of(request)
    start = time.monotonic()
    checks: dict[str, str] = {}
    try:
        version = await asyncio.wait_for(web.provider.db.writer.run(write_probe, timeout=WRITE_WITHIN), WRITE_WITHIN)
    except Exception as exc:
        if is_unavailable(exc):
            checks["database"] = f"no write committed within {WRITE_WITHIN:g} s"
        else:  # e.g. no alembic_version table: not a database the migrations made
            request_id = failures.report(request.method, request.url.path, exc)
            checks["database"] = f"the write failed ({type(exc).__name__}, request {request_id})"
        checks["migrations"] = "unknown: the database did not answer"
    else:
        checks["database"] = "ok"
        left = READY_WITHIN - (time.monotonic() - start)
        try:
            # Read once from the migration scripts, then from memory.
            expected = await asyncio.wait_for(asyncio.to_thread(migrate.head), max(0.05, left - 0.05))
        except TimeoutError:
            expected = "unknown"
        if version == expected:
            checks["migrations"] = "ok"
        elif version is not None and expected != "unknown" and not migrate.known(version):
            # A newer release migrated it (a rolling upgrade): migrations only add, so this node still serves.
            checks["migrations"] = f"ok (the database is at {version}, newer than this code's {expected})"
        else:
            checks["migrations"] = (f"the database is at revision {version}, this code at {expected}: "
                                    "run `hospes db upgrade`")
    keys = web.provider.keys
    try:
        if keys.loaded:  # from memory
            keys.signing_key()
        else:  # the first read goes to the database: off the event loop, within what is left of the second
            left = READY_WITHIN - (time.monotonic() - start)
            await asyncio.wait_for(asyncio.to_thread(keys.signing_key), max(0.05, left - 0.05))
        checks["keys"] = "ok"
    except TimeoutError:
        checks["keys"] = "not loaded yet: the database did not answer in time"
    except Exception as exc:
        checks["keys"] = f"no signing key: {exc}"[:200]
    ready = all(v == "ok" or v.startswith("ok (") for v in checks.values())
    headers = NO_STORE if ready else {**NO_STORE, "Retry-After": failures.RETRY_AFTER}
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503, headers=headers)
