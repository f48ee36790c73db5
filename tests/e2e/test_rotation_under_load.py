"""Key rotations under load on two nodes (two ``hospes serve`` processes, one database, different ports):
no token request fails, and no ID token carries a kid missing from a JWKS a relying party fetched from either
node in the max-age before it.

Short timings through the settings: the JWKS may be cached MAX_AGE seconds and nodes re-read their keys every
RELOAD seconds, so a rotation's new key signs MAX_AGE + RELOAD + 1 seconds after it is published. Bounded: ROTATIONS
rotations (HOSPES_TEST_ROTATIONS, 6 by default; docs/OPERATIONS.md has the 50-rotation run), a light load of
code flows and refreshes, every call with a timeout, on loopback only."""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from hospes.config import load_settings
from hospes.oauth.keys import KeyRing
from hospes.store.db import Database
from tests.browserless import authorize, query_of
from tests.conftest import Server, start_server, stop_server
from tests.e2e import REDIRECT_URI, SCOPE, add_credential, add_user

MAX_AGE = 1
RELOAD = 0.5
ROTATIONS = int(os.environ.get("HOSPES_TEST_ROTATIONS", "6"))
SECRET = "rotation-under-load-secret-" + "r" * 32


@dataclass
class Record:
    """What the relying parties saw: every JWKS fetched, every ID token, every failure."""

    fetched: list[tuple[float, str, set[str]]] = field(default_factory=list)  # received at, node, kids
    tokens: list[tuple[float, str, str]] = field(default_factory=list)  # received at, node, kid
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


class StrictRP:
    """A relying party that keeps the JWKS as long as its Cache-Control max-age says and never fetches it
    again for an unknown kid (as strict libraries do within their cool-down): an ID token signed with a kid
    it does not hold fails."""

    def __init__(self, nodes: list[Server], record: Record) -> None:
        self.nodes, self.record = nodes, record
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._until = 0.0
        self._turn = 0

    def key_set(self) -> KeySet:
        with self._lock:
            if self._keys is None or time.time() >= self._until:
                node = self.nodes[self._turn % len(self.nodes)]
                self._turn += 1
                r = httpx.get(node.url + "/oauth/jwks", timeout=10)
                assert r.status_code == 200, r.text
                max_age = int(r.headers["cache-control"].rsplit("max-age=", 1)[1])
                self._keys, self._until = KeySet.import_key_set(r.json()), time.time() + max_age
            return self._keys

    def verify(self, node: Server, id_token: str) -> None:
        received = time.time()
        head = id_token.split(".", 1)[0]
        kid = str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])
        with self.record.lock:
            self.record.tokens.append((received, node.url, kid))
        try:
            jwt.decode(id_token, self.key_set(), algorithms=["RS256"])
        except Exception as exc:  # noqa: BLE001 - any failure to verify is what this test counts
            self.record.fail(f"ID token from {node.url} with kid {kid} did not verify: {exc!r}")


def token(node: Server, cred: Any, data: dict[str, str], record: Record) -> dict[str, Any] | None:
    try:
        r = httpx.post(node.url + "/oauth/token.php", data=data, auth=(cred.client_id, cred.client_secret),
                       timeout=10)
    except httpx.HTTPError as exc:
        record.fail(f"token request to {node.url}: {exc!r}")
        return None
    if r.status_code != 200:
        record.fail(f"token request to {node.url}: {r.status_code} {r.text[:200]}")
        return None
    return dict(r.json())


def code_flow(browser: httpx.Client, node: Server, cred: Any, user: Any, record: Record) -> dict[str, Any] | None:
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": REDIRECT_URI,
              "scope": SCOPE, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8)}
    r = authorize(browser, node.url + "/oauth/authorize.php?" + urlencode(params), user.email, user.password)
    assert r.status_code in (302, 303), r.text[:500]
    code = query_of(r.headers["location"])["code"]
    return token(node, cred, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
                 record)


def loop(stop: threading.Event, nodes: list[Server], step: Callable[[Server], None],
         record: Record) -> Callable[[], None]:
    def run() -> None:
        turn = 0
        while not stop.is_set():
            try:
                step(nodes[turn % 2])
            except Exception as exc:  # noqa: BLE001 - counted, and the load goes on
                record.fail(f"{step.__name__} on {nodes[turn % 2].url}: {exc!r}")
            turn += 1
            time.sleep(0.02)  # a light load: the machine is shared

    return run


def test_rotations_under_load_on_two_nodes_fail_no_request_and_no_id_token(database_url: str, tmp_path: Path):
    env = {"HOSPES_KEY_RELOAD_SECONDS": str(RELOAD), "HOSPES_JWKS_MAX_AGE": str(MAX_AGE),
           "HOSPES_SECRET_KEY": SECRET}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start_server(database_url, tmp_path / "a", env)
    b = None
    try:
        # One issuer for both, as behind a load balancer.
        b = start_server(database_url, tmp_path / "b", {**env, "HOSPES_ISSUER": a.url})
        run(a, b, database_url, tmp_path)
    finally:
        for node in (a, b):
            if node is not None:
                stop_server(node)


def run(a: Server, b: Server, database_url: str, tmp_path: Path) -> None:
    nodes = [a, b]
    user = add_user(a)
    cred = add_credential(a)
    record = Record()
    rp = StrictRP(nodes, record)
    stop = threading.Event()

    def poll(node: Server) -> None:
        try:
            r = httpx.get(node.url + "/oauth/jwks", timeout=10)
        except httpx.HTTPError as exc:
            record.fail(f"JWKS from {node.url}: {exc!r}")
            return
        if r.status_code != 200:
            record.fail(f"JWKS from {node.url}: {r.status_code}")
            return
        with record.lock:
            record.fetched.append((time.time(), node.url, {k["kid"] for k in r.json()["keys"]}))

    browser = httpx.Client(follow_redirects=False, timeout=10)

    def login(node: Server) -> None:
        tok = code_flow(browser, node, cred, user, record)
        if tok is not None:
            rp.verify(node, tok["id_token"])

    first = code_flow(browser, a, cred, user, record)
    assert first is not None
    refresh = {"token": first["refresh_token"]}

    def refresh_once(node: Server) -> None:
        tok = token(node, cred, {"grant_type": "refresh_token", "refresh_token": refresh["token"]}, record)
        if tok is not None:
            refresh["token"] = tok["refresh_token"]
            rp.verify(node, tok["id_token"])

    # The rotations run here, in one transaction each, as `hospes keys rotate` runs them (the CLI itself is
    # tests/e2e/test_key_rotation.py's), with the nodes' settings.
    settings = load_settings(database_url=database_url, secret_key=SECRET, var_dir=str(tmp_path / "var"),
                             key_reload_seconds=RELOAD, jwks_max_age=MAX_AGE)
    db = Database(settings.sqlalchemy_url)
    keys = KeyRing.for_settings(db, settings)
    threads = [threading.Thread(target=loop(stop, nodes, step, record)) for step in (poll, login, refresh_once)]
    for t in threads:
        t.start()
    rotated: list[str] = []
    deadline = time.monotonic() + 60 + ROTATIONS * (keys.activation_delay + 5)
    try:
        time.sleep(1)
        for _ in range(ROTATIONS):
            assert time.monotonic() < deadline, "the rotations took too long"
            done = keys.rotate()
            rotated.append(done.created[0])  # the RS256 key (SUPPORTED_ALGS' order)
            # Let the new key sign for a while before the next rotation.
            time.sleep(max(0.0, done.signs_from.timestamp() - time.time()) + 0.7)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        browser.close()
        db.dispose()

    assert record.failures == []
    assert all(not t.is_alive() for t in threads)
    tokens, fetched = record.tokens, record.fetched
    # Every rotation's key signed, on both nodes: the load ran through every switch.
    signed = {(node, kid) for _, node, kid in tokens}
    assert {kid for _, kid in signed} >= set(rotated)
    assert {node for node, kid in signed if kid == rotated[-1]} == {a.url, b.url}
    # No ID token with a kid missing from a JWKS fetched from either node in the MAX_AGE seconds before it.
    missing = [(round(at, 3), node, kid, round(f_at, 3), f_node)
               for at, node, kid in tokens for f_at, f_node, kids in fetched
               if at - MAX_AGE <= f_at <= at and kid not in kids]
    assert missing == []
    assert len(tokens) >= ROTATIONS * 3 and len(fetched) >= ROTATIONS * 5  # the machine is shared: a few a second
    print(f"\n{ROTATIONS} rotations: {len(tokens)} ID tokens ({len({k for _, _, k in tokens})} kids), "
          f"{len(fetched)} JWKS fetched, 0 failed token requests, 0 kids missing")
