"""A soak with short lifetimes: do the tables stay flat while the server purges by itself?

Starts ``hospes serve`` on loopback with codes, tokens and sessions living a few seconds and the background
purge every 2 s, then runs whole logins over and over from a few threads (a new browser each time: login,
consent, code exchange, three refreshes that rotate the refresh token, userinfo, and every fourth time a
revocation of the refresh token, which revokes its grant). Every few seconds it counts the rows of the tables
the purge keeps small. A table is flat when, once the first ``WINDOW`` seconds are past, it never holds more
rows than the logins of the last ``WINDOW`` seconds made (``PER_LOGIN`` each, +20): what the last window made
is all it keeps, however long the run, and whatever the login rate does meanwhile. Without the purge every
table holds everything ever made, and fails this after twice the window. Stops by itself; loopback only.

    .venv/bin/python bench/soak.py [--duration 600] [--threads 2] [--workers 1]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup
from sqlalchemy import create_engine, text

# Rows one login makes: a code, a grant, a session; an access and a refresh token at the exchange and at
# each of three refreshes.
PER_LOGIN = {"authorization_codes": 1, "access_tokens": 4, "refresh_tokens": 4, "grants": 1, "login_sessions": 1}
TABLES = tuple(PER_LOGIN)
# Longer than any row lives here: the longest lifetime (10 s), the grace (2 s) and two purge intervals (2 s,
# +20 %) and a margin.
WINDOW = 20.0
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "http://127.0.0.1:9/cb"
# Lifetimes of a few seconds, so that a run of minutes sees many generations of every row.
SHORT = {"HOSPES_AUTH_CODE_TTL": "5", "HOSPES_ACCESS_TOKEN_TTL": "5", "HOSPES_REFRESH_TOKEN_TTL": "10",
         "HOSPES_SESSION_TTL": "10", "HOSPES_SSO_TOKEN_TTL": "5", "HOSPES_PURGE_INTERVAL": "2",
         "HOSPES_PURGE_GRACE": "2", "HOSPES_PURGE_BATCH": "500"}


@dataclass
class Report:
    seconds: float
    logins: int
    requests: int
    failures: list[str]
    samples: list[tuple[float, int, dict[str, int]]]  # (seconds, logins so far, rows per table)
    flat: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 1), "logins": self.logins, "requests": self.requests,
                "failures": self.failures[:5], "flat": self.flat,
                "samples": [{"t": round(t, 1), "logins": n, **counts} for t, n, counts in self.samples]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hospes(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-m", "hospes.cli", *args, "--json"], env=env, input=stdin,
                       capture_output=True, text=True, timeout=120, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"hospes {' '.join(args)}: {r.stderr.strip()}")
    return dict(json.loads(r.stdout))


def _form(html: str, base: str, field_name: str) -> tuple[str, dict[str, str]]:
    for f in BeautifulSoup(html, "html.parser").find_all("form"):
        fields = {i.get("name"): i.get("value", "") for i in f.find_all("input") if i.get("name")}
        if field_name in fields:
            return urljoin(base, f.get("action") or base), fields
    raise RuntimeError(f"no form with {field_name!r}")


class Client:
    """One relying party and one person, logging in again and again."""

    def __init__(self, url: str, client_id: str, secret: str, email: str) -> None:
        self.url, self.client_id, self.secret, self.email = url, client_id, secret, email
        self.api = httpx.Client(base_url=url, timeout=30, auth=(client_id, secret))
        self.requests = 0

    def _token(self, **data: str) -> dict[str, Any]:
        r = self.api.post("/oauth/token", data=data)
        self.requests += 1
        if r.status_code != 200:
            raise RuntimeError(f"token {data.get('grant_type')}: {r.status_code} {r.text[:200]}")
        return dict(r.json())

    def login(self, n: int) -> None:
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT_URI,
                  "scope": "openid email offline_access", "state": "s"}
        with httpx.Client(base_url=self.url, timeout=30, follow_redirects=False) as browser:  # a new browser
            r = browser.get("/oauth/authorize?" + urlencode(params))
            for _ in range(4):
                self.requests += 1
                if r.status_code in (302, 303):
                    break
                if 'name="password"' in r.text:
                    action, fields = _form(r.text, str(r.url), "password")
                    fields.pop("login_declined", None)
                    r = browser.post(action, data={**fields, "username": self.email, "password": PASSWORD})
                elif "userAuthorization" in r.text:
                    action, fields = _form(r.text, str(r.url), "request_hash")
                    fields.pop("logout", None)
                    r = browser.post(action, data={**fields, "userAuthorization": "yes"})
                else:
                    raise RuntimeError(f"login stopped at {r.status_code}")
        location = r.headers.get("location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if not code:
            raise RuntimeError(f"no code: {location[:200]}")
        tokens = self._token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI)
        for _ in range(3):
            tokens = self._token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        r = self.api.get("/oauth/userinfo", auth=None, headers={"Authorization": f"Bearer {tokens['access_token']}"})
        self.requests += 1
        if r.status_code != 200:
            raise RuntimeError(f"userinfo: {r.status_code}")
        if n % 4 == 0:
            r = self.api.post("/oauth/revoke", data={"token": tokens["refresh_token"]})
            self.requests += 1
            if r.status_code != 200:
                raise RuntimeError(f"revoke: {r.status_code}")


def _counts(engine: Any) -> dict[str, int]:
    with engine.connect() as c:
        return {t: int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}  # noqa: S608


def is_flat(samples: list[tuple[float, int, dict[str, int]]], table: str) -> bool:
    """After the first WINDOW seconds, no sample holds more rows than the last WINDOW seconds' logins made."""
    for t, logins, counts in samples:
        if t < WINDOW:
            continue
        before = max((n for u, n, _ in samples if u <= t - WINDOW), default=0)
        if counts[table] > PER_LOGIN[table] * (logins - before) + 20:
            return False
    return True


def soak(database_url: str, duration: float, threads: int = 2, workers: int = 1, sample_every: float = 5.0,
         workdir: Path | None = None, progress: bool = False) -> Report:
    work = Path(workdir or tempfile.mkdtemp(prefix="hospes-soak-"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **SHORT, "HOSPES_ISSUER": url, "HOSPES_DATABASE_URL": database_url,
           "HOSPES_VAR_DIR": str(work / "var")}
    env.pop("HOSPES_CONFIG", None)
    log = open(work / "server.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen([sys.executable, "-m", "hospes.cli", "serve", "--port", str(port),
                               "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start: " + (work / "server.log").read_text()[-2000:])
            time.sleep(0.1)
        clients = []
        for i in range(threads):
            email = f"soak-{i}-{uuid.uuid4().hex[:6]}@example.com"
            _hospes(env, "clients", "add", "--email", email, "--first-name", "Soak", "--last-name", str(i),
                    "--password-stdin", stdin=PASSWORD + "\n")
            cred = _hospes(env, "oauth-credentials", "create", "--grant-type", "authorization_code",
                           "--scope", "openid email offline_access", "--redirect-uri", REDIRECT_URI,
                           "--name", f"Soak {i}")
            clients.append(Client(url, cred["clientIdentifier"], cred["clientSecret"], email))
        stop = threading.Event()
        failures: list[str] = []
        logins = [0] * threads

        def run(i: int) -> None:
            while not stop.is_set():
                try:
                    clients[i].login(logins[i])
                    logins[i] += 1
                except Exception as exc:  # noqa: BLE001 (counted and reported)
                    failures.append(str(exc))
                    time.sleep(0.5)

        pool = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
        start = time.monotonic()
        for t in pool:
            t.start()
        samples: list[tuple[float, int, dict[str, int]]] = []
        while (elapsed := time.monotonic() - start) < duration:
            samples.append((elapsed, sum(logins), _counts(engine)))
            if progress:
                print(f"{elapsed:7.1f}s logins {sum(logins):6d}  " +
                      "  ".join(f"{t} {n}" for t, n in samples[-1][2].items()), flush=True)
            stop.wait(min(sample_every, max(0.0, duration - elapsed)))
        stop.set()
        for t in pool:
            t.join(60)
        samples.append((time.monotonic() - start, sum(logins), _counts(engine)))
        report = Report(time.monotonic() - start, sum(logins), sum(c.requests for c in clients), failures, samples)
        report.flat = {t: is_flat(samples, t) for t in TABLES}
        return report
    finally:
        engine.dispose()
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--database-url", default=None, help="default: a new SQLite file in a temporary directory")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hospes-soak-"))
    db_url = args.database_url or f"sqlite:///{work}/hospes.db"
    report = soak(db_url, args.duration, args.threads, args.workers, workdir=work, progress=not args.json)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(f"{report.seconds:.0f} s, {report.logins} logins, {report.requests} requests, "
              f"{len(report.failures)} failures{': ' + report.failures[0] if report.failures else ''}")
        for table in TABLES:
            series = [counts[table] for _, _, counts in report.samples]
            print(f"{table:22s} max {max(series):6d}  last {series[-1]:6d}  "
                  f"made {PER_LOGIN[table] * report.logins:7d}  {'flat' if report.flat[table] else 'GROWING'}")
    sys.exit(0 if all(report.flat.values()) and not report.failures else 1)


if __name__ == "__main__":
    main()
