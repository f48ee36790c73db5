"""Shared fixtures: a fresh database (SQLite, or PostgreSQL when HOSPES_TEST_BACKEND=postgresql),
the app in-process (Starlette's TestClient), and the real server process over HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from hospes.accounts.service import add_client, add_service
from hospes.config import Settings, load_settings
from hospes.oauth import credentials
from hospes.store.db import Database
from hospes.store.migrate import upgrade
from tests import processes
from tests.mailbox import Inbox
from tests.pg_databases import PostgresDatabases

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery staple"


def backend() -> str:
    return os.environ.get("HOSPES_TEST_BACKEND", "sqlite")


# For tests of a client program against the HTTP interface alone (the documentation's examples, a relying-party
# library), whose server-side paths other tests run on both databases: once per suite keeps CI within its time.
once_per_suite = pytest.mark.skipif(
    os.environ.get("HOSPES_TEST_BACKEND") == "postgresql",
    reason="a client program over HTTP: run once per suite, on SQLite (the server's paths run on both elsewhere)")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    """This test process's PostgreSQL test databases, reused from test to test (tests/pg_databases.py)."""
    databases = PostgresDatabases(os.environ.get("HOSPES_TEST_DATABASE_URL", PG_DEFAULT))
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database migrated to the newest schema once per test process, which each test that would migrate
    its own (through ``db`` or ``server``) gets a copy of: migrating from nothing costs far more than copying
    (SQLite rebuilds tables for each ALTER). On PostgreSQL, ``pg_databases`` does the same."""
    path = tmp_path_factory.mktemp("template") / "hospes.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


# The databases made as a copy of a migrated one: ``db`` need not migrate them.
_MIGRATED: set[str] = set()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own: empty, or, for a test that would migrate it first anyway (it uses ``db`` or
    ``server``), already migrated."""
    if request.node.get_closest_marker("one_server") is not None:
        yield request.getfixturevalue("module_database_url")
        return
    yield from _own_database(request, tmp_path, migrated=bool({"db", "server"} & set(request.fixturenames)))


def _own_database(request: pytest.FixtureRequest, directory: Path, *, migrated: bool) -> Iterator[str]:
    """A database's URL for as long as it is used: a file in ``directory`` on SQLite (a copy of
    ``migrated_template`` when ``migrated``), one of ``pg_databases`` on PostgreSQL."""
    if backend() != "postgresql":
        url = f"sqlite:///{directory}/hospes.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("migrated_template"), directory / "hospes.db")
            _MIGRATED.add(url)
        yield url
        _MIGRATED.discard(url)
        return
    databases: PostgresDatabases = request.getfixturevalue("pg_databases")
    url = databases.take(migrated)
    if migrated:
        _MIGRATED.add(url)
    try:
        yield url
    finally:
        _MIGRATED.discard(url)
        databases.give_back(url, migrated)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(database_url=database_url, var_dir=str(tmp_path / "var"),
                         secret_key="test-secret-key-" + "x" * 32)


@pytest.fixture
def db(database_url: str, settings: Settings) -> Iterator[Database]:
    if database_url not in _MIGRATED:
        upgrade(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url, settings.db_timeout)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database) -> Any:
    from hospes.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    # follow_redirects off: tests look at each redirect, as a browser's user would not, but an RP does.
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as c:
        yield c


@dataclass
class Account:
    client_id: int
    user_id: int
    email: str
    password: str


@dataclass
class Cred:
    credential_id: int
    client_id: str
    client_secret: str
    redirect_uri: str


@pytest.fixture
def make_account(db: Database) -> Any:
    counter = iter(range(1, 10_000))

    def make(email: str | None = None, password: str = PASSWORD, **kw: Any) -> Account:
        email = email or f"user{next(counter)}-{uuid.uuid4().hex[:6]}@example.com"
        with db.transaction() as s:
            made = add_client(s, email=email, first_name=kw.pop("first_name", "Jane"),
                              last_name=kw.pop("last_name", "Doe"), password=password, **kw)
        return Account(made.client_id, made.user_id, email, password)

    return make


@pytest.fixture
def make_credential(db: Database) -> Any:
    def make(redirect_uri: str = "https://rp.example.com/cb", scope: str = "openid profile email",
             **kw: Any) -> Cred:
        kw.setdefault("grant_type", "authorization_code")
        kw.setdefault("name", "Example App")
        with db.transaction() as s:
            made = credentials.create(s, scope=scope, redirect_uris=[redirect_uri], **kw)
        return Cred(made.credential_id, made.client_identifier, made.client_secret, redirect_uri)

    return make


@pytest.fixture
def make_service(db: Database) -> Any:
    def make(client_id: int, product: str = "Shared Hosting", **kw: Any) -> int:
        with db.transaction() as s:
            return add_service(s, client_id=client_id, product=product, **kw)

    return make


# -- the real server process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: processes.Forked
    log: Path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``hospes <args>`` with the server's settings (a forked process: tests/processes.py)."""
        return processes.run(list(args), self.env, stdin=stdin, timeout=60)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free port: (what it received, its port)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the ``server`` process (and its ``cli``); override it in a module to change it."""
    return {}


def start_server(database_url: str, tmp_path: Path, server_env: dict[str, str], *args: str,
                 issuer_path: str = "") -> Server:
    """``hospes serve [args]`` in a subprocess on a free port, its issuer set to that port (and
    ``issuer_path``, e.g. "/tenant", below which every endpoint lives), once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{issuer_path}"
    env = {**os.environ, "HOSPES_ISSUER": url, "HOSPES_DATABASE_URL": database_url,
           "HOSPES_VAR_DIR": str(tmp_path / "var"), **server_env}
    env.pop("HOSPES_CONFIG", None)
    log = tmp_path / "server.log"
    proc = processes.Forked(["serve", "--port", str(port), *args], env, tmp_path, stdout=log)
    deadline = time.monotonic() + 120  # generous: a loaded CI machine starts a process slowly
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start:\n" + log.read_text())
        time.sleep(0.1)
    return Server(url, env, proc, log)


def stop_server(srv: Server) -> None:
    srv.process.terminate()
    try:
        srv.process.wait(30)
    except subprocess.TimeoutExpired:
        srv.process.kill()


@pytest.fixture
def server(request: pytest.FixtureRequest, database_url: str, tmp_path: Path,
           server_env: dict[str, str]) -> Iterator[Server]:
    """``hospes serve`` in a subprocess on a free port, its issuer set to that port: the test's own, or in a module
    marked ``one_server``, the module's (``module_server``)."""
    if request.node.get_closest_marker("one_server") is not None:
        yield request.getfixturevalue("module_server")
        return
    srv = start_server(database_url, tmp_path, server_env)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database for all the tests of a module marked ``one_server``: their ``database_url``.

    Starting ``hospes serve`` costs about 1.8 s of CPU, the largest part of many an HTTP test. A module whose tests
    do not depend on starting from an empty database (each makes its own accounts and credentials; none counts
    rows or trips a limit that would hold for the next test) shares one server and its database."""
    yield from _own_database(request, tmp_path_factory.mktemp("module"), migrated=True)


@pytest.fixture(scope="module")
def module_server(request: pytest.FixtureRequest, module_database_url: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``hospes serve`` for all the tests of a module marked ``one_server``, with the module's ``SERVER_ENV`` as
    its extra environment."""
    env = getattr(request.module, "SERVER_ENV", {})
    srv = start_server(module_database_url, tmp_path_factory.mktemp("server"), env)
    yield srv
    stop_server(srv)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """The PostgreSQL pass (``make test``'s second) runs the tests that use a database, browser tests aside (the
    slowest; once is enough for what a browser adds) and tests of the ``server`` process aside (each starts
    Python processes; the same requests run in-process on PostgreSQL), but for those marked ``both_databases``
    (races between requests, several nodes, the MCP SDK's whole connection): one that takes no
    ``database_url`` (directly or through ``db``, ``app``, ``server`` …) and does not choose a database itself
    runs the same on both, so once, in the SQLite pass, is enough."""
    if backend() != "postgresql":
        return
    skip = pytest.mark.skip(reason="uses no database: run once, in the SQLite pass")
    chooses: dict[str, bool] = {}
    browser = pytest.mark.skip(reason="a browser test: run once, in the SQLite pass (the pages' database paths run "
                                      "on both in the HTTP tests)")
    process = pytest.mark.skip(reason="a test of the server process: its storage paths run on PostgreSQL in the "
                                      "in-process tests; marked both_databases where the process itself matters")
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(browser)
            continue
        fixtures = getattr(item, "fixturenames", ())
        if "server" in fixtures and item.get_closest_marker("both_databases") is None:
            item.add_marker(process)
            continue
        if "database_url" in fixtures:
            continue
        path = str(item.path)
        if path not in chooses:
            source = Path(path).read_text(encoding="utf-8")
            chooses[path] = "HOSPES_TEST_" in source or "backend()" in source
        if not chooses[path]:
            item.add_marker(skip)
