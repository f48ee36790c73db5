"""A database partition under load, by hand (docs/OPERATIONS.md, "Database faults and deadlines").

A real ``hospes serve`` on PostgreSQL behind a loopback proxy that holds traffic (tests/holdproxy.py). Clients
redeem codes, refresh tokens and call userinfo without pause; a prober calls /readyz every 0.25 s. After a
normal stretch the proxy holds the traffic for ``--hold`` seconds, then lets it go. Printed at the end: the
slowest answer during the hold (each kind), /readyz's, how long after the release the server answered
again, how many codes and refresh tokens were consumed without their answer having been delivered (each
one that answered 503 is sent again afterwards: it must still work), and the size of the server's log.

    .venv/bin/python bench/partition.py --hold 60 --clients 32 \\
        --database postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browserless import authorize, query_of  # noqa: E402
from tests.holdproxy import HoldProxy  # noqa: E402

PASSWORD = "correct horse battery staple"


def _setup(url: str) -> tuple[str, str, str, str]:
    from hospes.accounts.service import add_client
    from hospes.oauth import credentials
    from hospes.store.db import Database
    from hospes.store.migrate import upgrade

    sa = url.replace("postgresql://", "postgresql+psycopg://", 1)
    upgrade(sa)
    db = Database(sa)
    with db.transaction() as s:
        add_client(s, email="load@example.com", first_name="Load", last_name="Test", password=PASSWORD)
    with db.transaction() as s:
        cred = credentials.create(s, scope="openid profile email offline_access", name="load",
                                  redirect_uris=["https://rp.example.com/cb"], grant_type="authorization_code")
    db.dispose()
    return "load@example.com", cred.client_identifier, cred.client_secret, "https://rp.example.com/cb"


def _codes(base: str, email: str, client_id: str, redirect: str, n: int) -> list[str]:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
              "scope": "openid offline_access", "state": "s"}
    codes = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(n):
            r = authorize(http, "/oauth/authorize.php?" + urlencode(params), email, PASSWORD)
            codes.append(query_of(r.headers["location"])["code"])
    return codes


async def _load(base: str, cred: tuple[str, str, str], codes: list[str], refresh: list[str], access: str,
                clients: int, phases: dict[str, float], proxy: HoldProxy, hold: float) -> dict[str, Any]:
    client_id, secret, redirect = cred
    events: list[tuple[str, float, float, int]] = []  # kind, start, duration, status
    unanswered: dict[str, list[str]] = {"code": [], "refresh": []}
    stop = asyncio.Event()
    first_answer: dict[str, tuple[int, float]] = {}  # what a code or refresh token got, when (from the hold)
    hold_start = [time.monotonic() + phases["before"]]

    async def one(kind: str, send: Any) -> httpx.Response | None:
        start = time.monotonic()
        try:
            r = await send
            events.append((kind, start, time.monotonic() - start, r.status_code))
            return r
        except httpx.HTTPError:
            events.append((kind, start, time.monotonic() - start, 0))
            return None

    async def client(i: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while not stop.is_set():
                pick = random.random()  # noqa: S311 (the mix of requests, not a secret)
                if pick < 0.05 and codes:
                    code = codes.pop()
                    r = await one("code", http.post("/oauth/token.php", data={
                        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
                        auth=(client_id, secret)))
                    if r is None or r.status_code != 200:
                        unanswered["code"].append(code)
                        first_answer[code] = (r.status_code if r is not None else 0, time.monotonic() - hold_start[0])
                elif pick < 0.2 and refresh:
                    token = refresh.pop()
                    r = await one("refresh", http.post("/oauth/token.php", data={
                        "grant_type": "refresh_token", "refresh_token": token}, auth=(client_id, secret)))
                    if r is not None and r.status_code == 200:
                        refresh.append(r.json()["refresh_token"])
                    else:
                        unanswered["refresh"].append(token)
                        first_answer[token] = (r.status_code if r is not None else 0, time.monotonic() - hold_start[0])
                else:
                    await one("userinfo", http.get("/oauth/userinfo.php",
                                                   headers={"Authorization": "Bearer " + access}))

    async def prober() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while not stop.is_set():
                await one("readyz", http.get("/readyz"))
                await one("healthz", http.get("/healthz"))  # no database: is the server itself answering?
                await asyncio.sleep(0.25)

    tasks = [asyncio.create_task(client(i)) for i in range(clients)] + [asyncio.create_task(prober())]
    t0 = time.monotonic()
    await asyncio.sleep(phases["before"])
    held_at = hold_start[0] = time.monotonic()
    proxy.hold()
    await asyncio.sleep(hold)
    proxy.release()
    released_at = time.monotonic()
    await asyncio.sleep(phases["after"])
    stop.set()
    await asyncio.gather(*tasks)

    def during(kind: str) -> list[tuple[str, float, float, int]]:
        return [e for e in events if e[0] == kind and held_at <= e[1] < released_at]

    figures: dict[str, Any] = {"requests": len(events), "seconds": round(time.monotonic() - t0, 1)}
    for kind in ("code", "refresh", "userinfo", "readyz", "healthz"):
        held = during(kind)
        figures[f"{kind}_during_hold"] = {
            "n": len(held), "max_s": round(max((e[2] for e in held), default=0), 3),
            "statuses": sorted({e[3] for e in held})}
    # Recovery: the first 200 answered after the release (whenever its request was sent), and the first
    # request sent after the release that was answered 200.
    ok = [e for e in events if e[3] == 200 and e[1] + e[2] >= released_at]
    for kind in ("userinfo", "code", "refresh", "readyz"):
        ends = [e[1] + e[2] - released_at for e in ok if e[0] == kind]
        sent_after = [e[1] + e[2] - released_at for e in ok if e[0] == kind and e[1] >= released_at]
        figures[f"{kind}_first_200_after_release_s"] = round(min(ends, default=-1), 3)
        figures[f"{kind}_first_sent_after_release_200_s"] = round(min(sent_after, default=-1), 3)
    with open(os.environ.get("PARTITION_TIMELINE", os.devnull), "w") as out:
        for e in sorted(events, key=lambda e: e[1]):
            out.write(f"{e[0]} {e[1] - released_at:.3f} {e[2]:.3f} {e[3]}\n")
    # Everything that did not get its 200 is sent again now: it must still work (it was not consumed).
    consumed = {"code": 0, "refresh": 0}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for code in unanswered["code"]:
            r = await http.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                          "redirect_uri": redirect}, auth=(client_id, secret))
            if r.status_code != 200:
                consumed["code"] += 1
                figures.setdefault("consumed_detail", []).append([*first_answer[code], r.text[:120]])
        for token in unanswered["refresh"]:
            r = await http.post("/oauth/token.php", data={"grant_type": "refresh_token", "refresh_token": token},
                                auth=(client_id, secret))
            if r.status_code != 200:
                consumed["refresh"] += 1
                figures.setdefault("consumed_detail", []).append([*first_answer[token], r.text[:120]])
    figures["unanswered"] = {k: len(v) for k, v in unanswered.items()}
    figures["consumed_without_answer"] = consumed
    return figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default=os.environ.get("HOSPES_TEST_DATABASE_URL",
                                                          "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--hold", type=float, default=60)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--codes", type=int, default=600)
    args = ap.parse_args()

    admin = create_engine(args.database.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    name = f"hospes_partition_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.database).set(database=name)
    work = Path(tempfile.mkdtemp(prefix="hospes-partition-"))
    proxy = HoldProxy((url.host or "127.0.0.1", url.port or 5432))
    proc = None
    try:
        email, client_id, secret, redirect = _setup(url.render_as_string(hide_password=False))
        through = url.set(host="127.0.0.1", port=proxy.start()).render_as_string(hide_password=False)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "HOSPES_ISSUER": base, "HOSPES_DATABASE_URL": through,
               "HOSPES_VAR_DIR": str(work / "var"), "HOSPES_AUTH_CODE_TTL": "600"}
        log = work / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "hospes.cli", "serve", "--port", str(port)], env=env,
                                    stdout=out, stderr=subprocess.STDOUT, cwd=work)
        for _ in range(600):
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        codes = _codes(base, email, client_id, redirect, args.codes)
        with httpx.Client(base_url=base, timeout=30) as http:
            first = [http.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": codes.pop(),
                                                         "redirect_uri": redirect}, auth=(client_id, secret)).json()
                     for _ in range(args.clients)]
        refresh = [t["refresh_token"] for t in first]
        size_before = log.stat().st_size
        figures = asyncio.run(_load(base, (client_id, secret, redirect), codes, refresh, first[0]["access_token"],
                                    args.clients, {"before": 10, "after": 10}, proxy, args.hold))
        figures["log_bytes_written"] = log.stat().st_size - size_before
        figures["log_tracebacks"] = log.read_text().count("Traceback (most recent call last)")
        print(json.dumps(figures, indent=2))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        proxy.stop()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
