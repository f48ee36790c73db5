"""``hospes backup`` while the server issues tokens, ``hospes restore`` into a new database, and a server
started on it: every token answered before the backup began still works, the copy is sound, and without
the secret key the restored database does not start."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_DEFAULT, backend, start_server, stop_server
from tests.e2e import add_credential, add_user, code_flow, discover, rp


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[Any]:
    """Make empty databases to restore into: a new file on SQLite, a new database on PostgreSQL."""
    made: list[str] = []
    admin_url = os.environ.get("HOSPES_TEST_DATABASE_URL", PG_DEFAULT)
    admin = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT") if backend() == "postgresql" else None

    def make() -> str:
        name = f"hospes_restore_{uuid.uuid4().hex[:12]}"
        if admin is None:
            return f"sqlite:///{tmp_path}/{name}/hospes.db"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{admin_url.rsplit('/', 1)[0]}/{name}"

    yield make
    if admin is not None:
        with admin.connect() as c:
            for name in made:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _hospes(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hospes.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def _env(database_url: str, var: Path) -> dict[str, str]:
    env = {**os.environ, "HOSPES_DATABASE_URL": database_url, "HOSPES_VAR_DIR": str(var)}
    env.pop("HOSPES_CONFIG", None)
    return env


def _live_tokens(database_url: str) -> int:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT (SELECT count(*) FROM access_tokens WHERE revoked_at IS NULL) + "
                                      "(SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL)")).scalar_one())
    finally:
        engine.dispose()


def test_backup_while_serving_then_restore(server, tmp_path, new_database):
    user = add_user(server)
    cred = add_credential(server)
    meta = discover(server)
    oauth = rp(cred)
    first = code_flow(oauth, meta, user).token

    # Refresh after refresh while the backup runs: each answer is a new access and refresh token.
    answered: list[tuple[float, str]] = []
    stop = threading.Event()
    errors: list[str] = []

    def refresh_loop() -> None:
        current = first["refresh_token"]
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                r = http.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": current},
                              auth=(cred.client_id, cred.client_secret))
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                body = r.json()
                answered.append((time.monotonic(), body["access_token"]))
                current = body["refresh_token"]

    loop = threading.Thread(target=refresh_loop)
    loop.start()
    try:
        while len(answered) < 20 and loop.is_alive():
            time.sleep(0.05)
        output = tmp_path / "hospes.backup"
        began = time.monotonic()
        made = _hospes(server.env, "backup", "--output", str(output), "--json")
        time.sleep(0.3)
    finally:
        stop.set()
        loop.join(30)
    assert not errors, errors
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    assert report["path"] == str(output) and report["bytes"] == output.stat().st_size > 0
    assert any(t > began for t, _ in answered)  # the server kept answering
    before = [token for t, token in answered if t < began]
    assert before

    # Restore what an operator keeps: the backup file and the secret key.
    restored_url = new_database()
    restored = tmp_path / "restored"
    (restored / "var").mkdir(parents=True)
    shutil.copy(Path(server.env["HOSPES_VAR_DIR"]) / "secret_key", restored / "var" / "secret_key")
    put_back = _hospes(_env(restored_url, restored / "var"), "restore", "--input", str(output), "--json")
    assert put_back.returncode == 0, put_back.stderr
    assert json.loads(put_back.stdout)["grantsRevoked"] == 0
    # Not twice into the same database: a restore never merges.
    again = _hospes(_env(restored_url, restored / "var"), "restore", "--input", str(output))
    assert again.returncode == 1 and again.stderr.startswith("error: restore failed:") and "not empty" in again.stderr
    if restored_url.startswith("sqlite"):
        with sqlite3.connect(restored_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    srv = start_server(restored_url, restored, {})
    try:
        for token in before:
            r = httpx.get(srv.url + "/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["email"] == user.email
    finally:
        stop_server(srv)

    # Without the secret key the signing keys cannot be opened: serve stops with one line.
    elsewhere = _env(restored_url, tmp_path / "no-key")
    refused = subprocess.run([sys.executable, "-m", "hospes.cli", "serve", "--port", "9"], env=elsewhere,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error:"), refused.stderr

    # --revoke-tokens: nothing restored is usable (tokens revoked or rotated since the backup stay dead).
    revoked_url = new_database()
    (tmp_path / "revoked").mkdir()
    wiped = _hospes(_env(revoked_url, tmp_path / "revoked"), "restore", "--input", str(output), "--revoke-tokens",
                    "--json")
    assert wiped.returncode == 0, wiped.stderr
    assert json.loads(wiped.stdout)["grantsRevoked"] >= 1
    assert _live_tokens(revoked_url) == 0 < _live_tokens(restored_url)


def test_backup_and_restore_refuse_bad_paths_in_one_line(server, tmp_path):
    r = server.cli("backup", "--output", str(tmp_path / "missing-dir" / "x.backup"))
    assert r.returncode == 1 and r.stderr.startswith("error: backup failed:") and "Traceback" not in r.stderr
    r = server.cli("restore", "--input", str(tmp_path / "nothing-here"))
    assert r.returncode == 1 and r.stderr.startswith("error: restore failed:") and "Traceback" not in r.stderr
