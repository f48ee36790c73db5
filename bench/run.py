"""``make bench``: Hospes beside panva's oidc-provider, same machine, same run.

Each server is pinned to core 0 (``taskset``); the load generator runs on core 1. Simple
requests are driven by ``wrk`` (installed with apt-get when missing); request chains (code
exchange, refresh rotation, whole login flows) by ``loadgen.py``, the same code for both servers.
Results: a table in the terminal and JSON under ``bench/results/``.

    .venv/bin/python bench/run.py [--duration 10] [--connections 16] [--quick] [--no-peer]
                                  [--no-postgres] [--no-workers2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import dpop  # noqa: E402
import loadgen  # noqa: E402

# The peer next to the checkout (../shared/peers/oidc-provider), or where HOSPES_BENCH_PEER says.
PEER_SRC = Path(os.environ.get("HOSPES_BENCH_PEER") or ROOT.parent / "shared" / "peers" / "oidc-provider")
PEER_DIR = HERE / ".peer"
PG_ADMIN = os.environ.get("HOSPES_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIRECT = "http://127.0.0.1:9/cb"
# The customer API row (Hospes only: the peer has no such API): a token for services:read on the first bench
# person's one account, which holds a few services; its rate is compared with Hospes's own userinfo.
API_ROW = "customer API: list services"
API_PATH = "/api/v1/services"
API_SCOPE = "openid services:read"
API_PRODUCTS = ("Hosting", "VPS", "Email")
PASSWORD = "bench-password-123"
CORES = os.cpu_count() or 1
SERVER_CPU = "0"
LOAD_CPU = "1" if CORES > 1 else "0"


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def sh(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def pinned(cpus: str, cmd: list[str]) -> list[str]:
    return (["taskset", "-c", cpus] + cmd) if shutil.which("taskset") else cmd


# -- tools -------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    log("wrk is missing: installing it with apt-get")
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("bench: wrk is not installed and cannot be installed here (need root and apt-get)")
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") or sys.exit("bench: wrk did not install")


def ensure_peer() -> Path | None:
    if not (PEER_SRC / "server.mjs").exists():
        log(f"peer not found at {PEER_SRC}: measuring Hospes alone")
        return None
    if not shutil.which("node") or not shutil.which("npm"):
        log("node/npm missing: measuring Hospes alone")
        return None
    PEER_DIR.mkdir(exist_ok=True)
    for name in ("package.json", "server.mjs", "server-full.mjs"):
        if (PEER_SRC / name).exists():
            shutil.copy(PEER_SRC / name, PEER_DIR / name)
    if not (PEER_DIR / "node_modules" / "oidc-provider").exists():
        log("installing the peer (npm install)")
        sh(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=PEER_DIR)
    return PEER_DIR


# -- processes ----------------------------------------------------------------------------------


def wait_http(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _family(pid: int) -> list[int]:
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except OSError:
        pass
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its children (uvicorn workers)."""
    total = 0
    for p in _family(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), in MB."""
    total = 0
    pids = _family(pid)
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


class Proc:
    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, name: str) -> None:
        self.name = name
        self.log = open(cwd / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.peak_rss = 0.0

    def sample(self) -> None:
        self.peak_rss = max(self.peak_rss, rss_mb(self.p.pid))

    def stop(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


@contextmanager
def sampling(proc: Proc):
    """Sample the server's memory while a measurement runs."""
    stop = False

    import threading

    def loop() -> None:
        while not stop:
            proc.sample()
            time.sleep(0.25)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop = True
        t.join()


# -- wrk ------------------------------------------------------------------------------------------


def wrk(url: str, args: argparse.Namespace, *, method: str = "GET", body: str = "",
        headers: dict[str, str] | None = None, proc: Proc | None = None, script: str = "") -> dict[str, Any]:
    """``script``: a Lua script of the caller's (the DPoP rows), instead of one for method, body and headers."""
    if not script and (method != "GET" or body or headers):
        lines = [f'wrk.method = "{method}"']
        if body:
            lines.append(f"wrk.body = {json.dumps(body)}")
        for k, v in (headers or {}).items():
            lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
        # Count non-2xx answers as errors.
        lines.append("response = function(status, headers, body) if status >= 300 then "
                     "wrk.thread:set('bad', (wrk.thread:get('bad') or 0) + 1) end end")
        script = "\n".join(lines)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + "\n")
        lua = f.name
    cmd = pinned(LOAD_CPU, [ensure_wrk(), "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                            "-s", lua, url])
    ctx = sampling(proc) if proc else contextmanager(lambda: (yield))()
    cpu0 = cpu_seconds(proc.p.pid) if proc else 0.0
    gen0, t0 = _children_cpu(), time.perf_counter()
    with ctx:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(proc.p.pid) - cpu0 if proc else 0.0
    load_cores = (_children_cpu() - gen0) / (time.perf_counter() - t0)
    os.unlink(lua)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = re.search(r"(\d+) requests in", out)

    def lat(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return 0.0
        v, unit = float(m.group(1)), m.group(2)
        return round(v / 1000 if unit == "us" else v * 1000 if unit == "s" else v, 2)

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    n = int(total.group(1)) if total else 0
    # Server CPU per request: steadier than req/s when something else shares the machine.
    cpu_us = round(cpu / n * 1e6, 1) if n and cpu else None
    return {"rps": round(rps, 1), "p50_ms": lat("50"), "p99_ms": lat("99"), "errors": errors,
            "cpu_us_per_request": cpu_us, "load_generator_cores": round(load_cores, 2)}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Costs:
    """Server CPU per request and the load generator's own cores, for a chain measured in this process
    (in one or several timed parts)."""

    def __init__(self, proc: Proc) -> None:
        self.proc, self.server, self.generator, self.wall = proc, 0.0, 0.0, 0.0

    @contextmanager
    def timed(self):
        cpu0, gen0, t0 = cpu_seconds(self.proc.p.pid), _self_cpu(), time.perf_counter()
        with sampling(self.proc):
            yield
        self.server += cpu_seconds(self.proc.p.pid) - cpu0
        self.generator += _self_cpu() - gen0
        self.wall += time.perf_counter() - t0

    def summary(self, stats: loadgen.Stats) -> dict[str, Any]:
        out: dict[str, Any] = stats.summary()
        n = out["requests"]
        out["cpu_us_per_request"] = round(self.server / n * 1e6, 1) if n else None
        out["load_generator_cores"] = round(self.generator / self.wall, 2) if self.wall else None
        return out


# -- flows (the chains) -----------------------------------------------------------------------------


def _form_fields(html: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form[^>]*action="([^"]*)"', html)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    return (action.group(1) if action else ""), {k: _unescape(v) for k, v in fields.items()}


def _unescape(v: str) -> str:
    return v.replace("&amp;", "&").replace("&#34;", '"').replace("&quot;", '"').replace("&#39;", "'")


class Server:
    """What the chains need to know about a server: its endpoints and how a person logs in."""

    def __init__(self, kind: str, base: str, client_id: str, secret: str, scope: str, users: list[str]) -> None:
        # One person per load worker: a person's own logins do not overlap, as in life. (Parallel logins to
        # one account are held to its throttle window of five attempts in flight, by design.)
        self.kind, self.base, self.client_id, self.secret, self.scope, self.users = (
            kind, base, client_id, secret, scope, users)
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        if kind == "peer":
            self.auth, self.token, self.userinfo, self.introspect = "/auth", "/token", "/me", "/token/introspection"
            self.discovery, self.jwks = "/.well-known/openid-configuration", "/jwks"
        else:
            self.auth, self.token, self.userinfo, self.introspect = (
                "/oauth/authorize.php", "/oauth/token.php", "/oauth/userinfo.php", "/oauth/introspect")
            self.discovery, self.jwks = "/.well-known/openid-configuration", "/oauth/certs.php"

    def scoped(self, scope: str) -> Server:
        """The same server and person, asking for ``scope`` instead."""
        return Server(self.kind, self.base, self.client_id, self.secret, scope, self.users)

    def auth_target(self) -> str:
        return self.auth + "?" + urlencode({"client_id": self.client_id, "response_type": "code", "scope": self.scope,
                                            "redirect_uri": REDIRECT, "state": "s", "nonce": "n"})

    async def login(self, b: loadgen.Browser, who: int = 0) -> str | None:
        """A whole interactive login from a fresh browser, as person ``who``; returns the code."""
        user = self.users[who % len(self.users)]
        r = await b.get(self.auth_target())
        for _ in range(12):
            loc = r.header("location")
            if r.status in (302, 303) and loc.startswith(REDIRECT):
                return parse_qs(urlsplit(loc).query).get("code", [None])[0]
            if r.status in (302, 303):
                r = await b.get(loadgen.target_of(loc))
                continue
            html = r.body.decode("utf-8", "replace")
            action, fields = _form_fields(html)
            if not action:
                return None
            action = loadgen.target_of(action) if action.startswith("http") else action
            if self.kind == "peer":
                if 'name="login"' in html:
                    fields.update(prompt="login", login=user, password=PASSWORD)
                else:
                    fields.update(prompt="consent")
            else:
                if 'name="password"' in html:
                    fields.pop("login_declined", None)
                    fields.update(username=user, password=PASSWORD)
                else:
                    fields.pop("logout", None)
                    fields["userAuthorization"] = "yes"
            r = await b.post_form(action, fields)
        return None

    async def code_again(self, b: loadgen.Browser) -> str | None:
        """With a live session and a remembered consent: one GET gives a code."""
        r = await b.get(self.auth_target())
        for _ in range(4):
            loc = r.header("location")
            if r.status in (302, 303) and loc.startswith(REDIRECT):
                return parse_qs(urlsplit(loc).query).get("code", [None])[0]
            if r.status in (302, 303):
                r = await b.get(loadgen.target_of(loc))
                continue
            return None
        return None

    def token_headers(self) -> dict[str, str]:
        return {"Authorization": loadgen.basic(self.client_id, self.secret),
                "Content-Type": "application/x-www-form-urlencoded"}


async def _exchange(srv: Server, conn: loadgen.Connection, code: str) -> dict[str, Any] | None:
    body = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}).encode()
    r = await conn.request("POST", srv.token, headers=srv.token_headers(), body=body)
    return json.loads(r.body) if r.status == 200 else None


async def chains(srv: Server, args: argparse.Namespace, proc: Proc) -> dict[str, Any]:
    """Code exchange, refresh rotation and whole flows, measured with loadgen."""
    workers = args.connections
    out: dict[str, Any] = {}
    # 1. Each worker logs in once (its session and the consent are then remembered).
    browsers = [loadgen.Browser(srv.host, srv.port) for _ in range(workers)]
    first = await asyncio.gather(*(srv.login(b, i) for i, b in enumerate(browsers)))
    if not all(first):
        raise RuntimeError(f"{srv.kind}: the login flow failed")
    # 2. Code exchange, in rounds: each worker mints a small batch of codes (not timed), then the batch is
    #    exchanged (timed). Small batches matter: the peer's in-memory store is an LRU of about 1,000
    #    entries, so codes minted far ahead are evicted before they are used.
    conns = [loadgen.Connection(srv.host, srv.port) for _ in range(workers)]
    refresh: list[list[str]] = [[] for _ in range(workers)]

    def exchanger(i: int):
        async def work(code: str) -> bool:
            body = await _exchange(srv, conns[i], code)
            if body and "refresh_token" in body:
                # One rotation chain per worker: the newest refresh token.
                refresh[i][:] = [body["refresh_token"]]
            return bool(body and "access_token" in body and "id_token" in body)
        return work

    total, cost = loadgen.Stats(), Costs(proc)
    per_round = max(1, min(16, args.max_codes // workers))
    while total.ended - total.started < args.duration and len(total.latencies) + total.errors < args.max_codes:
        batch: list[list[str]] = [[] for _ in range(workers)]

        async def mint(i: int, batch: list[list[str]] = batch) -> None:
            for _ in range(per_round):
                c = await srv.code_again(browsers[i])
                if c:
                    batch[i].append(c)

        await asyncio.gather(*(mint(i) for i in range(workers)))
        if not any(batch):
            raise RuntimeError(f"{srv.kind}: no codes could be minted")
        with cost.timed():
            stats = await _per_worker(exchanger, batch)
        total.latencies += stats.latencies
        total.errors += stats.errors
        total.ended += stats.ended - stats.started  # total.started stays 0: ended is the timed sum
    out["token: code exchange"] = cost.summary(total)
    # 3. Refresh rotation: each worker follows its own chain for the duration.

    def rotator(i: int):
        async def work(_: int) -> bool:
            body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh[i][0]}).encode()
            r = await conns[i].request("POST", srv.token, headers=srv.token_headers(), body=body)
            if r.status != 200:
                return False
            refresh[i][0] = json.loads(r.body)["refresh_token"]
            return True
        return work

    if all(refresh):
        cost = Costs(proc)
        with cost.timed():
            stats = await _per_worker(rotator, [range(10**9) for _ in range(workers)], args.duration)
        out["token: refresh (rotating)"] = cost.summary(stats)
    # 4. Whole browserless flows: authorize, login, (consent), code, token, from a fresh browser each time.

    def flow(i: int):
        async def work(_: int) -> bool:
            b = loadgen.Browser(srv.host, srv.port)
            try:
                code = await srv.login(b, i)
                return bool(code and await _exchange(srv, b.conn, code))
            finally:
                b.conn.close()
        return work

    cost = Costs(proc)
    with cost.timed():
        stats = await _per_worker(flow, [range(10**9) for _ in range(workers)], args.duration)
    out["full login flow"] = cost.summary(stats)
    for b in browsers:
        b.conn.close()
    for c in conns:
        c.close()
    return out


async def _per_worker(factory, items: list[Any], duration: float | None = None) -> loadgen.Stats:
    stats = loadgen.Stats()
    stats.started = time.perf_counter()
    deadline = stats.started + duration if duration else None

    async def worker(i: int) -> None:
        work = factory(i)
        for item in items[i]:
            if deadline and time.perf_counter() > deadline:
                return
            t = time.perf_counter()
            try:
                ok = await work(item)
            except Exception:  # noqa: BLE001
                ok = False
            if ok:
                stats.latencies.append(time.perf_counter() - t)
            else:
                stats.errors += 1

    await asyncio.gather(*(worker(i) for i in range(len(items))))
    stats.ended = time.perf_counter()
    return stats


def run_chains(srv: Server, args: argparse.Namespace, proc: Proc) -> dict[str, Any]:
    # The generator itself runs on the load core.
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {int(LOAD_CPU)})
    try:
        return asyncio.run(chains(srv, args, proc))
    finally:
        os.sched_setaffinity(0, set(range(CORES)))


async def _access_token(srv: Server) -> str:
    b = loadgen.Browser(srv.host, srv.port)
    code = await srv.login(b)
    if not code:
        raise RuntimeError(f"{srv.kind}: login flow failed")
    body = await _exchange(srv, b.conn, code)
    b.conn.close()
    if not body:
        raise RuntimeError(f"{srv.kind}: code exchange failed")
    return str(body["access_token"])


def simple(srv: Server, args: argparse.Namespace, proc: Proc, extra: dict[str, Any] | None = None,
           api: dict[str, Any] | None = None) -> dict[str, Any]:
    token = asyncio.run(_access_token(srv))
    res: dict[str, Any] = {}
    res["discovery"] = wrk(srv.base + srv.discovery, args, proc=proc)
    res["JWKS"] = wrk(srv.base + srv.jwks, args, proc=proc)
    res["userinfo"] = wrk(srv.base + srv.userinfo, args, headers={"Authorization": f"Bearer {token}"}, proc=proc)
    for name, spec in (api or {}).items():
        # The token is obtained as userinfo's is (a login, a consent, a code exchange), with the API's scope.
        api_token = asyncio.run(_access_token(srv.scoped(spec["scope"])))
        _check_api(srv.base + spec["path"], api_token, spec["items"])
        res[name] = wrk(srv.base + spec["path"], args, headers={"Authorization": f"Bearer {api_token}"}, proc=proc)
        if res["userinfo"]["rps"]:
            res[name]["vs_userinfo"] = round(res[name]["rps"] / res["userinfo"]["rps"], 2)
    res["introspection"] = wrk(srv.base + srv.introspect, args, method="POST", body=f"token={token}",
                               headers=srv.token_headers(), proc=proc)
    for name, spec in (extra or {}).items():
        res[name] = wrk(srv.base + spec["path"], args, method="POST", body=spec["body"],
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, proc=proc)
    return res


# A pushed authorization request (RFC 9126) as a relying party sends one: PKCE, state, nonce; client_secret_post.
PAR_ROW = "PAR: push a request"
PAR_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def par_rows(srv: Server) -> dict[str, Any]:
    """The PAR row, when the server names a pushed_authorization_request_endpoint in its discovery (the peer's
    full-featured server does; its plain one does not); checked to answer 201 before it is measured."""
    import httpx

    endpoint = httpx.get(srv.base + srv.discovery, timeout=10).json().get("pushed_authorization_request_endpoint")
    if not endpoint:
        return {}
    body = urlencode({"client_id": srv.client_id, "client_secret": srv.secret, "response_type": "code",
                      "redirect_uri": REDIRECT, "scope": "openid email", "state": "bench-state",
                      "nonce": "bench-nonce", "code_challenge": PAR_CHALLENGE, "code_challenge_method": "S256"})
    path = urlsplit(endpoint).path
    r = httpx.post(srv.base + path, content=body, timeout=10,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    if r.status_code != 201:
        raise RuntimeError(f"{srv.kind}: PAR answered {r.status_code} {r.text[:200]}")
    return {PAR_ROW: {"path": path, "body": body}}


async def _dpop_token(srv: Server, key: dpop.Key) -> str:
    """A DPoP-bound access token (RFC 9449 §5): the login flow, then the code exchange with a proof."""
    b = loadgen.Browser(srv.host, srv.port)
    code = await srv.login(b)
    if not code:
        raise RuntimeError(f"{srv.kind}: login flow failed")
    body = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}).encode()
    r = await b.conn.request("POST", srv.token, body=body,
                             headers={**srv.token_headers(), "DPoP": key.proof("POST", srv.base + srv.token)})
    b.conn.close()
    token = json.loads(r.body) if r.status == 200 else {}
    if str(token.get("token_type", "")).lower() != "dpop":
        raise RuntimeError(f"{srv.kind}: no DPoP-bound token: {r.status} {r.body[:200]!r}")
    return str(token["access_token"])


def dpop_userinfo(srv: Server, args: argparse.Namespace, proc: Proc) -> dict[str, Any]:
    """userinfo with a DPoP-bound token, a fresh proof each request (bench/dpop.py)."""
    import httpx

    key = dpop.Key()
    token = asyncio.run(_dpop_token(srv, key))
    url = srv.base + srv.userinfo
    check = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token)}, timeout=10)
    if check.status_code != 200:
        raise RuntimeError(f"{srv.kind}: DPoP userinfo answered {check.status_code} {check.text[:200]}")
    log(f"{srv.kind}: making {dpop.count_for(args.duration)} DPoP proofs")
    proofs = dpop.proofs_file(key, url, token, dpop.count_for(args.duration))
    try:
        return wrk(url, args, script=dpop.lua(srv.userinfo, token, proofs), proc=proc)
    finally:
        dpop.remove(proofs)


def _check_api(url: str, token: str, items: int) -> None:
    """The API answers the token with the account's records before it is measured (wrk counts only statuses)."""
    import httpx

    r = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if r.status_code != 200 or len(r.json()["data"]) != items:
        raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")


# -- the two servers -----------------------------------------------------------------------------------


@contextmanager
def peer_server(script: str, port: int, workdir: Path, name: str, **env: str) -> Iterator[tuple[Proc, str] | None]:
    """The peer's ``script`` on ``port`` (pinned to the server core) once it answers discovery: its process and
    base URL; None when the peer or that script is not there."""
    peer_dir = ensure_peer()
    if peer_dir is None or not (peer_dir / script).exists():
        yield None
        return
    base = f"http://127.0.0.1:{port}"
    proc = Proc(pinned(SERVER_CPU, ["node", str(peer_dir / script)]),
                {**os.environ, "PORT": str(port), "NODE_ENV": "production", **env}, workdir, name)
    try:
        wait_http(base + "/.well-known/openid-configuration")
        yield proc, base
    finally:
        proc.stop()


def _peer_app(base: str, args: argparse.Namespace) -> Server:
    """The peer's browser client, as both of its scripts register it."""
    return Server("peer", base, "app", "app-secret-0123456789abcdef0123456789abcdef", "openid profile email",
                  [f"bench-user-{i}" for i in range(args.connections)])


def measure_peer(args: argparse.Namespace, workdir: Path) -> dict[str, Any] | None:
    with peer_server("server.mjs", 3000, workdir, "peer") as running:
        if running is None:
            return None
        proc, base = running
        srv = _peer_app(base, args)
        res = simple(srv, args, proc, par_rows(srv))
        if not args.no_chains:
            res.update(run_chains(srv, args, proc))
        return {"results": res, "rss_mb": proc.peak_rss, "storage": "in memory (not durable)"}


def measure_peer_full(args: argparse.Namespace, workdir: Path) -> dict[str, Any] | None:
    """The rows that need the peer's wave-2 features (server-full.mjs: DPoP on), like with like."""
    with peer_server("server-full.mjs", 3001, workdir, "peer-full") as running:
        if running is None:
            return None
        proc, base = running
        res = {dpop.ROW: dpop_userinfo(_peer_app(base, args), args, proc)}
        return {"results": res, "rss_mb": proc.peak_rss, "storage": "in memory (not durable)"}


# -- machine clients (issue 16): client_credentials, and a token request authenticated with private_key_jwt ----

CC_ROW, PKJWT_ROW = "token: client_credentials", "token: private_key_jwt"
# The resource a machine token is for, as the peer's server-full.mjs has it (PEER_RESOURCE), with JWT access
# tokens (RFC 9068) on both sides.
MACHINE_RESOURCE, MACHINE_SCOPE = "https://api.peer.test", "api:read"


def _assertions(client_id: str, private_jwk: dict[str, Any], audience: str, n: int) -> list[bytes]:
    """``n`` token request bodies for client_credentials, each with its own client assertion (RFC 7523: a jti is
    used once), signed before the timed run so the load generator only sends."""
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.import_key(private_jwk)
    t = int(time.time())
    bodies = []
    for i in range(n):
        assertion = jwt.encode({"alg": "ES256", "kid": private_jwk["kid"]}, {
            "iss": client_id, "sub": client_id, "aud": audience, "iat": t, "exp": t + 900,
            "jti": f"{t}-{i}-{os.urandom(6).hex()}"}, key)
        bodies.append(urlencode({"grant_type": "client_credentials", "resource": MACHINE_RESOURCE,
                                 "scope": MACHINE_SCOPE, "client_assertion_type":
                                 "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                 "client_assertion": assertion}).encode())
    return bodies


async def _pkjwt(host: str, port: int, token: str, bodies: list[list[bytes]], args: argparse.Namespace,
                 proc: Proc) -> dict[str, Any]:
    conns = [loadgen.Connection(host, port) for _ in bodies]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    first = await conns[0].request("POST", token, headers=headers, body=bodies[0].pop())
    if first.status != 200:
        raise RuntimeError(f"private_key_jwt token request: {first.status} {first.body[:300]!r}")

    def sender(i: int):
        async def work(body: bytes) -> bool:
            return (await conns[i].request("POST", token, headers=headers, body=body)).status == 200
        return work

    cost = Costs(proc)
    with cost.timed():
        stats = await _per_worker(sender, bodies, args.duration)
    for c in conns:
        c.close()
    return cost.summary(stats)


def machine_rows(base: str, token: str, args: argparse.Namespace, proc: Proc, *, secret_client: tuple[str, str],
                 jwt_client: tuple[str, dict[str, Any]], audience: str) -> dict[str, Any]:
    """The two machine rows for a server at ``base`` whose token endpoint is ``token`` (a path): client_credentials
    with client_secret_basic (wrk), and with private_key_jwt (loadgen, a fresh assertion per request)."""
    res: dict[str, Any] = {}
    body = urlencode({"grant_type": "client_credentials", "resource": MACHINE_RESOURCE, "scope": MACHINE_SCOPE})
    res[CC_ROW] = wrk(base + token, args, method="POST", body=body, proc=proc, headers={
        "Authorization": loadgen.basic(*secret_client), "Content-Type": "application/x-www-form-urlencoded"})
    # Enough bodies for the run at 5,000 requests/s, spread over the connections.
    per = max(50, args.duration * 5000 // args.connections)
    bodies = _assertions(jwt_client[0], jwt_client[1], audience, per * args.connections)
    parts = urlsplit(base)
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {int(LOAD_CPU)})
    try:
        res[PKJWT_ROW] = asyncio.run(_pkjwt(parts.hostname or "127.0.0.1", parts.port or 80, token,
                                            [bodies[i::args.connections] for i in range(args.connections)],
                                            args, proc))
    finally:
        os.sched_setaffinity(0, set(range(CORES)))
    return res


def measure_peer_machines(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The machine rows of the peer with its wave-2 features on (server-full.mjs: clients m2m and m2m-jwt, whose
    private key it prints on start); nothing when that file is not there."""
    with peer_server("server-full.mjs", 3001, workdir, "peer-full", PEER_RESOURCE=MACHINE_RESOURCE) as running:
        if running is None:
            return {}
        proc, base = running
        marker = "pkjwt client private JWK: "
        line = next(x for x in (workdir / "peer-full.log").read_text().splitlines() if marker in x)
        jwk = json.loads(line.split(marker, 1)[1])
        return machine_rows(base, "/token", args, proc, secret_client=(
            "m2m", "m2m-secret-0123456789abcdef0123456789abcdef"), jwt_client=("m2m-jwt", jwk), audience=base)


def hospes_machine_clients(env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Hospes's like-for-like set-up: the resource (JWT access tokens), a client_credentials client with a secret
    and one with private_key_jwt (an ES256 key, as the peer's)."""
    from joserfc.jwk import ECKey

    _cli(env, "resources", "add", "--identifier", MACHINE_RESOURCE, "--name", "Bench API", "--scope",
         f"{MACHINE_SCOPE}=Read the bench API", "--token-format", "jwt")
    secret = _cli(env, "oauth-credentials", "create", "--grant-type", "client_credentials", "--scope",
                  MACHINE_SCOPE, "--name", "Bench machine")
    key = ECKey.generate_key("P-256", parameters={"kid": "pkjwt-1", "use": "sig"})
    jwks = workdir / "bench-client.jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    signed = _cli(env, "oauth-credentials", "create", "--grant-type", "client_credentials", "--scope",
                  MACHINE_SCOPE, "--name", "Bench machine (JWT)", "--token-endpoint-auth-method", "private_key_jwt",
                  "--jwks", str(jwks))
    return {"secret_client": (secret["clientIdentifier"], secret["clientSecret"]),
            "jwt_client": (signed["clientIdentifier"], key.as_dict(private=True))}


def _hospes_env(db_url: str, port: int, workdir: Path) -> dict[str, str]:
    return {**os.environ, "HOSPES_ISSUER": f"http://127.0.0.1:{port}", "HOSPES_DATABASE_URL": db_url,
            "HOSPES_VAR_DIR": str(workdir / "var"), "HOSPES_AUTH_CODE_TTL": "120"}


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = sh([sys.executable, "-m", "hospes.cli", *args, "--json"], env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def pg_database(name: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        log(f"PostgreSQL not available ({type(exc).__name__}): skipping it")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


@contextmanager
def postgres_on_load_core():
    """The local PostgreSQL server's processes (and the backends they fork) run on the load generator's core
    while Hospes is measured, so the server core is Hospes's alone, as it is for the peer. Restored after."""
    pids = []
    if shutil.which("pgrep") and CORES > 1:
        out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
    saved = {}
    for pid in pids:
        try:
            saved[pid] = os.sched_getaffinity(pid)
            os.sched_setaffinity(pid, {int(LOAD_CPU)})
        except OSError:
            continue
    if saved:
        log(f"PostgreSQL ({len(saved)} processes) pinned to core {LOAD_CPU} for the measurement")
    try:
        yield
    finally:
        for pid, cpus in saved.items():
            try:
                os.sched_setaffinity(pid, cpus)
            except OSError:
                continue


def measure_hospes(args: argparse.Namespace, workdir: Path, db_url: str, *, workers: int = 1,
                   cpus: str = SERVER_CPU, chains_too: bool = True) -> dict[str, Any]:
    port = 8300
    env = _hospes_env(db_url, port, workdir)
    sh([sys.executable, "-m", "hospes.cli", "db", "upgrade"], env=env)
    stamp = int(time.time() * 1000)
    emails = [f"bench-{stamp}-{i}@example.com" for i in range(args.connections)]
    made = [_cli(env, "clients", "add", "--email", email, "--first-name", "Bench", "--last-name", "User",
                 "--password", PASSWORD) for email in emails][0]
    cred = _cli(env, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                f"openid profile email offline_access {API_SCOPE}", "--name", "Bench", "--redirect-uri",
                REDIRECT, "--refresh-tokens", "always")
    svc, *_ = [_cli(env, "services", "add", "--client-id", str(made["clientId"]), "--product", product)
               for product in API_PRODUCTS]
    sso = _cli(env, "oauth-credentials", "create", "--grant-type", "single_sign_on", "--scope",
               "clientarea:sso clientarea:services", "--service-id", str(svc["serviceId"]))
    machines = hospes_machine_clients(env, workdir)
    proc = Proc(pinned(cpus, [sys.executable, "-m", "hospes.cli", "serve", "--port", str(port),
                              "--workers", str(workers)]), env, workdir, f"hospes-{workers}")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        srv = Server("hospes", f"http://127.0.0.1:{port}", cred["clientIdentifier"], cred["clientSecret"],
                     "openid profile email offline_access", emails)
        extra = {"token: single_sign_on": {"path": "/oauth/token.php", "body": urlencode({
            "grant_type": "single_sign_on", "client_id": sso["clientIdentifier"],
            "client_secret": sso["clientSecret"], "scope": "clientarea:sso clientarea:services"})},
            **par_rows(srv)}
        api = {API_ROW: {"path": API_PATH, "scope": API_SCOPE, "items": len(API_PRODUCTS)}}
        res = simple(srv, args, proc, extra, api)
        res[dpop.ROW] = dpop_userinfo(srv, args, proc)
        res["MCP: list services"] = wrk(srv.base + "/mcp", args, method="POST", body=MCP_LIST_SERVICES,
                                        headers=_mcp_headers(db_url, srv.base, made, cred["credentialId"]), proc=proc)
        res.update(machine_rows(srv.base, "/oauth/token.php", args, proc, audience=srv.base, **machines))
        if chains_too and not args.no_chains:
            res.update(run_chains(srv, args, proc))
        return {"results": res, "rss_mb": proc.peak_rss, "workers": workers}
    finally:
        proc.stop()


# A 2025-11-25 client's tools/call, as an assistant sends it after initialize (stateless: no session needed).
MCP_LIST_SERVICES = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                "params": {"name": "list_services", "arguments": {}}})


def _mcp_headers(db_url: str, issuer: str, made: dict[str, Any], credential_id: int) -> dict[str, str]:
    """The headers of an MCP call with a token for {issuer}/mcp (services:read, the bench client's account),
    written to the database as the token endpoint writes one."""
    import secrets as random
    from datetime import timedelta

    from hospes.clock import now
    from hospes.secrets import digest
    from hospes.store.db import Database
    from hospes.store.models import AccessToken, Grant

    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    value, at, db = random.token_urlsafe(32), now(), Database(url, 10)
    try:
        with db.transaction() as s:
            grant = Grant(credential_id=credential_id, user_id=made["userId"], scope="services:read",
                          accounts=str(made["clientId"]), created_at=at)
            s.add(grant)
            s.flush()
            s.add(AccessToken(token_hash=digest(value), grant_id=grant.id, credential_id=credential_id,
                              user_id=made["userId"], scope="services:read", audience=issuer + "/mcp",
                              issued_at=at, expires_at=at + timedelta(hours=1)))
    finally:
        db.dispose()
    return {"Authorization": f"Bearer {value}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


def workers2_summary(one: dict[str, Any], two: dict[str, Any]) -> dict[str, Any]:
    """Throughput of two workers against one; and, to tell the machine from the server, the server CPU per
    request with two workers against one (1.00: running two costs nothing extra per request) and the
    cores the load generator itself took from the two."""
    ops = [op for op in ORDER if op in two and one.get(op, {}).get("rps")]
    return {
        "scaling": {op: round(two[op]["rps"] / one[op]["rps"], 2) for op in ops},
        "cpu_per_request_vs_one": {op: round(two[op]["cpu_us_per_request"] / one[op]["cpu_us_per_request"], 2)
                                   for op in ops if two[op].get("cpu_us_per_request")
                                   and one[op].get("cpu_us_per_request")},
        "load_generator_cores": {op: two[op].get("load_generator_cores") for op in ops},
    }


_VERIFY_LOOP = ("import time; from hospes.accounts.passwords import _hasher\n"
                "h = _hasher.hash('x' * 12); n = 0; t = time.perf_counter(); c = time.process_time()\n"
                "while time.perf_counter() - t < 3: _hasher.verify(h, 'x' * 12); n += 1\n"
                "print((time.process_time() - c) / n)")
# Python work that shares the core with the hash, as a server's request handling does.
_BUSY_LOOP = ("import json, time; t = time.time(); d = {}\n"
              "while time.time() - t < 6:\n"
              "    for i in range(5000): d[str(i)] = json.dumps({'a': i, 'b': [i] * 8})")


def password_hash_floor() -> dict[str, float]:
    """What one core can do when it does nothing but verify Argon2id hashes (CPU time per verify), and the
    same with other Python work time-sliced on that core: an Argon2 run streams through its 19 MiB block,
    and whatever else runs between its time slices evicts that block from the caches."""
    alone = float(sh(pinned(SERVER_CPU, [sys.executable, "-c", _VERIFY_LOOP])).stdout.strip())
    busy = subprocess.Popen(pinned(SERVER_CPU, [sys.executable, "-c", _BUSY_LOOP]))
    try:
        shared = float(sh(pinned(SERVER_CPU, [sys.executable, "-c", _VERIFY_LOOP])).stdout.strip())
    finally:
        busy.kill()
        busy.wait()
    return {"ms_per_verify": round(alone * 1000, 1), "verifies_per_second": round(1 / alone, 1),
            "ms_per_verify_sharing_the_core": round(shared * 1000, 1)}


# -- report ----------------------------------------------------------------------------------------------

ORDER = ["discovery", "JWKS", "userinfo", dpop.ROW, API_ROW, "MCP: list services", "introspection",
         "token: code exchange", "token: refresh (rotating)", "token: single_sign_on", CC_ROW, PKJWT_ROW, PAR_ROW,
         "full login flow"]


def table(report: dict[str, Any]) -> str:
    peer = {**(report.get("peer") or {}).get("results", {}), **(report.get("peer-full") or {}).get("results", {})}
    cols = [k for k in ("hospes-sqlite", "hospes-postgresql") if report.get(k)]
    lines = []
    header = f"{'operation':28}" + f"{'peer req/s':>12}" + "".join(
        f"{c + ' req/s':>24}{'p50/p99 ms':>16}{'ratio':>8}" for c in cols)
    lines.append(header)
    lines.append("-" * len(header))
    for op in ORDER:
        p = peer.get(op)
        row = f"{op:28}" + (f"{p['rps']:>12.0f}" if p else f"{'-':>12}")
        for c in cols:
            h = report[c]["results"].get(op)
            if not h:
                row += f"{'-':>24}{'':>16}{'':>8}"
                continue
            ratio = f"{h['rps'] / p['rps']:.2f}" if p and p["rps"] else "-"
            row += f"{h['rps']:>24.0f} {h['p50_ms']:>8.2f}/{h['p99_ms']:<8.2f}{ratio:>7}"
        lines.append(row)
    ratios = [f"{c} {report[c]['results'][API_ROW]['vs_userinfo']:.2f}" for c in cols
              if report[c]["results"].get(API_ROW, {}).get("vs_userinfo")]
    if ratios:
        lines.append(f"{API_ROW} (Hospes only) x Hospes's userinfo, same run: " + ", ".join(ratios))
    lines.append("")
    mem = [f"peer {report['peer']['rss_mb']} MB"] if report.get("peer") else []
    mem += [f"{c} {report[c]['rss_mb']} MB" for c in cols]
    lines.append("peak resident memory: " + ", ".join(mem))
    if report.get("workers2"):
        w = report["workers2"]
        lines.append("")
        lines.append("two workers (SQLite) on both cores, which the load generator shares:")
        lines.append(f"{'operation':28}{'x one worker':>14}{'CPU/request vs one':>20}{'generator cores':>17}")
        for op, x in w["scaling"].items():
            cpu = w["cpu_per_request_vs_one"].get(op)
            gen = w["load_generator_cores"].get(op)
            lines.append(f"{op:28}{x:>14.2f}{(f'{cpu:.2f}' if cpu else '-'):>20}{(f'{gen:.2f}' if gen else '-'):>17}")
    hf = report["password_hash"]
    lines.append(f"Argon2id verify alone: {hf['ms_per_verify']} ms = {hf['verifies_per_second']} logins/s per core "
                 "(the floor for full login flows)")
    if hf.get("ms_per_verify_sharing_the_core"):
        lines.append(f"Argon2id verify time-sliced with other Python work on its core: "
                     f"{hf['ms_per_verify_sharing_the_core']} ms of CPU")
    for c in cols:
        flow = report[c]["results"].get("full login flow")
        if flow and flow["rps"]:
            lines.append(f"{c} full login flows: {100 * flow['rps'] / hf['verifies_per_second']:.0f}% of the floor"
                         + (f", {flow['cpu_us_per_request'] / 1000:.1f} ms of server CPU per flow"
                            if flow.get("cpu_us_per_request") else ""))
    if report.get("peer"):
        lines.append("The peer keeps everything in memory (not durable) and issues opaque tokens; "
                     "Hospes writes codes and tokens durably to its database.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description="Hospes beside oidc-provider")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--max-codes", type=int, default=20000)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1 s each, 4 connections, SQLite only")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-workers2", action="store_true")
    ap.add_argument("--no-chains", action="store_true", help="skip code exchange, refresh and login flows")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    if args.quick:
        args.duration, args.connections, args.max_codes = 1, 4, 200
        args.no_postgres = args.no_workers2 = True
    ensure_wrk()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": CORES, "platform": platform.platform(), "python": platform.python_version(),
                    "cpu_model": _cpu_model()},
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "duration_s": args.duration, "connections": args.connections,
        "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU,
    }
    with tempfile.TemporaryDirectory(prefix="hospes-bench-") as tmp:
        work = Path(tmp)
        report["password_hash"] = password_hash_floor()
        if not args.no_peer:
            log("measuring the peer (oidc-provider)")
            report["peer"] = measure_peer(args, work)
            log("measuring the peer with DPoP on (server-full.mjs)")
            report["peer-full"] = measure_peer_full(args, work)
            if report["peer"] is not None:
                log("measuring the peer's machine clients (oidc-provider, server-full.mjs)")
                report["peer"]["results"].update(measure_peer_machines(args, work))
        log("measuring Hospes on SQLite")
        (work / "sqlite").mkdir()
        report["hospes-sqlite"] = measure_hospes(args, work / "sqlite", f"sqlite:///{work}/sqlite/hospes.db")
        if not args.no_postgres:
            url = pg_database("hospes_bench")
            if url:
                log("measuring Hospes on PostgreSQL")
                (work / "pg").mkdir()
                with postgres_on_load_core():
                    report["hospes-postgresql"] = measure_hospes(args, work / "pg", url)
        if not args.no_workers2 and CORES > 1:
            log("measuring Hospes with --workers 2 (SQLite)")
            (work / "w2").mkdir()
            two = measure_hospes(args, work / "w2", f"sqlite:///{work}/w2/hospes.db", workers=2,
                                 cpus=f"0-{CORES - 1}", chains_too=True)
            one = report["hospes-sqlite"]["results"]
            report["workers2"] = {"results": two["results"], "rss_mb": two["rss_mb"],
                                  **workers2_summary(one, two["results"])}
    text = table(report)
    print("\n" + text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "quick.json" if args.quick else f"bench-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    (out / name).write_text(json.dumps(report, indent=2) + "\n")
    if not args.quick:
        (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"results written to {out / name}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
