"""The purge: dead rows of every kind go, live ones and those still inside their grace stay; a used code is
kept long enough for a replay to revoke its grant; ``hospes purge`` and the server's own background purge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from hospes.accounts.service import add_admin
from hospes.clock import now
from hospes.secrets import digest, new_token
from hospes.store import models as m
from hospes.store.purge import DELIVERIES_KEPT, LOGIN_FAILURES_KEPT, REGISTRATIONS_UNUSED, TABLES, purge
from tests.conftest import PASSWORD, start_server, stop_server
from tests.oauth.test_token import assert_error, exchange, get_code, refresh, userinfo_status

GRACE = timedelta(hours=1)
LONG_AGO = timedelta(hours=2)  # dead for longer than GRACE
LATELY = timedelta(minutes=10)  # dead, but within GRACE
SOON = timedelta(hours=1)


class Rows:
    """Rows inserted for the test, each marked as one the purge must take or must leave."""

    def __init__(self, s: Any, user_id: int, credential_id: int, client_id: int, admin_id: int) -> None:
        self.s, self.user, self.cred, self.client, self.admin = s, user_id, credential_id, client_id, admin_id
        self.dead: dict[str, set[Any]] = {t: set() for t in TABLES}
        self.live: dict[str, set[Any]] = {t: set() for t in TABLES}
        self.t = now()

    def _add(self, row: Any, dead: bool) -> Any:
        self.s.add(row)
        self.s.flush()
        (self.dead if dead else self.live)[row.__tablename__].add(getattr(row, _KEY.get(row.__tablename__, "id")))
        return row

    def grant(self, dead: bool, created: timedelta = LONG_AGO, revoked: timedelta | None = None) -> int:
        return int(self._add(m.Grant(credential_id=self.cred, user_id=self.user, scope="openid",
                                     created_at=self.t - created,
                                     revoked_at=self.t - revoked if revoked else None), dead).id)

    def code(self, grant: int, dead: bool, expires: timedelta, used: bool = False, sid: str | None = None) -> None:
        self._add(m.AuthorizationCode(code_hash=digest(new_token()), grant_id=grant, credential_id=self.cred,
                                      user_id=self.user, redirect_uri="https://rp.example.com/cb", scope="openid",
                                      auth_time=0, expires_at=self.t + expires, session_id=sid,
                                      used_at=self.t - LONG_AGO if used else None), dead)

    def token(self, model: Any, grant: int, dead: bool, expires: timedelta, revoked: timedelta | None = None,
              **extra: Any) -> None:
        if model is m.RefreshToken:
            extra.setdefault("auth_time", 0)
        self._add(model(token_hash=digest(new_token()), grant_id=grant, credential_id=self.cred, user_id=self.user,
                        scope="openid", issued_at=self.t - LONG_AGO, expires_at=self.t + expires,
                        revoked_at=self.t - revoked if revoked else None, **extra), dead)

    def session(self, model: Any, dead: bool, expires: timedelta, ended: timedelta | None = None) -> Any:
        who = {"user_id": self.user, "auth_time": 0} if model is m.LoginSession else {"admin_id": self.admin}
        return self._add(model(token_hash=digest(new_token()), created_at=self.t - LONG_AGO,
                               last_seen_at=self.t - LONG_AGO, expires_at=self.t + expires,
                               ended_at=self.t - ended if ended else None, **who), dead)

    def link(self, model: Any, dead: bool, expires: timedelta, used: bool = False) -> None:
        extra: dict[str, Any] = {"email": "a@example.com"} if model is m.EmailVerification else {}
        if model is m.SsoToken:
            extra = {"client_id": self.client}
        self._add(model(token_hash=digest(new_token()), user_id=self.user, created_at=self.t - LONG_AGO,
                        expires_at=self.t + expires, used_at=self.t - LATELY if used else None, **extra), dead)

    def registered(self, dead: bool, created: timedelta, *, kind: str = "dynamic", used: timedelta | None = None,
                   with_grant: bool = False) -> None:
        cred = self._add(m.OAuthCredential(identifier=f"DYN.{new_token()[:20]}", grant_type="authorization_code",
                                           scope="openid", name="Registered", kind=kind,
                                           created_at=self.t - created,
                                           last_used_at=self.t - used if used else None), dead)
        if with_grant:
            self.s.add(m.Grant(credential_id=cred.id, user_id=self.user, scope="openid", created_at=self.t))

    def initial_token(self, dead: bool, expires: timedelta | None, uses: int | None = None) -> None:
        self._add(m.RegistrationToken(token_hash=digest(new_token()), uses_left=uses, created_at=self.t - LONG_AGO,
                                      expires_at=self.t + expires if expires is not None else None), dead)

    def delivery(self, dead: bool, status: str, finished: timedelta | None) -> None:
        self._add(m.BackchannelLogout(credential_id=self.cred, sub="s", status=status, created_at=self.t - LONG_AGO,
                                      next_attempt_at=self.t - LONG_AGO,
                                      finished_at=self.t - finished if finished else None), dead)

    def seen_jti(self, dead: bool, expires: timedelta) -> None:
        self._add(m.SeenJti(kind="client_assertion", digest=digest(new_token()), expires_at=self.t + expires), dead)

    def failure(self, dead: bool, at: timedelta) -> None:
        self._add(m.LoginFailure(key="account:x@example.com", at=self.t - at), dead)


def _fill(s: Any, rows: Rows) -> None:
    # Codes: gone once expired + grace, used or not; a used code inside its grace stays (a replay revokes).
    g = rows.grant(dead=True)  # its only code is dead, and it is old: the grant goes too
    rows.code(g, dead=True, expires=-LONG_AGO)
    rows.code(rows.grant(dead=True), dead=True, expires=-LONG_AGO, used=True)
    rows.code(rows.grant(dead=False), dead=False, expires=-LATELY, used=True)
    rows.code(rows.grant(dead=False, created=timedelta(0)), dead=False, expires=timedelta(seconds=60))

    # A used code whose login session still runs stays when its client listens for back-channel logout (the
    # code tells which clients were used in the session); once the session has ended, it goes like any other.
    s.get(m.OAuthCredential, rows.cred).backchannel_logout_uri = "https://rp.example.com/bc-logout"
    running = rows.session(m.LoginSession, dead=False, expires=SOON)
    ended = rows.session(m.LoginSession, dead=False, expires=SOON, ended=LATELY)
    rows.code(rows.grant(dead=False), dead=False, expires=-LONG_AGO, used=True, sid=running.sid)
    rows.code(rows.grant(dead=True), dead=True, expires=-LONG_AGO, used=True, sid=ended.sid)
    rows.code(rows.grant(dead=True), dead=True, expires=-LONG_AGO, used=False, sid=running.sid)

    # Access tokens: expired or revoked + grace.
    g = rows.grant(dead=True, revoked=LONG_AGO)
    rows.token(m.AccessToken, g, dead=True, expires=SOON, revoked=LONG_AGO)
    rows.token(m.AccessToken, rows.grant(dead=True), dead=True, expires=-LONG_AGO)
    live = rows.grant(dead=False)
    rows.token(m.AccessToken, live, dead=False, expires=SOON)
    rows.token(m.AccessToken, rows.grant(dead=False), dead=False, expires=-LATELY)

    # Refresh tokens: a rotated one stays while unexpired under a live grant (reuse detection).
    rows.token(m.RefreshToken, rows.grant(dead=True), dead=True, expires=-LONG_AGO, used_at=rows.t - LONG_AGO)
    revoked = rows.grant(dead=True, revoked=LONG_AGO)
    rows.token(m.RefreshToken, revoked, dead=True, expires=SOON * 24, used_at=rows.t - LONG_AGO, revoked=LONG_AGO)
    rows.token(m.RefreshToken, revoked, dead=True, expires=SOON * 24, revoked=LONG_AGO)
    rotated = rows.grant(dead=False)
    rows.token(m.RefreshToken, rotated, dead=False, expires=SOON * 24, used_at=rows.t - LONG_AGO)
    rows.token(m.RefreshToken, rotated, dead=False, expires=SOON * 24)
    lately = rows.grant(dead=False, revoked=LATELY)
    rows.token(m.RefreshToken, lately, dead=False, expires=SOON * 24, revoked=LATELY)

    # A grant with nothing under it, but new (its code may be on its way): stays.
    rows.grant(dead=False, created=LATELY)

    for model in (m.LoginSession, m.AdminSession):
        rows.session(model, dead=True, expires=-LONG_AGO)
        rows.session(model, dead=True, expires=SOON, ended=LONG_AGO)
        rows.session(model, dead=False, expires=SOON)
        rows.session(model, dead=False, expires=SOON, ended=LATELY)
    for model in (m.SsoToken, m.PasswordReset, m.EmailVerification):
        rows.link(model, dead=True, expires=-LONG_AGO)
        rows.link(model, dead=True, expires=-LONG_AGO, used=True)
        rows.link(model, dead=False, expires=SOON)
        rows.link(model, dead=False, expires=-LATELY, used=True)
    # Self-registered clients (RFC 7591) go once unused for REGISTRATIONS_UNUSED and holding no grant; the
    # operator's own stay however old.
    old = REGISTRATIONS_UNUSED + timedelta(days=1)
    rows.registered(dead=True, created=old)
    rows.registered(dead=True, created=old, used=old)
    rows.registered(dead=False, created=old, used=timedelta(days=1))
    rows.registered(dead=False, created=old, with_grant=True)
    rows.registered(dead=False, created=timedelta(days=1))
    rows.registered(dead=False, created=old, kind="admin")
    # A client known by its metadata document likewise (its next authorization fetches the document again).
    rows.registered(dead=True, created=old, kind="metadata_document")
    rows.registered(dead=False, created=old, used=timedelta(days=1), kind="metadata_document")
    # Initial access tokens: expired + grace, or used up.
    rows.initial_token(dead=True, expires=-LONG_AGO)
    rows.initial_token(dead=True, expires=SOON, uses=0)
    rows.initial_token(dead=False, expires=SOON, uses=2)
    rows.initial_token(dead=False, expires=None)
    rows.initial_token(dead=False, expires=-LATELY)
    # Back-channel logout deliveries: finished (delivered or given up) for DELIVERIES_KEPT; pending ones stay.
    rows.delivery(dead=True, status="delivered", finished=DELIVERIES_KEPT + timedelta(hours=1))
    rows.delivery(dead=True, status="failed", finished=DELIVERIES_KEPT + timedelta(hours=1))
    rows.delivery(dead=False, status="failed", finished=DELIVERIES_KEPT - timedelta(hours=1))
    rows.delivery(dead=False, status="pending", finished=None)
    # Seen JWT ids go once the JWT they came in has expired (no grace: its own exp refuses it).
    rows.seen_jti(dead=True, expires=-LATELY)
    rows.seen_jti(dead=True, expires=-LONG_AGO)
    rows.seen_jti(dead=False, expires=SOON)
    rows.failure(dead=True, at=LOGIN_FAILURES_KEPT + timedelta(minutes=1))
    rows.failure(dead=False, at=LOGIN_FAILURES_KEPT - timedelta(minutes=1))


# The column that names a row of a table without an id.
_KEY = {"seen_jtis": "digest"}


def _ids(s: Any, table: str) -> set[Any]:
    column = _KEY.get(table, "id")
    return {bytes(v) if isinstance(v, memoryview) else v  # noqa: S608 (names of the test's)
            for v in s.scalars(text(f"SELECT {column} FROM {table}"))}


@pytest.fixture
def filled(db, make_account, make_credential) -> Rows:
    acct = make_account()
    cred = make_credential()
    with db.transaction() as s:
        admin_id = add_admin(s, username="ops", email="ops@example.com", password=PASSWORD, permissions=[])
        rows = Rows(s, acct.user_id, cred.credential_id, acct.client_id, admin_id)
        _fill(s, rows)
    return rows


def test_dead_rows_go_and_live_ones_stay(db, filled):
    # Batches of 2: every table needs several, and a batch never takes more.
    counts = purge(db, grace=GRACE, batch=2)
    with db.read() as s:
        for table in TABLES:
            left = _ids(s, table)
            assert not filled.dead[table] & left, f"{table}: dead rows kept: {filled.dead[table] & left}"
            assert filled.live[table] <= left, f"{table}: live rows purged: {filled.live[table] - left}"
            assert counts[table] == len(filled.dead[table]), (table, counts[table])
    # Nothing more to do: a second purge finds nothing.
    assert sum(purge(db, grace=GRACE, batch=2).values()) == 0


def test_the_cli_prints_the_count_per_table(db, filled, settings, tmp_path):
    env = {**os.environ, "HOSPES_DATABASE_URL": settings.database_url, "HOSPES_VAR_DIR": str(tmp_path / "var"),
           "HOSPES_PURGE_GRACE": "3600", "HOSPES_PURGE_BATCH": "3"}
    r = subprocess.run([sys.executable, "-m", "hospes.cli", "purge", "--json"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["purged"] == {t: len(filled.dead[t]) for t in TABLES}
    assert out["total"] == sum(len(d) for d in filled.dead.values())
    plain = subprocess.run([sys.executable, "-m", "hospes.cli", "purge"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert plain.returncode == 0 and "access_tokens\t0" in plain.stdout.splitlines()
    bad = subprocess.run([sys.executable, "-m", "hospes.cli", "purge"], capture_output=True, text=True,
                         env={**env, "HOSPES_PURGE_BATCH": "0"}, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith("error: HOSPES_PURGE_BATCH")


# -- a replayed code, before and after its row may go ------------------------------------------------


def _set_code_expiry(db: Any, code: str, at: datetime) -> None:
    with db.transaction() as s:
        s.execute(update(m.AuthorizationCode).where(m.AuthorizationCode.code_hash == digest(code))
                  .values(expires_at=at))


def test_a_used_code_is_kept_for_its_grace_so_a_replay_still_revokes(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential(scope="openid offline_access")
    code = get_code(client, acct, cred, scope="openid offline_access")
    body = exchange(client, cred, code).json()
    # The code has expired (but lately): the purge leaves it, and its replay revokes what it issued.
    _set_code_expiry(db, code, now() - LATELY)
    purge(db, grace=GRACE, batch=10)
    assert_error(exchange(client, cred, code), "invalid_grant")
    assert userinfo_status(client, body["access_token"]) == 401
    assert_error(refresh(client, cred, body["refresh_token"]), "invalid_grant")


def test_a_code_past_its_grace_is_gone_and_its_replay_is_only_refused(client, db, make_account, make_credential):
    acct = make_account()
    cred = make_credential(scope="openid offline_access")
    code = get_code(client, acct, cred, scope="openid offline_access")
    body = exchange(client, cred, code).json()
    _set_code_expiry(db, code, now() - LONG_AGO)
    assert purge(db, grace=GRACE, batch=10)["authorization_codes"] == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.AuthorizationCode)) == 0
    # The row is gone: the replay is refused like any unknown code, and the grant (still holding live
    # tokens) is not touched.
    assert_error(exchange(client, cred, code), "invalid_grant")
    assert userinfo_status(client, body["access_token"]) == 200
    assert refresh(client, cred, body["refresh_token"]).status_code == 200


# -- the server's own purge ------------------------------------------------------------------------


def test_the_server_purges_by_itself(database_url, tmp_path, db, filled):
    # Two workers purging at once, in batches of 2: every dead row goes, no live one, no error.
    srv = start_server(database_url, tmp_path, {"HOSPES_PURGE_INTERVAL": "0.5", "HOSPES_PURGE_GRACE": "3600",
                                                "HOSPES_PURGE_BATCH": "2"}, "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        while True:
            with db.read() as s:
                left = {t: _ids(s, t) for t in TABLES}
            if not any(filled.dead[t] & left[t] for t in TABLES):
                break
            assert time.monotonic() < deadline, {t: filled.dead[t] & left[t] for t in TABLES}
            time.sleep(0.2)
        for table in TABLES:
            assert filled.live[table] <= left[table], table
        assert "Purge failed" not in srv.log.read_text()
    finally:
        stop_server(srv)
