"""Instructions per request, counted by valgrind's callgrind: a measure of a hot path's cost that does not
move when something else shares the machine.

`make bench` measures throughput, which is what a deployment gets, but on a shared or busy machine the same
code measures 10-20% apart from one run to the next. Comparing two versions of the code (a refactor must not
slow a hot path) needs a figure that holds still: the number of instructions the server executes per request.
The server runs under callgrind, one request at a time over one keep-alive connection (so SQLite's group
commit always batches one request, and nothing depends on timing), and the counters are zeroed before and
dumped after each operation, so start-up and the requests that prepare an operation are not counted.

    PYTHONPATH=<tree>/src .venv/bin/python bench/instructions.py [--requests 200] [--postgres]

prints a table and writes JSON (``--out``). Run it for each tree with the same arguments: the figures are
comparable between trees on one machine (the same Python and libraries), not across machines. Instructions
are not time (a cache miss costs more than an add), so a difference of a few percent says little; one of 5%
or more in the same direction on every run is real.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
import run  # noqa: E402


def totals(path: Path) -> int:
    """The instruction count of one callgrind dump (its "totals:" or "summary:" line)."""
    for line in path.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"{path}: no totals in the callgrind dump")


class Counted:
    """The server under callgrind, with the counters zeroed and dumped around each operation."""

    def __init__(self, pid: int, outdir: Path) -> None:
        self.pid, self.outdir = pid, outdir

    def _control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(self.pid)], check=True, capture_output=True, timeout=120)

    def zero(self) -> None:
        self._control("-z")

    def dump(self) -> int:
        before = set(self.outdir.glob("callgrind.out*"))
        self._control("-d")
        for _ in range(600):
            new = set(self.outdir.glob("callgrind.out*")) - before
            if new:
                path = max(new, key=lambda p: p.stat().st_mtime)
                time.sleep(0.2)  # the dump is written before the control command returns; be safe
                return totals(path)
            time.sleep(0.1)
        raise RuntimeError("callgrind wrote no dump")


async def operations(srv: run.Server, counted: Counted, n: int, flows: int,
                     mcp_headers: dict[str, str]) -> dict[str, Any]:
    conn = loadgen.Connection(srv.host, srv.port)
    browser = loadgen.Browser(srv.host, srv.port)
    out: dict[str, Any] = {}

    async def measure(name: str, count: int, call) -> None:
        # One request before counting, so first-use work (imports, caches) is not in the figure.
        await call(0)
        counted.zero()
        for i in range(count):
            if not await call(i + 1):
                raise RuntimeError(f"{name}: request {i + 1} failed")
        out[name] = {"requests": count, "instructions_per_request": round(counted.dump() / count)}
        run.log(f"{name}: {out[name]['instructions_per_request']:,} instructions per request")

    code = await srv.login(browser)
    body = await run._exchange(srv, conn, code) if code else None
    if not body:
        raise RuntimeError("the login flow failed")
    token, refresh = body["access_token"], [body["refresh_token"]]
    # The customer API's token: services:read on the person's one account (run.py's API_ROW).
    api_code = await srv.scoped(run.API_SCOPE).login(browser)
    api_body = await run._exchange(srv, conn, api_code) if api_code else None
    if not api_body:
        raise RuntimeError("the login flow for the customer API's token failed")
    api_token = api_body["access_token"]

    async def discovery(_: int) -> bool:
        return (await conn.request("GET", srv.discovery)).status == 200

    async def userinfo(_: int) -> bool:
        return (await conn.request("GET", srv.userinfo, headers={"Authorization": f"Bearer {token}"})).status == 200

    async def api_list(_: int) -> bool:
        r = await conn.request("GET", run.API_PATH, headers={"Authorization": f"Bearer {api_token}"})
        return r.status == 200 and len(json.loads(r.body)["data"]) == len(run.API_PRODUCTS)

    async def mcp_list(_: int) -> bool:
        r = await conn.request("POST", "/mcp", headers=mcp_headers, body=run.MCP_LIST_SERVICES.encode())
        return r.status == 200 and b'"isError":false' in r.body.replace(b" ", b"")

    async def introspection(_: int) -> bool:
        form = urlencode({"token": token}).encode()
        r = await conn.request("POST", srv.introspect, headers=srv.token_headers(), body=form)
        return r.status == 200 and b'"active":true' in r.body.replace(b" ", b"")

    await measure("discovery", n, discovery)
    await measure("userinfo", n, userinfo)
    await measure(run.API_ROW, n, api_list)
    await measure("MCP: list services", n, mcp_list)
    await measure("introspection", n, introspection)

    # Code exchange: the codes are minted first (not counted), then exchanged one by one.
    codes = [await srv.code_again(browser) for _ in range(n + 1)]
    if not all(codes):
        raise RuntimeError("codes could not be minted")

    async def exchange(i: int) -> bool:
        return await run._exchange(srv, conn, codes[i]) is not None

    await measure("token: code exchange", n, exchange)

    async def rotate(_: int) -> bool:
        form = urlencode({"grant_type": "refresh_token", "refresh_token": refresh[0]}).encode()
        r = await conn.request("POST", srv.token, headers=srv.token_headers(), body=form)
        if r.status != 200:
            return False
        refresh[0] = json.loads(r.body)["refresh_token"]
        return True

    await measure("token: refresh (rotating)", n, rotate)

    async def flow(_: int) -> bool:
        b = loadgen.Browser(srv.host, srv.port)
        try:
            c = await srv.login(b)
            return bool(c and await run._exchange(srv, b.conn, c))
        finally:
            b.conn.close()

    if flows:
        await measure("full login flow", flows, flow)
    conn.close()
    browser.conn.close()
    return out


def measure(db_url: str, work: Path, n: int, flows: int) -> dict[str, Any]:
    port = 8310
    # Keys are read again every 30 s by default; a reload inside a counted window would add its cost to that
    # operation alone (loading the private keys is several hundred million instructions under callgrind).
    env = {**run._hospes_env(db_url, port, work), "HOSPES_KEY_RELOAD_SECONDS": "100000"}
    run.sh([sys.executable, "-m", "hospes.cli", "db", "upgrade"], env=env)
    email = f"count-{int(time.time() * 1000)}@example.com"
    made = run._cli(env, "clients", "add", "--email", email, "--first-name", "Count", "--last-name", "User",
                    "--password", run.PASSWORD)
    for product in run.API_PRODUCTS:
        run._cli(env, "services", "add", "--client-id", str(made["clientId"]), "--product", product)
    cred = run._cli(env, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                    f"openid profile email offline_access {run.API_SCOPE}", "--name", "Count", "--redirect-uri",
                    run.REDIRECT, "--refresh-tokens", "always")
    mcp_headers = run._mcp_headers(db_url, f"http://127.0.0.1:{port}", made, cred["credentialId"])
    grind = work / "grind"
    grind.mkdir()
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={grind}/callgrind.out.%p",
           sys.executable, "-m", "hospes.cli", "serve", "--port", str(port)]
    proc = run.Proc(cmd, env, work, "hospes-callgrind")
    try:
        run.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=600)
        srv = run.Server("hospes", f"http://127.0.0.1:{port}", cred["clientIdentifier"], cred["clientSecret"],
                         "openid profile email offline_access", [email])
        return asyncio.run(operations(srv, Counted(proc.p.pid, grind), n, flows, mcp_headers))
    finally:
        proc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description="Instructions per request under callgrind")
    ap.add_argument("--requests", type=int, default=200, help="requests counted per operation")
    ap.add_argument("--flows", type=int, default=3, help="whole login flows counted (0: none)")
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL as well as SQLite")
    ap.add_argument("--out", default=str(HERE / "results" / "instructions.json"))
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("bench/instructions.py needs valgrind (apt-get install valgrind)")
    import hospes

    report: dict[str, Any] = {"code": str(Path(hospes.__file__).resolve().parent.parent),
                              "python": sys.version.split()[0], "requests": args.requests}
    with tempfile.TemporaryDirectory(prefix="hospes-count-") as tmp:
        (Path(tmp) / "sqlite").mkdir()
        run.log("counting Hospes on SQLite")
        report["hospes-sqlite"] = measure(f"sqlite:///{tmp}/sqlite/hospes.db", Path(tmp) / "sqlite",
                                          args.requests, args.flows)
        if args.postgres and (url := run.pg_database("hospes_count")):
            (Path(tmp) / "pg").mkdir()
            run.log("counting Hospes on PostgreSQL")
            report["hospes-postgresql"] = measure(url, Path(tmp) / "pg", args.requests, args.flows)
    for db in ("hospes-sqlite", "hospes-postgresql"):
        for op, r in report.get(db, {}).items():
            print(f"{db:18} {op:28} {r['instructions_per_request']:>14,}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    run.log(f"written to {args.out}")


if __name__ == "__main__":
    main()
