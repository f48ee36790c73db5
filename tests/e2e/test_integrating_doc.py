"""docs/INTEGRATING.md is true: its curl walkthrough and its examples, run against the real server process.

The walkthrough's blocks marked ``<!-- tested: sh -->`` run in order in bash, each continuing the variables of
the ones before (with the doc's issuer replaced by the test server's and ``.venv/bin/hospes`` by this Python's
``hospes``). The block right after one (```http, ```json or ```text) is the answer the doc promises: an http
block's status and shown headers and body, a json or text block's whole output, where ``…`` stands for
anything. The ``browser`` block is where a person logs in and allows the application: the test does that with
tests/browserless.py and sets ``CALLBACK`` as the doc tells the reader to.

The examples (``python-example``, ``js-example``, ``php-example``) run as the doc says to run them: each prints
the authorization URL and waits for the address the browser was sent back to, which the test gets by logging
in as the person. The JavaScript example needs node and oauth4webapi (tests/js/node_modules, which
``make test`` installs from tests/js/package-lock.json, or ``HOSPES_TEST_NODE_MODULES`` naming another), the
PHP one needs php; each is skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browserless import authorize
from tests.conftest import once_per_suite
from tests.e2e import add_user, cli_json

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "INTEGRATING.md"
DOC_ISSUER = "http://127.0.0.1:8000"
REDIRECT_URI = "http://127.0.0.1:8001/cb"
MARK = re.compile(r"^<!-- tested: ([a-z-]+) -->$")
FENCE = re.compile(r"^```(\w*)$")


@dataclass
class Block:
    mark: str
    lang: str
    text: str
    answer: tuple[str, str] | None = None  # (lang, text) of the answer shown right after


def fenced(lines: list[str], i: int) -> tuple[str, str, int]:
    """The fenced block opening at line ``i``: (language, text, the line after it)."""
    opening = FENCE.match(lines[i])
    assert opening, f"line {i + 1} of {DOC.name}: a fenced block must follow its mark"
    end = lines.index("```", i + 1)
    return opening.group(1), "\n".join(lines[i + 1:end]), end + 1


def blocks() -> list[Block]:
    lines = DOC.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        mark = MARK.match(lines[i])
        if not mark:
            i += 1
            continue
        lang, text, i = fenced(lines, i + 1)
        block = Block(mark.group(1), lang, text)
        if i < len(lines) and FENCE.match(lines[i]) and lines[i] != "```":
            answer_lang, answer, i = fenced(lines, i)
            block.answer = (answer_lang, answer)
        found.append(block)
    return found


def pattern(shown: str) -> re.Pattern[str]:
    """The doc's text as a pattern: ``…`` is anything, runs of white space are white space."""
    parts = [r"\s+".join(re.escape(w) for w in piece.split()) for piece in shown.strip().split("…")]
    return re.compile(r"\s*" + ".*?".join(parts) + r"\s*", re.DOTALL)


def matches(shown: str, actual: str) -> bool:
    return pattern(shown).fullmatch(actual) is not None


def check_http(shown: str, actual: str) -> int:
    """An http answer: the status of its first line, each header shown, the body when shown."""
    head, _, body = actual.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.split("\n")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    want_head, _, want_body = shown.partition("\n\n")
    want_status, *want_headers = want_head.split("\n")
    assert status_line.split()[1] == want_status.split()[1], f"status: doc says {want_status!r}, got {status_line!r}"
    for line in want_headers:
        name, _, value = line.partition(":")
        got = headers.get(name.strip().lower(), [])
        assert any(matches(value, v) for v in got), f"header {name}: doc says {value.strip()!r}, got {got}"
    if want_body.strip():
        assert matches(want_body, body), f"body: doc says\n{want_body}\ngot\n{body}"
    return int(status_line.split()[1])


def load_env(path: Path) -> dict[str, str]:
    pairs = (item.partition("=") for item in path.read_bytes().decode().split("\0") if "=" in item)
    return {name: value for name, _, value in pairs}


def as_run_here(text: str, server: Any) -> str:
    hospes = f"'{sys.executable}' -m hospes.cli"
    return text.replace(DOC_ISSUER, server.url).replace(".venv/bin/hospes", hospes)


def person_allows(url: str, email: str, password: str) -> str:
    """The person opens ``url``, logs in, allows; the address the browser is sent back to."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        r = authorize(browser, url, email, password)
    assert r.status_code in (302, 303), r.text[:2000]
    location: str = r.headers["location"]
    assert location.startswith(REDIRECT_URI + "?code="), location
    return location


def test_the_curl_walkthrough_answers_as_the_doc_says(server: Any, tmp_path: Path) -> None:
    if not all(shutil.which(tool) for tool in ("bash", "curl", "jq", "openssl")):
        pytest.skip("the walkthrough needs bash, curl, jq and openssl")
    env = {**server.env, "PATH": os.environ.get("PATH", "")}
    state = tmp_path / "walkthrough.env"
    statuses = []
    walkthrough = [b for b in blocks() if b.mark in ("sh", "browser")]
    assert walkthrough and walkthrough[0].text.startswith("ISSUER=" + DOC_ISSUER)
    for n, block in enumerate(walkthrough, 1):
        if block.mark == "browser":
            # Step 4: log in as the person the walkthrough created, and allow the application.
            assert block.text.startswith("CALLBACK='"), block.text
            env["CALLBACK"] = person_allows(env["AUTHORIZATION_URL"], "jane@example.com", "jane-password-1")
            continue
        script = f"set -eo pipefail\nset -a\n{as_run_here(block.text, server)}\nenv -0 > '{state}'\n"
        run = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, f"block {n} failed:\n{block.text}\n{run.stdout}\n{run.stderr}"
        env = load_env(state)
        if block.answer is None:
            continue
        lang, shown = block.answer
        shown = shown.replace(DOC_ISSUER, server.url)
        if lang == "http":
            statuses.append(check_http(shown, run.stdout))
        else:
            assert matches(shown, run.stdout), f"block {n}:\n{block.text}\ndoc says\n{shown}\ngot\n{run.stdout}"
            statuses += [int(code) for code in re.findall(r" (\d{3})$", run.stdout, re.MULTILINE)]
    # The walkthrough shows each answer an integrator meets.
    assert {200, 201, 204, 400, 401, 403, 404} <= set(statuses), statuses


def example(mark: str) -> str:
    [found] = [b.text for b in blocks() if b.mark == mark]
    return found


def run_example(server: Any, command: list[str], cwd: Path) -> list[str]:
    """Run an example as the doc says, be the person at the address it prints, paste the address back."""
    jane = add_user(server, "Jane")
    for product in ("Shared Hosting", *[f"Server {n}" for n in range(11)]):
        cli_json(server, "services", "add", "--client-id", str(jane.client_id), "--product", product)
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code",
                    "--scope", "openid offline_access services:read tickets:write", "--name", "Status Board",
                    "--redirect-uri", REDIRECT_URI)
    env = {**os.environ, "HOSPES_ISSUER": server.url, "CLIENT_ID": made["clientIdentifier"],
           "CLIENT_SECRET": made["clientSecret"], "REDIRECT_URI": REDIRECT_URI, "PYTHONUNBUFFERED": "1"}
    errors = cwd / "stderr.txt"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=stderr, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        shown = [proc.stdout.readline(), proc.stdout.readline()]
        url = shown[1].strip()
        assert url.startswith(server.url + "/oauth/authorize.php?"), (shown, errors.read_text())
        proc.stdin.write(person_allows(url, jane.email, jane.password) + "\n")
        proc.stdin.close()
        out = proc.stdout.read()  # to the end: the program has finished
        assert proc.wait(60) == 0, f"{out}\n{errors.read_text()}"
    finally:
        if proc.poll() is None:
            proc.kill()
    prompt = "Then paste the address the browser was sent to: "
    assert out.startswith(prompt), out
    return out.removeprefix(prompt).splitlines()


def assert_the_example_did_it_all(lines: list[str]) -> None:
    products = ", ".join(f"#{n} {p}" for n, p in enumerate(("Shared Hosting", *[f"Server {n}" for n in range(11)]), 1))
    assert lines == [
        f"Services: {products}",  # twelve: two pages of ten, the second found by "next"
        "Invoices refused: 403 insufficient_scope needs invoices:read",
        "Opened ticket #1: Site down (Open)",
        "Refreshed; the access token expires in 3600 seconds",
        "After revocation: 401 invalid_token",
    ]


@once_per_suite
def test_the_python_example_runs(server: Any, tmp_path: Path) -> None:
    program = tmp_path / "app.py"
    program.write_text(example("python-example"))
    assert_the_example_did_it_all(run_example(server, [sys.executable, str(program)], tmp_path))


@once_per_suite
def test_the_javascript_example_runs(server: Any, tmp_path: Path) -> None:
    modules = os.environ.get("HOSPES_TEST_NODE_MODULES") or str(ROOT / "tests" / "js" / "node_modules")
    if not shutil.which("node") or not (Path(modules) / "oauth4webapi").is_dir():
        pytest.skip("needs node and HOSPES_TEST_NODE_MODULES naming a node_modules folder with oauth4webapi")
    (tmp_path / "node_modules").symlink_to(Path(modules).resolve())
    program = tmp_path / "app.mjs"
    program.write_text(example("js-example"))
    assert_the_example_did_it_all(run_example(server, ["node", str(program)], tmp_path))


@once_per_suite
def test_the_php_example_runs(server: Any, tmp_path: Path) -> None:
    if not shutil.which("php"):
        pytest.skip("needs php (with the curl extension)")
    program = tmp_path / "app.php"
    program.write_text(example("php-example"))
    assert_the_example_did_it_all(run_example(server, ["php", str(program)], tmp_path))
